"""Small read-only helpers over DuckDB's catalog (duckdb_tables / duckdb_columns)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

import duckdb

WAREHOUSE_SCHEMAS = ("ref", "raw", "quarantine", "mart")


def split_name(table: str) -> tuple[str, str]:
    """Split ``schema.table``; raise ValueError if the name is not schema-qualified."""
    schema, dot, name = table.partition(".")
    if not dot or not schema or not name or "." in name:
        raise ValueError(f"table name {table!r} must be schema-qualified, e.g. 'raw.quotes'")
    return schema, name


_COLUMNS: WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, list[str]]] = WeakKeyDictionary()


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of ``schema.table`` in table order; empty list if the table does not exist.

    Remembered per connection once found: a lake's catalog query costs ~5 ms and every
    partition write asks twice per table. Columns only change when a writer's connection
    sets the lake's schema up (columns are added, never dropped by the pipeline), so a run's
    connection keeps a valid list; a missing table is asked again every time.
    """
    try:
        cache = _COLUMNS.setdefault(con, {})
    except TypeError:
        cache = {}
    if table in cache:
        return list(cache[table])
    columns = current_columns(con, table)
    if columns:
        cache[table] = columns
    return list(columns)


def current_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of ``schema.table`` in table order as the catalog has them now (never
    remembered: for a caller that adds columns itself); empty if the table does not exist."""
    schema, name = split_name(table)
    rows = con.execute(
        """
        SELECT column_name FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        ORDER BY column_index
        """,
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


def table_comment(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The ``COMMENT ON TABLE`` text of ``schema.table`` (None if unset or no such table)."""
    schema, name = split_name(table)
    rows = con.execute(
        """
        SELECT comment FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        """,
        [schema, name],
    ).fetchall()
    return rows[0][0] if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True if ``schema.table`` is a table of the current database."""
    return bool(table_columns(con, table))


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Schema-qualified tables of the warehouse schemas (ref, raw, quarantine, mart), sorted."""
    placeholders = ", ".join("?" for _ in WAREHOUSE_SCHEMAS)
    rows = con.execute(
        f"""
        SELECT schema_name || '.' || table_name FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name IN ({placeholders})
        ORDER BY 1
        """,
        list(WAREHOUSE_SCHEMAS),
    ).fetchall()
    return [r[0] for r in rows]
