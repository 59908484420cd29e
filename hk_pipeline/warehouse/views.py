"""The analyst views of ``sql/views``, created in the lake's ``views`` schema with comments.

Views live in the lake's catalog, so every client that attaches the lake (Python, SQLAlchemy,
the DuckDB CLI, DBeaver) sees them, under whatever name it attaches the lake as.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hk_pipeline.paths import VIEWS_DIR
from hk_pipeline.warehouse.catalog import split_name
from hk_pipeline.warehouse.sql_headers import (
    header_column_docs,
    header_description,
    header_lines,
)

VIEWS_SCHEMA = "views"


def view_files(views_dir: Path = VIEWS_DIR) -> list[Path]:
    """``sql/views/views.<name>.sql``, sorted."""
    return sorted(views_dir.glob(f"{VIEWS_SCHEMA}.*.sql"))


def view_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _comment(con: duckdb.DuckDBPyConnection, target: str, text: str) -> None:
    if text:
        con.execute(f"COMMENT ON {target} IS {_lit(text)}")


def header_sources(sql: str) -> list[str]:
    """Tables named on the header's ``from:`` line; undocumented columns take their comments."""
    for line in header_lines(sql):
        key, sep, rest = line.strip().partition(":")
        if sep and key == "from":
            return [t.strip() for t in rest.split(",") if t.strip()]
    return []


def _column_comments(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    schema, table = split_name(name)
    rows = con.execute(
        """
        SELECT column_name, coalesce(comment, '') FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        ORDER BY column_index
        """,
        [schema, table],
    ).fetchall()
    return dict(rows)


VIEW_COLUMNS_TABLE = "meta.view_columns"
"""DuckLake comments on views but not on a view's columns: their descriptions live here
(one row per view column), where analysts and ``docs/catalogue.md`` read them."""


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """CREATE OR REPLACE every analyst view, its comment and its columns' descriptions.
    Call inside a transaction, after the tables the views read exist."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {VIEWS_SCHEMA}")
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(
        f"CREATE OR REPLACE TABLE {VIEW_COLUMNS_TABLE}"
        " (view_name VARCHAR, column_name VARCHAR, column_index INTEGER, description VARCHAR)"
    )
    con.execute(
        f"COMMENT ON TABLE {VIEW_COLUMNS_TABLE} IS 'Descriptions of the analyst views'' columns"
        " (view_name is schema-qualified, e.g. views.latest_index_moves).'"
    )
    for column, text in (
        ("view_name", "The view, schema-qualified."),
        ("column_name", "A column of the view."),
        ("column_index", "Position of the column in the view, from 0."),
        ("description", "What the column holds, from the view's SQL header or its source."),
    ):
        con.execute(f"COMMENT ON COLUMN {VIEW_COLUMNS_TABLE}.{column} IS {_lit(text)}")
    for path in view_files():
        name, sql = path.stem, view_sql(path)
        try:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS\n{sql}")
        except duckdb.Error as exc:
            raise RuntimeError(f"creating view {name} from {path} failed: {exc}") from exc
        _document_view(con, name, sql)


def _document_view(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    _comment(con, f"VIEW {name}", header_description(sql, name))
    docs = header_column_docs(sql)
    inherited: dict[str, str] = {}
    for source in reversed(header_sources(sql)):  # the first listed source wins
        inherited.update(_column_comments(con, source))
    rows = [
        (name, column, i, docs.get(column) or inherited.get(column, ""))
        for i, column in enumerate(_column_comments(con, name))
    ]
    con.executemany(f"INSERT INTO {VIEW_COLUMNS_TABLE} VALUES (?, ?, ?, ?)", rows)
