"""The DDL of ``sql/ddl``: one file per ref/raw table (``hk_pipeline.tables`` fills in the
columns they share), applied as written (no lake specifics), and one template for the
quarantine tables.

Each table fed by a source (``hk_pipeline.tables.source_tables``: every validated table) has a
``quarantine.<name>`` table of the same shape (the rejected rows, as JSON, with the reason):
``sql/ddl/quarantine.sql.template`` with ``{{name}}`` (the table's name without its schema)
and ``{{table}}`` (``raw.quotes``) filled in.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hk_pipeline.paths import DDL_DIR
from hk_pipeline.tables import source_tables, table_ddl_texts

QUARANTINE_TEMPLATE = "quarantine.sql.template"


def ddl_texts(ddl_dir: Path = DDL_DIR) -> dict[str, str]:
    """{table: its DDL} for every table of ``sql/ddl``, in the sorted order they are applied:
    the ``<schema>.<table>.sql`` files and the quarantine tables from the template.
    """
    template = ddl_dir / QUARANTINE_TEMPLATE
    if not template.is_file():
        raise FileNotFoundError(
            f"no {QUARANTINE_TEMPLATE} in {ddl_dir}; is the project checkout complete?"
        )
    texts = table_ddl_texts(ddl_dir)
    quarantine = template.read_text(encoding="utf-8")
    for table in source_tables(ddl_dir):
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
