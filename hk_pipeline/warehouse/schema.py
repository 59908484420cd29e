"""Bringing a lake up to the project's schema: tables, partitioning, mart tables and views.

Applied by every writer when it opens the lake, skipped when ``meta.schema_fingerprint``
already holds the fingerprint of the current SQL files (one catalog query instead of ~100
statements). Several writers may open a new lake at once: the set-up is one transaction,
retried like any write, so the loser finds the winner's fingerprint and does nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb

from hk_pipeline.faults import fault_point
from hk_pipeline.marts.runner import (
    MART_NAMES,
    add_new_mart_columns,
    ensure_mart_table,
    mart_sql,
)
from hk_pipeline.paths import DDL_DIR
from hk_pipeline.warehouse.ddl import apply_ddl, ddl_texts
from hk_pipeline.warehouse.rules import create_rules, rule_files, rule_sql
from hk_pipeline.warehouse.tx import WRITE_TOKENS_TABLE, write_transaction
from hk_pipeline.warehouse.views import create_views, view_files, view_sql

META_SCHEMA = "meta"
FINGERPRINT_TABLE = f"{META_SCHEMA}.schema_fingerprint"
PARTITION_COLUMNS = ("trade_date", "snapshot")
_SCHEMA_VERSION = "lake-2"
"""Bump when the set-up itself changes (not the SQL files, which are fingerprinted)."""


def fingerprint() -> str:
    """Of every DDL, rule, mart and view SQL text, and of this set-up's version."""
    texts = [_SCHEMA_VERSION]
    texts += list(ddl_texts(DDL_DIR).values())
    texts += [rule_sql(p) for p in rule_files()]
    texts += [mart_sql(name) for name in MART_NAMES]
    texts += [view_sql(p) for p in view_files()]
    return hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()


def applied_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(f"SELECT fingerprint FROM {FINGERPRINT_TABLE}").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def partitioned_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables (not views) of the lake with both partition columns: raw, quarantine, mart."""
    rows = con.execute(
        """
        SELECT c.schema_name || '.' || c.table_name FROM duckdb_columns() AS c
        JOIN duckdb_tables() AS t
            ON t.database_name = c.database_name AND t.schema_name = c.schema_name
            AND t.table_name = c.table_name
        WHERE c.database_name = current_database()
          AND c.column_name IN ('trade_date', 'snapshot')
        GROUP BY c.schema_name, c.table_name HAVING count(*) = 2 ORDER BY 1
        """
    ).fetchall()
    return [r[0] for r in rows]


def _apply(con: duckdb.DuckDBPyConnection, target: str) -> None:
    apply_ddl(con)
    create_rules(con)  # the mart tables are planned from SQL that calls them, as are views
    for name in MART_NAMES:
        add_new_mart_columns(con, name, date(2025, 11, 21), "midday")
        ensure_mart_table(con, name, date(2025, 11, 21), "midday")
    # No data file, compaction included, ever mixes two (trade_date, snapshot) partitions:
    # replacing one deletes whole files, and an analyst's filter on a day skips the others.
    for table in partitioned_tables(con):
        con.execute(f"ALTER TABLE {table} SET PARTITIONED BY ({', '.join(PARTITION_COLUMNS)})")
    create_views(con)
    _write_tokens(con)
    fault_point("ddl.mid_transaction")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
    con.execute(f"CREATE OR REPLACE TABLE {FINGERPRINT_TABLE} (fingerprint VARCHAR)")
    con.execute(f"INSERT INTO {FINGERPRINT_TABLE} VALUES (?)", [target])
    con.execute(
        f"COMMENT ON TABLE {FINGERPRINT_TABLE} IS 'Which version of the project''s SQL files"
        " set this lake up; a writer with other files brings the lake up to date first.'"
    )
    con.execute(
        f"COMMENT ON COLUMN {FINGERPRINT_TABLE}.fingerprint IS 'sha256 of the DDL, mart and"
        " view SQL texts.'"
    )


def _write_tokens(con: duckdb.DuckDBPyConnection) -> None:
    """``meta.write_tokens``: a row per table that runs write (see ``tx.WRITE_TOKENS_TABLE``)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {WRITE_TOKENS_TABLE} AS
        SELECT schema_name || '.' || table_name AS table_name, 0::BIGINT AS writes
        FROM duckdb_tables()
        WHERE database_name = current_database()
          AND schema_name IN ('ref', 'raw', 'mart', 'quarantine')
        """
    )
    con.execute(
        f"COMMENT ON TABLE {WRITE_TOKENS_TABLE} IS 'One row per table runs write; every write"
        " bumps its table''s row, so two writers of one partition always conflict and one"
        " retries.'"
    )
    con.execute(
        f"COMMENT ON COLUMN {WRITE_TOKENS_TABLE}.table_name IS 'The table, schema-qualified.'"
    )
    con.execute(
        f"COMMENT ON COLUMN {WRITE_TOKENS_TABLE}.writes IS 'Writes committed to it since the"
        " lake''s schema was last set up.'"
    )


def ensure_lake_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Create or update every schema, table, partitioning and view; True if anything ran."""
    target = fingerprint()
    if applied_fingerprint(con) == target:
        return False

    def body(c: duckdb.DuckDBPyConnection) -> bool:
        if applied_fingerprint(c) == target:  # another writer did it while we waited
            return False
        _apply(c, target)
        return True

    return write_transaction(con, body, what="the lake's schema")
