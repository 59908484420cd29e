"""The warehouse: one DuckLake (connection, DDL, idempotent partition writes, readers, upkeep)."""

from hk_pipeline.warehouse.catalog import list_tables, table_columns, table_comment
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.writes import quarantine_table_for, replace_partition, upsert_rows

__all__ = [
    "connect",
    "list_tables",
    "quarantine_table_for",
    "replace_partition",
    "table_columns",
    "table_comment",
    "upsert_rows",
]
