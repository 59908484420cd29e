"""Opening the warehouse: the lake, set up to the project's schema for writers."""

from __future__ import annotations

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.lake import open_lake
from hk_pipeline.warehouse.schema import ensure_lake_schema


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached as ``lake`` and in use.

    A writer's connection brings the lake's schema up to date first (tables, partitioning,
    views); a read-only one sees the lake as the last commit left it and raises LakeError
    when there is no lake yet.
    """
    con = open_lake(settings, read_only=read_only)
    if read_only:
        return con
    try:
        ensure_lake_schema(con)
    except BaseException:
        con.close()
        raise
    return con
