"""The ref and raw tables as ``sql/ddl`` declares them: the one declaration of each table's
columns, types, nullability and meaning, which the schemas, the landing reader and the lake
all derive from.

A table's DDL is ``sql/ddl/<schema>.<table>.sql``, with the parts every table fed by a source
shares (``sql/ddl/shared_columns.sql.part``: the lineage columns source, run_id, loaded_at and
their comments, the partition columns' comments) named by ``{{part}}`` lines and filled in
here. The columns are read back by running the DDL in an in-memory DuckDB and asking
``duckdb_columns()`` (types as DuckDB spells them, comments included), once per process.
Imports only the standard library, duckdb and ``paths``, so any part may import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from hk_pipeline.paths import DDL_DIR

SHARED_PARTS = "shared_columns.sql.part"
LINEAGE_PART = "lineage columns"
"""The part that marks a table fed by a source: validated on its way in, with a quarantine."""
WRITER_COLUMNS = ("run_id", "loaded_at")
"""Lineage columns the writer fills when it writes (a source's frame carries ``source`` only)."""

_PART_HEADER = re.compile(r"^-- \{\{([a-z ]+)\}\}")
_PLACEHOLDER = re.compile(r"^( *)\{\{([a-z ]+)\}\}(,?)$", re.MULTILINE)
_FIRST_COLUMN = re.compile(r"^CREATE TABLE [^(]+\(\n( +)(\w+ +)\S", re.MULTILINE)
_COMMENT_ON = re.compile(r"^COMMENT ON COLUMN \{\{table\}\}\.(\w+) IS ")


@dataclass(frozen=True)
class Column:
    """One column of a table as its DDL declares it."""

    name: str
    data_type: str  # as duckdb_columns() names it: VARCHAR, DOUBLE, TIMESTAMP WITH TIME ZONE...
    nullable: bool
    comment: str


def _parts(ddl_dir: Path) -> dict[str, list[str]]:
    """{part name: its lines} of the shared parts file (comment and blank lines left out)."""
    path = ddl_dir / SHARED_PARTS
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the tables' DDL needs its shared columns; is the project"
            " checkout complete?"
        )
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if header := _PART_HEADER.match(line):
            current = parts.setdefault(header.group(1), [])
        elif line.strip() and not line.startswith("--") and current is not None:
            current.append(line)
    return parts


def _fill(table: str, sql: str, parts: dict[str, list[str]]) -> str:
    """``sql`` with each ``{{part}}`` line replaced by the part, for ``table``."""

    def part_lines(match: re.Match[str]) -> str:
        indent, name, comma = match.groups()
        if name not in parts:
            raise ValueError(
                f"the DDL of {table} names {{{{{name}}}}}, which {SHARED_PARTS} does not"
                f" declare; known parts: {', '.join(sorted(parts))}"
            )
        lines = [line.replace("{{table}}", table) for line in parts[name]]
        if indent:  # column lines, aligned like the table's first column
            first = _FIRST_COLUMN.search(sql)
            if first is None:
                raise ValueError(f"the DDL of {table} places {{{{{name}}}}} outside CREATE TABLE")
            width = len(first.group(2))
            split = (line.split(" ", 1) for line in lines)  # name, type and constraints
            lines = [indent + f"{name} ".ljust(width) + rest for name, rest in split]
            return "\n".join(lines) + comma
        own_comment = re.compile(rf"^COMMENT ON COLUMN {re.escape(table)}\.(\w+) IS ", re.M)
        own = {m.group(1) for m in own_comment.finditer(sql)}
        kept = [line for line, raw in zip(lines, parts[name], strict=True) if not _owned(raw, own)]
        return "\n".join(kept)

    return _PLACEHOLDER.sub(part_lines, sql)


def _owned(part_line: str, own: set[str]) -> bool:
    """Whether the table's DDL comments this shared column itself (its wording wins)."""
    match = _COMMENT_ON.match(part_line)
    return match is not None and match.group(1) in own


def table_ddl_texts(ddl_dir: Path = DDL_DIR) -> dict[str, str]:
    """{table: its DDL, shared parts filled in} for every ``<schema>.<table>.sql``, sorted."""
    files = sorted(ddl_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(
            f"no DDL files (*.sql) in {ddl_dir}; is the project checkout complete?"
        )
    parts = _parts(ddl_dir)
    return {p.stem: _fill(p.stem, p.read_text(encoding="utf-8"), parts) for p in files}


def source_tables(ddl_dir: Path = DDL_DIR) -> tuple[str, ...]:
    """The tables fed by a source (their DDL has the lineage columns), sorted: each is
    validated on its way in and keeps its rejected rows in ``quarantine.<name>``."""
    placeholder = "{{" + LINEAGE_PART + "}}"
    return tuple(
        p.stem
        for p in sorted(ddl_dir.glob("*.sql"))
        if placeholder in p.read_text(encoding="utf-8")
    )


@cache
def _declared(ddl_dir: Path) -> dict[str, tuple[Column, ...]]:
    con = duckdb.connect(":memory:")
    try:
        for table, sql in table_ddl_texts(ddl_dir).items():
            try:
                con.execute(sql)
            except duckdb.Error as exc:
                raise RuntimeError(f"the DDL of {table} ({ddl_dir}) does not run: {exc}") from exc
        rows = con.execute(
            """
            SELECT schema_name || '.' || table_name, column_name, data_type, is_nullable,
                   coalesce(comment, '')
            FROM duckdb_columns()
            WHERE database_name = current_database() AND schema_name IN ('ref', 'raw')
            ORDER BY schema_name, table_name, column_index
            """
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[Column]] = {}
    for table, name, data_type, nullable, comment in rows:
        out.setdefault(table, []).append(Column(name, data_type, nullable, comment))
    return {table: tuple(columns) for table, columns in out.items()}


def table_columns(table: str, ddl_dir: Path = DDL_DIR) -> tuple[Column, ...]:
    """The columns of ``table`` (``raw.quotes``) in their DDL's order."""
    declared = _declared(ddl_dir)
    if table not in declared:
        raise KeyError(
            f"no DDL declares {table!r} in {ddl_dir}; known tables: {', '.join(declared)}"
        )
    return declared[table]


def qualified(name: str, ddl_dir: Path = DDL_DIR) -> str:
    """The schema-qualified table (``raw.quotes``) of a table name (``quotes``)."""
    found = [t for t in _declared(ddl_dir) if t.split(".", 1)[1] == name]
    if len(found) != 1:
        raise KeyError(f"no single ref/raw table named {name!r} in {ddl_dir}: found {found}")
    return found[0]


def source_columns(table: str, ddl_dir: Path = DDL_DIR) -> list[str]:
    """The columns of the frame a source returns for ``table``, in the DDL's order: every
    column of the table but those the writer fills (``WRITER_COLUMNS``).

    Sources shape their frames with it rather than with lists of their own, so the DDL stays
    the one place a table's columns are named and ordered."""
    return [c.name for c in table_columns(table, ddl_dir) if c.name not in WRITER_COLUMNS]
