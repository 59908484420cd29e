"""The floor: generate the same sample data and insert it into DuckDB from Arrow.

No Dagster, no validation, no marts: the least work that fills the raw tables. The pipeline's
backfill is measured against this.

    python -m benchmarks.floor --start 2024-11-01 --end 2025-10-31 --db /tmp/floor.duckdb
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from hk_pipeline import calendar
from hk_pipeline.sources.sample import SampleSource
from hk_pipeline.warehouse import connect

TABLES = ("raw.quotes", "raw.index_levels", "raw.intraday_bars")


def insert(con, table: str, frame) -> int:
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    arrow = arrow.append_column("run_id", pa.array(["floor"] * len(arrow)))
    arrow = arrow.append_column(
        "loaded_at", pa.array([datetime.now(UTC)] * len(arrow), pa.timestamp("us", "UTC"))
    )
    con.register("_floor", arrow)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _floor")
    finally:
        con.unregister("_floor")
    return len(arrow)


def run(start: date, end: date, db: Path, snapshots: tuple[str, ...]) -> int:
    """Rows inserted for every trading day in [start, end] and each snapshot."""
    source = SampleSource()
    con = connect(db)
    rows = 0
    for d in calendar.trading_days(start, end):
        for snapshot in snapshots:
            rows += insert(con, "raw.quotes", source.quotes(d, snapshot))
            rows += insert(con, "raw.index_levels", source.index_levels(d, snapshot))
            rows += insert(con, "raw.intraday_bars", source.intraday_bars(d, snapshot))
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--snapshot", choices=calendar.SNAPSHOTS)
    args = parser.parse_args()
    snapshots = (args.snapshot,) if args.snapshot else calendar.SNAPSHOTS
    t0 = time.perf_counter()
    rows = run(args.start, args.end, args.db, snapshots)
    print(f"rows={rows} seconds={time.perf_counter() - t0:.3f}")


if __name__ == "__main__":
    main()
