"""Measure the baseline (benchmarks/baseline_defs.py): one run per partition, Dagster defaults.

Each partition is one `dagster asset materialize` run with the default multiprocess executor,
launched one after another (a backfill of the same runs would contend for DuckDB's single
writer, which DuckDBPandasIOManager opens read-write). The per-day cost measured on a short
range is extrapolated linearly to a year, and the table says so.

The runs use the baseline's own environment (benchmarks/baseline_env.py,
benchmarks/baseline-requirements.lock), created on first use: its dagster-duckdb-pandas and
dagster-pandera pin their own duckdb and pandas, independent of the product's.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from benchmarks import baseline_env
from benchmarks.run import Measure, fresh_env, timed


def measure(
    days: list[date], repeat: int = 1, snapshots: tuple[str, ...] = ("midday", "close")
) -> Measure:
    m = Measure(
        f"baseline {len(days)} d" + ("" if len(snapshots) == 2 else f" ({snapshots[0]} only)"),
        days=len(days) * len(snapshots) / 2,
        note="docs pattern: run per partition, multiprocess, DuckDBPandasIOManager",
    )
    python = baseline_env.ensure()
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="hkbase-") as tmp:
            home = Path(tmp)
            env = baseline_env.run_env(fresh_env(home))
            env["DAGSTER_HOME"] = str(home)
            env["BASELINE_DUCKDB"] = str(home / "baseline.duckdb")
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            total, peak = 0.0, 0.0
            for d in days:
                for snapshot in snapshots:
                    cmd = [
                        str(python.parent / "dagster"), "asset", "materialize",
                        "-m", "benchmarks.baseline_defs", "--select", "*",
                        "--partition", f"{d.isoformat()}|{snapshot}",
                    ]  # fmt: skip
                    seconds, rss, _ = timed(cmd, env)
                    total += seconds
                    peak = max(peak, rss)
            m.seconds.append(total)
            m.rss_mb.append(peak)
    return m
