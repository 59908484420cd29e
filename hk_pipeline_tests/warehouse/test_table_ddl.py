"""Each table's columns are declared once, in sql/ddl (hk_pipeline/tables.py), with the parts
the tables fed by a source share filled in; the models and quarantine tables follow from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hk_pipeline.paths import DDL_DIR
from hk_pipeline.schemas import MODELS
from hk_pipeline.tables import source_tables, table_columns, table_ddl_texts
from hk_pipeline.warehouse.ddl import ddl_texts

pytestmark = pytest.mark.fast


def test_every_table_fed_by_a_source_gets_the_lineage_columns_and_comments() -> None:
    for table in source_tables():
        columns = {c.name: c for c in table_columns(table)}
        for name, data_type in [
            ("source", "VARCHAR"),
            ("run_id", "VARCHAR"),
            ("loaded_at", "TIMESTAMP WITH TIME ZONE"),
        ]:
            assert columns[name].data_type == data_type, (table, name)
            assert not columns[name].nullable, (table, name)
            assert columns[name].comment, (table, name)
        if "trade_date" in columns:
            assert "partition" in columns["trade_date"].comment, table
            assert "midday" in columns["snapshot"].comment, table


def test_a_tables_own_comment_on_a_shared_column_wins() -> None:
    sql = table_ddl_texts()["raw.index_contributions"]
    assert sql.count("COMMENT ON COLUMN raw.index_contributions.source IS") == 1
    source = {c.name: c for c in table_columns("raw.index_contributions")}["source"]
    assert source.comment == "Which source produced the row: live:<provider>."


def test_filled_column_lines_keep_the_tables_alignment() -> None:
    sql = table_ddl_texts()["raw.quotes"]
    assert "    as_of      TIMESTAMPTZ,\n    source     VARCHAR NOT NULL," in sql
    assert "    loaded_at  TIMESTAMPTZ NOT NULL,\n    trading_status VARCHAR\n" in sql
    assert "{{" not in "".join(ddl_texts().values())


def test_the_validated_tables_are_those_fed_by_a_source_each_with_a_quarantine() -> None:
    assert set(MODELS) == set(source_tables())
    texts = ddl_texts()
    for table in source_tables():
        assert f"quarantine.{table.split('.', 1)[1]}" in texts, table
    assert "raw.landing_loads" not in source_tables()  # written by the pipeline itself


def test_an_unknown_part_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "shared_columns.sql.part").write_bytes(
        (DDL_DIR / "shared_columns.sql.part").read_bytes()
    )
    (tmp_path / "raw.t.sql").write_text(
        "CREATE TABLE IF NOT EXISTS raw.t (\n    a INTEGER,\n    {{lineage colums}}\n);\n"
    )
    with pytest.raises(ValueError, match=r"lineage colums.*known parts: lineage columns"):
        table_ddl_texts(tmp_path)
