"""Validation alone: ``validate_frame`` over one sample day's frames, clean and with bad rows.

    .venv/bin/python -m benchmarks.validation                 # 2025-11-21 close, 7 repeats
    .venv/bin/python -m benchmarks.validation --repeat 15 --date 2025-11-20

Prints, per table, the rows and the median milliseconds of validating the frame as the source
returns it (pandas) and the same frame with three rows made bad (a negative price, a price off
the tick table, a duplicated key), which sends it through pandera's failure reporting. No lake,
no Dagster: this is the cost the ingest assets pay per partition for validation. The machine
may be shared: the CPU time (all threads) is steadier than the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import pandas as pd

from hk_pipeline.sample_market.source import SampleSource
from hk_pipeline.schemas.validate import validate_frame


def _spoil(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with three bad rows: a negative price, a price off the tick table (where the
    table has prices) and a copy of the first row (a duplicated key)."""
    out = frame.copy()
    price = next((c for c in ("last", "close", "level") if c in out.columns), None)
    if price is not None:
        out[price] = out[price].astype("float64")
        out.loc[1, price] = -1.0
        out.loc[2, price] = 10.0001
    return pd.concat([out, out.iloc[[0]]], ignore_index=True)


def _timed_ms(table: str, frame: pd.DataFrame, repeat: int) -> tuple[float, float, int]:
    """(median wall ms, median CPU ms of all threads, rows rejected) of validating frame."""
    validate_frame(table, frame)  # warm: imports, schema and caches
    wall, cpu = [], []
    rejected = 0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        outcome = validate_frame(table, frame)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        rejected = outcome.n_rejected
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000, rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, default=date(2025, 11, 21))
    parser.add_argument("--snapshot", default="close")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    source = SampleSource()
    d, snap = args.date, args.snapshot
    frames = {
        "raw.quotes": source.quotes(d, snap),
        "raw.index_levels": source.index_levels(d, snap),
        "raw.intraday_bars": source.intraday_bars(d, snap),
        "ref.securities": source.securities(d),
        "ref.index_constituents": source.index_constituents(d),
    }
    print(f"validate_frame, {d} {snap}, median of {args.repeat}: wall ms (CPU ms, all threads)")
    print(f"{'table':<24}{'rows':>9}{'clean':>18}{'3 bad':>18}{'rejected':>10}")
    totals = [0.0, 0.0, 0.0, 0.0]
    for table, frame in frames.items():
        clean, clean_cpu, _ = _timed_ms(table, frame, args.repeat)
        bad, bad_cpu, rejected = _timed_ms(table, _spoil(frame), args.repeat)
        for i, v in enumerate((clean, clean_cpu, bad, bad_cpu)):
            totals[i] += v
        print(
            f"{table:<24}{len(frame):>9,}{clean:>10.1f} ({clean_cpu:>5.1f})"
            f"{bad:>10.1f} ({bad_cpu:>5.1f}){rejected:>10}"
        )
    c, cc, b, bc = totals
    print(f"{'total':<24}{'':>9}{c:>10.1f} ({cc:>5.1f}){b:>10.1f} ({bc:>5.1f})")


if __name__ == "__main__":
    main()
