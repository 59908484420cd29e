"""A source's frame for a table has the table's columns as sql/ddl declares them, in their
order, but the ones the writer fills: tables.source_columns derives that list, which the
sources use instead of lists of their own."""

from __future__ import annotations

import pytest

from hk_pipeline.tables import WRITER_COLUMNS, source_columns, source_tables, table_columns

pytestmark = pytest.mark.fast


def test_a_source_frame_has_every_column_but_the_writers_in_ddl_order() -> None:
    for table in source_tables():
        columns = source_columns(table)
        assert "source" in columns, table
        assert not set(WRITER_COLUMNS) & set(columns), table
        declared = [c.name for c in table_columns(table)]
        assert columns == [c for c in declared if c in columns], table
        assert len(columns) == len(declared) - len(WRITER_COLUMNS), table


def test_a_column_declared_after_the_lineage_keeps_its_place() -> None:
    # raw.quotes declares trading_status after the lineage columns: the frame ends with it.
    assert source_columns("raw.quotes")[-2:] == ["source", "trading_status"]


def test_an_unknown_table_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"known tables: .*raw\.quotes"):
        source_columns("raw.nope")
