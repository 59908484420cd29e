"""docs/catalogue.md is generated from the catalogue's COMMENT ON text and kept up to date."""

from __future__ import annotations

from pathlib import Path

import duckdb

from hk_pipeline.marts.runner import MART_NAMES, mart_schema
from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.warehouse.catalogue_doc import (
    generate,
    header_column_docs,
    reference_catalogue,
)

DOC = PROJECT_DIR / "docs" / "catalogue.md"
REGENERATE = ".venv/bin/python -m hk_pipeline.warehouse.catalogue_doc > docs/catalogue.md"


def test_docs_catalogue_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(), (
        f"docs/catalogue.md is stale: a description changed; regenerate with `{REGENERATE}`"
    )


def test_every_view_and_column_is_described(tmp_path: Path) -> None:
    con = duckdb.connect(str(reference_catalogue(tmp_path)), read_only=True)
    try:
        views = con.execute(
            "SELECT schema_name || '.' || view_name FROM duckdb_views()"
            " WHERE NOT internal AND coalesce(comment, '') = ''"
        ).fetchall()
        columns = con.execute(
            "SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns()"
            " WHERE database_name = current_database() AND coalesce(comment, '') = ''"
        ).fetchall()
        names = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    finally:
        con.close()
    assert not views and not columns, (views, columns)
    assert {"quotes", "index_moves", "latest_index_moves", "publication"} <= names


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
