"""DuckDB warehouse: connection handling, DDL, idempotent partition writes, catalog helpers."""

from hk_pipeline.warehouse.catalog import list_tables, table_columns, table_comment
from hk_pipeline.warehouse.connection import connect, ensure_schema
from hk_pipeline.warehouse.writes import quarantine_table_for, replace_partition, upsert_rows

__all__ = [
    "connect",
    "ensure_schema",
    "list_tables",
    "quarantine_table_for",
    "replace_partition",
    "table_columns",
    "table_comment",
    "upsert_rows",
]
