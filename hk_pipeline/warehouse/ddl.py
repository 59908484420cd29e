"""The DDL of ``sql/ddl``: one file per ref/raw table, applied as written (no lake specifics),
and one template for the quarantine tables.

Each ref/raw table validated on its way in has a ``quarantine.<name>`` table of the same shape
(the rejected rows, as JSON, with the reason): ``sql/ddl/quarantine.sql.template`` with
``{{name}}`` (the table's name without its schema) and ``{{table}}`` (``raw.quotes``) filled
in, once per table of ``QUARANTINED``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hk_pipeline.paths import DDL_DIR

QUARANTINE_TEMPLATE = "quarantine.sql.template"

QUARANTINED: tuple[str, ...] = (
    "ref.securities",
    "ref.index_constituents",
    "raw.quotes",
    "raw.index_levels",
    "raw.intraday_bars",
    "raw.macro_series",
    "raw.index_contributions",
)
"""The tables whose rejected rows are kept in ``quarantine.<name>`` (every validated table)."""


def ddl_texts(ddl_dir: Path = DDL_DIR) -> dict[str, str]:
    """{table: its DDL} for every table of ``sql/ddl``, in the sorted order they are applied:
    the ``<schema>.<table>.sql`` files as written and the quarantine tables from the template.
    """
    files = sorted(ddl_dir.glob("*.sql"))
    template = ddl_dir / QUARANTINE_TEMPLATE
    if not files or not template.is_file():
        raise FileNotFoundError(
            f"no DDL files (*.sql and {QUARANTINE_TEMPLATE}) in {ddl_dir};"
            " is the project checkout complete?"
        )
    texts = {path.stem: path.read_text(encoding="utf-8") for path in files}
    quarantine = template.read_text(encoding="utf-8")
    for table in QUARANTINED:
        name = table.split(".", 1)[1]
        sql = quarantine.replace("{{name}}", name).replace("{{table}}", table)
        texts[f"quarantine.{name}"] = sql
    return dict(sorted(texts.items()))


def apply_ddl(con: duckdb.DuckDBPyConnection, ddl_dir: Path = DDL_DIR) -> None:
    """Run every table's DDL on ``con`` (``IF NOT EXISTS`` plus comments: idempotent)."""
    for table, sql in ddl_texts(ddl_dir).items():
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise RuntimeError(f"applying the DDL of {table} ({ddl_dir}) failed: {exc}") from exc
