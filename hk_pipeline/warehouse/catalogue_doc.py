"""The table catalogue: column descriptions from SQL headers, and ``docs/catalogue.md``.

Descriptions live in one place per table: ``COMMENT ON`` in ``sql/ddl`` for ref/raw/quarantine,
the header comment (``-- columns:``) of ``sql/marts`` and ``sql/views`` for marts and views,
the first header line of ``sql/rules`` for the rules (macros).
The lake's set-up copies them into its catalog (``COMMENT ON``); ``render_catalogue`` turns
that catalog into Markdown. Regenerate the checked-in page with::

    .venv/bin/python -m hk_pipeline.warehouse.catalogue_doc > docs/catalogue.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.rules import RULES_SCHEMA, rule_files, rule_sql
from hk_pipeline.warehouse.sql_headers import header_description

SCHEMA_TITLES = {
    "ref": "Reference data (effective-dated)",
    "raw": "Raw snapshots",
    "mart": "Marts: the day's numbers",
    "quarantine": "Quarantine: rows that failed validation",
    "views": "Analyst views",
    "meta": "About this publication",
}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip()


def render_catalogue(con: duckdb.DuckDBPyConnection) -> str:
    """Markdown of every table and view of the lake: description, columns, types.

    Reads only names, types and ``COMMENT ON`` text (no data), so an empty lake renders the
    same page as a full one. The ``meta`` schema (the set-up's bookkeeping) is left out.
    """
    views = _rows(
        con,
        """
        SELECT schema_name, table_name, coalesce(comment, '') FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name <> 'meta'
        UNION ALL
        SELECT schema_name, view_name, coalesce(comment, '') FROM duckdb_views()
        WHERE database_name = current_database() AND NOT internal
        ORDER BY 1, 2
        """,
    )
    columns: dict[tuple[str, str], list[tuple]] = {}
    for schema, table, column, dtype, comment in _rows(
        con,
        """
        SELECT c.schema_name, c.table_name, c.column_name, c.data_type,
               coalesce(c.comment, v.description, '')
        FROM duckdb_columns() AS c
        LEFT JOIN meta.view_columns AS v
            ON v.view_name = c.schema_name || '.' || c.table_name AND v.column_name = c.column_name
        WHERE c.database_name = current_database()
        ORDER BY c.schema_name, c.table_name, c.column_index
        """,
    ):
        columns.setdefault((schema, table), []).append((column, dtype, comment))
    order = list(SCHEMA_TITLES)
    views.sort(key=lambda v: (order.index(v[0]) if v[0] in order else len(order), v[0], v[1]))
    out = [
        "# Table catalogue",
        "",
        "Generated from the lake's catalog (a new, empty lake) by",
        "`python -m hk_pipeline.warehouse.catalogue_doc > docs/catalogue.md`; do not edit by hand.",
        "Descriptions come from `COMMENT ON` in `sql/ddl/` and the header comments of",
        "`sql/marts/`, `sql/views/` and `sql/rules/`. Every name below is queryable as",
        "`schema.name`.",
    ]
    current = None
    for schema, name, comment in views:
        if schema != current:
            out += ["", f"## {SCHEMA_TITLES.get(schema, schema)}"]
            current = schema
        out += ["", f"### `{schema}.{name}`", "", _cell(comment) or "_no description_", ""]
        out += ["| column | type | description |", "|---|---|---|"]
        for column, dtype, col_comment in columns.get((schema, name), []):
            out.append(f"| `{column}` | {dtype} | {_cell(col_comment)} |")
    out += _rules(con)
    return "\n".join(out) + "\n"


def _rules(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The macros of the ``rules`` schema: signature from the catalog, description from the
    header of ``sql/rules/rules.<name>.sql`` (DuckLake keeps no comment on a macro)."""
    described = {p.stem: header_description(rule_sql(p), p.stem) for p in rule_files()}
    rows = _rows(
        con,
        f"""
        SELECT DISTINCT function_name, parameters FROM duckdb_functions()
        WHERE database_name = current_database() AND schema_name = '{RULES_SCHEMA}'
        ORDER BY 1
        """,
    )
    if not rows:
        return []
    out = [
        "",
        "## Rules (macros)",
        "",
        "Shared rules of the marts and views, stored in the lake with them (`sql/rules/`):",
        "call them as `rules.<name>(...)` in any query.",
    ]
    for name, parameters in rows:
        qualified = f"{RULES_SCHEMA}.{name}"
        out += ["", f"### `{qualified}({', '.join(parameters)})`", ""]
        out.append(_cell(described.get(qualified)) or "_no description_")
    return out


def generate() -> str:
    """The catalogue page for the current SQL files, from a new empty lake in a temporary home.

    Its tables, views, types and comments are those of a full run (no rows needed).
    """
    with tempfile.TemporaryDirectory(prefix="hk_catalogue_") as tmp:
        con = connect(Settings(home=Path(tmp)))
        try:
            return render_catalogue(con)
        finally:
            con.close()


if __name__ == "__main__":
    sys.stdout.write(generate())
