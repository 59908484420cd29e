"""``raw.landing_loads``: which landing files, by checksum, a partition's load read.

The landing files stay where they were dropped and are never copied: the checksum recorded
with the load is what proves which bytes became which rows (``raw.landing_loads`` joined to a
table's ``run_id``). Written inside the table write's own transaction (``also=`` of
``replace_partition``/``upsert_rows``), so the record and the rows it describes commit or
roll back together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from hk_pipeline.faults import fault_point

TABLE = "raw.landing_loads"


@dataclass(frozen=True)
class LoadedFile:
    """One file a load read: path relative to the landing folder, checksum, size."""

    path: str
    sha256: str
    size: int


def replace_landing_loads(
    con: duckdb.DuckDBPyConnection,
    files: Iterable[LoadedFile],
    *,
    trade_date: date,
    snapshot: str,
    kind: str,
    run_id: str,
) -> int:
    """Replace the (trade_date, snapshot, kind) record with ``files``; no transaction of its
    own (run it inside the write's). Returns the number of files recorded."""
    rows = sorted({(f.path, f.sha256, int(f.size)) for f in files})
    con.execute(
        f"DELETE FROM {TABLE} WHERE trade_date = ? AND snapshot = ? AND kind = ?",
        [trade_date, snapshot, kind],
    )
    fault_point("landing.loads.deleted")
    now = datetime.now(UTC)
    if rows:
        con.executemany(
            f"""
            INSERT INTO {TABLE} (trade_date, snapshot, kind, path, sha256, size, run_id, loaded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [[trade_date, snapshot, kind, p, h, n, run_id, now] for p, h, n in rows],
        )
    return len(rows)
