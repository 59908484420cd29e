"""The two DuckDB idioms every writer shares: one transaction, and a frame registered by name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd
import pyarrow as pa


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT; ROLLBACK on any exception, then re-raise it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def registered(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame | pa.Table, prefix: str
) -> Iterator[str]:
    """Register ``frame`` as an Arrow view under a unique name; unregister afterwards.

    Explicit registration, never DuckDB's replacement scan: a Python variable whose name
    equals a table name would otherwise be read instead of the table.
    """
    name = f"_hk_{prefix}_{uuid.uuid4().hex}"
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)
