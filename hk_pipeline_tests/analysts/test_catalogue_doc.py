"""docs/catalogue.md is generated from the catalogue's COMMENT ON text and kept up to date."""

from __future__ import annotations

from pathlib import Path

from hk_pipeline.marts.runner import MART_NAMES, mart_schema
from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.warehouse.catalogue_doc import generate
from hk_pipeline.warehouse.sql_headers import header_column_docs
from hk_pipeline_tests.lake_access import write_home

DOC = PROJECT_DIR / "docs" / "catalogue.md"
REGENERATE = ".venv/bin/python -m hk_pipeline.warehouse.catalogue_doc > docs/catalogue.md"


def test_docs_catalogue_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(), (
        f"docs/catalogue.md is stale: a description changed; regenerate with `{REGENERATE}`"
    )


def test_every_table_view_and_column_is_described(tmp_path: Path) -> None:
    con = write_home(tmp_path)
    try:
        undescribed = con.execute(
            """
            SELECT schema_name || '.' || table_name FROM duckdb_tables()
            WHERE database_name = current_database() AND coalesce(comment, '') = ''
            UNION ALL
            SELECT schema_name || '.' || view_name FROM duckdb_views()
            WHERE database_name = current_database() AND NOT internal
              AND coalesce(comment, '') = ''
            """
        ).fetchall()
        columns = con.execute(
            """
            SELECT c.schema_name || '.' || c.table_name || '.' || c.column_name
            FROM duckdb_columns() AS c
            LEFT JOIN meta.view_columns AS v
                ON v.view_name = c.schema_name || '.' || c.table_name
                AND v.column_name = c.column_name
            WHERE c.database_name = current_database()
              AND coalesce(c.comment, v.description, '') = ''
            """
        ).fetchall()
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert not undescribed and not columns, (undescribed, columns)
    assert {"quotes", "index_moves", "view_columns"} <= tables
    assert {"latest_index_moves", "daily_close_history"} <= views


def test_mart_column_schema_from_the_sql_header() -> None:
    for name in MART_NAMES:
        schema = mart_schema(name)
        assert [c for c, _, d in schema if not d] == [], name
    types = {c: t for c, t, _ in mart_schema("index_moves")}
    assert types["trade_date"] == "DATE" and types["level"] == "DOUBLE"


def test_header_parser() -> None:
    sql = (
        "-- x.y: what\n-- columns:\n--   a, b   two things\n--   c      one;  d  another\n"
        "--   e      long\n--          continued\nSELECT 1"
    )
    assert header_column_docs(sql) == {
        "a": "two things",
        "b": "two things",
        "c": "one",
        "d": "another",
        "e": "long continued",
    }
