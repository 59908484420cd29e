"""The table catalogue: column descriptions from SQL headers, and ``docs/catalogue.md``.

Descriptions live in one place per table: ``COMMENT ON`` in ``sql/ddl`` for ref/raw/quarantine,
the header comment (``-- columns:``) of ``sql/marts`` and ``sql/views`` for marts and views.
The lake's set-up copies them into its catalog (``COMMENT ON``); ``render_catalogue`` turns
that catalog into Markdown. Regenerate the checked-in page with::

    .venv/bin/python -m hk_pipeline.warehouse.catalogue_doc > docs/catalogue.md
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import duckdb

_NAMES = r"[a-z_][a-z0-9_]*(?:,\s*[a-z_][a-z0-9_]*)*"
_ENTRY = re.compile(rf"^({_NAMES})\s+(\S.*)$")
# "turnover of advancers, HKD;  down_turnover  of decliners": a second entry on the line
_SPLIT = re.compile(r";\s{2,}(?=[a-z_][a-z0-9_]*\s{2,})")

STANDARD_COLUMNS = {
    "trade_date": "HKEX trading day (Asia/Hong_Kong) of the partition.",
    "snapshot": "Snapshot of the trading day: midday (as of 12:00 HKT) or close (after the"
    " closing auction, 16:10 HKT; 12:10 on a half day).",
    "run_id": "The Dagster run that wrote the row.",
    "loaded_at": "When the row was written to the warehouse.",
}
"""Descriptions of the partition and lineage columns every mart shares; they replace a
header's terse "the partition"."""

SCHEMA_TITLES = {
    "ref": "Reference data (effective-dated)",
    "raw": "Raw snapshots",
    "mart": "Marts: the day's numbers",
    "quarantine": "Quarantine: rows that failed validation",
    "views": "Analyst views",
    "meta": "About this publication",
}


def header_lines(sql: str) -> list[str]:
    """The leading ``--`` comment block of a SQL file, without the ``--``."""
    out = []
    for line in sql.strip().splitlines():
        if not line.startswith("--"):
            break
        out.append(line[2:])
    return out


def header_description(sql: str, name: str) -> str:
    """First header line without its ``<name>:`` prefix (``-- mart.x: what it is``)."""
    lines = header_lines(sql)
    if not lines:
        raise ValueError(f"{name}: the SQL has no header comment (first line: '-- {name}: ...')")
    return lines[0].strip().removeprefix(f"{name}:").strip()


def header_column_docs(sql: str) -> dict[str, str]:
    """Column descriptions from the header's ``columns:`` block.

    Entries are ``name[, name...]  description``; a more deeply indented line continues the
    previous entry; ``;  name  description`` starts another entry on the same line.
    """
    lines = header_lines(sql)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "columns:") + 1
    except StopIteration:
        return {}
    entries: list[list[str]] = []  # [names, description]
    base: int | None = None
    for line in lines[start:]:
        text = line.rstrip()
        if not text.strip():
            break
        indent = len(text) - len(text.lstrip())
        if base is None:
            base = indent
        if indent > base and entries:
            entries[-1][1] += " " + text.strip()
            continue
        for part in _SPLIT.split(text.strip()):
            m = _ENTRY.match(part.strip())
            if m:
                entries.append([m.group(1), m.group(2).strip()])
            elif entries:
                entries[-1][1] += " " + part.strip()
    docs: dict[str, str] = {}
    for names, description in entries:
        for col in (n.strip() for n in names.split(",")):
            docs[col] = description
    return docs


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
        "`sql/marts/` and `sql/views/`. Every name below is queryable as `schema.name`.",
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
    return "\n".join(out) + "\n"


def generate() -> str:
    """The catalogue page for the current SQL files, from a new empty lake in a temporary home.

    Its tables, views, types and comments are those of a full run (no rows needed).
    """
    from hk_pipeline.config import Settings
    from hk_pipeline.warehouse.connection import connect

    with tempfile.TemporaryDirectory(prefix="hk_catalogue_") as tmp:
        con = connect(Settings(home=Path(tmp)))
        try:
            return render_catalogue(con)
        finally:
            con.close()


if __name__ == "__main__":
    sys.stdout.write(generate())
