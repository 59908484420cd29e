"""The floor: the same sample data, as Arrow, written into the same lake.

No Dagster, no validation, no marts, no partition replacement: the least work that fills the
raw tables of a lake like the pipeline's (``connect(Settings(home=...))``: the same catalog,
data path, partitioning and schema). Each (day, snapshot, table) insert is its own
transaction, as the pipeline commits once per partition and table, so the floor pays the
same per-commit cost of the lake (a snapshot in the catalog, a Parquet file per write). The
pipeline's backfill is measured against this.

    python -m benchmarks.floor --start 2024-11-01 --end 2025-10-31 --home /tmp/floor
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from hk_pipeline import calendar
from hk_pipeline.config import Settings
from hk_pipeline.sample_market.source import SampleSource
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.tx import registered, write_transaction

TABLES = ("raw.quotes", "raw.index_levels", "raw.intraday_bars")


def insert(con: duckdb.DuckDBPyConnection, table: str, frame, what: str) -> int:
    """Insert ``frame`` (with run_id and loaded_at added) into ``table``: one commit."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    arrow = arrow.append_column("run_id", pa.array(["floor"] * len(arrow)))
    arrow = arrow.append_column(
        "loaded_at", pa.array([datetime.now(UTC)] * len(arrow), pa.timestamp("us", "UTC"))
    )

    def body(c: duckdb.DuckDBPyConnection) -> None:
        with registered(c, arrow, "floor") as view:
            c.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")

    write_transaction(con, body, what=f"{table} {what}")
    return len(arrow)


def run(start: date, end: date, home: Path, snapshots: tuple[str, ...]) -> int:
    """Rows inserted for every trading day in [start, end] and each snapshot."""
    source = SampleSource()
    con = connect(Settings(home=home))
    rows = 0
    try:
        for d in calendar.trading_days(start, end):
            for snapshot in snapshots:
                what = f"{d}|{snapshot}"
                rows += insert(con, "raw.quotes", source.quotes(d, snapshot), what)
                rows += insert(con, "raw.index_levels", source.index_levels(d, snapshot), what)
                rows += insert(con, "raw.intraday_bars", source.intraday_bars(d, snapshot), what)
    finally:
        con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument(
        "--home", type=Path, required=True, help="the lake's home (catalog.sqlite, lake/)"
    )
    parser.add_argument("--snapshot", choices=calendar.SNAPSHOTS)
    args = parser.parse_args()
    snapshots = (args.snapshot,) if args.snapshot else calendar.SNAPSHOTS
    t0 = time.perf_counter()
    rows = run(args.start, args.end, args.home, snapshots)
    print(f"rows={rows} seconds={time.perf_counter() - t0:.3f}")


if __name__ == "__main__":
    main()
