"""hk_pipeline benchmark: prints one table of workloads, medians, rows/s, peak RSS and ratios.

    .venv/bin/python -m benchmarks.run            # the full benchmark (a trading year; ~35 minutes)
    .venv/bin/python -m benchmarks.run --quick    # a smoke run for CI (a few days, one repeat)
    .venv/bin/python -m benchmarks.run --quick --baseline-only   # the baseline on one partition

Each workload runs in its own process, so its peak RSS is its own (os.wait4's ru_maxrss) and
a cold start is really cold. The machine is noisy: every figure is the median of --repeat
runs, and ratios are taken between workloads measured in the same invocation.

Every workload writes its own lake in a new home (the embedded default: catalog.sqlite and
lake/ under HK_PIPELINE_HOME; HK_PIPELINE_CATALOG and HK_PIPELINE_DATA_PATH are ignored, so
no two runs share a lake). The analyst views are read the way an analyst reads them
(``open_reader``: the lake, read-only), once as the largest backfill left the lake and once
after ``hk-pipeline upkeep --retention-days 0`` (benchmarks/lake_upkeep.py), whose files
before and after are printed below the table.

The baseline (benchmarks/baseline.py) runs in an environment of its own, built on first use
from benchmarks/baseline-requirements.lock into benchmarks/.venv-baseline (baseline_env.py), so
its integrations never constrain the product's pins.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
YEAR = (date(2024, 11, 1), date(2025, 10, 31))


@dataclass
class Measure:
    name: str
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    rows: int = 0
    days: float = 0
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one child process; raises on failure."""
    wrapped = [str(BIN / "python"), "-m", "benchmarks.rss", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(wrapped, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    rss = float(proc.stderr.rsplit("peak_rss_mib=", 1)[1].split()[0])
    return elapsed, rss, proc.stdout


# A shared catalog or data path would make every run write into the same lake.
SHARED_VARIABLES = (
    "DAGSTER_HOME",
    "HK_PIPELINE_CATALOG",
    "HK_PIPELINE_DATA_PATH",
    "HK_PIPELINE_DAGSTER_POSTGRES_URL",
)


def fresh_env(home: Path) -> dict[str, str]:
    """The environment of a workload: the sample source, everything under ``home``."""
    env = dict(os.environ)
    env["HK_PIPELINE_HOME"] = str(home)
    env["HK_PIPELINE_SOURCE"] = "sample"
    for name in SHARED_VARIABLES:
        env.pop(name, None)
    return env


def run_workload(m: Measure, repeat: int, make_cmd, rows_from_output=None, after=None) -> Measure:
    """Run ``make_cmd(home)`` ``repeat`` times, each in a new home; ``after(home, stdout)``
    measures what the run left before the home is removed."""
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="hkbench-") as tmp:
            home = Path(tmp)
            cmd = make_cmd(home)
            seconds, rss, out = timed(cmd, fresh_env(home))
            m.seconds.append(seconds)
            m.rss_mb.append(rss)
            if rows_from_output:
                m.rows = rows_from_output(out, home)
            if after:
                after(home, out)
    return m


def floor(start: date, end: date, days: int, repeat: int) -> Measure:
    m = Measure(
        f"floor {days} d", days=days, note="sample -> Arrow -> the lake, a commit per table"
    )

    def cmd(home: Path) -> list[str]:
        return [
            str(BIN / "python"),
            "-m",
            "benchmarks.floor",
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
            "--home",
            str(home),
        ]

    return run_workload(m, repeat, cmd, lambda out, _h: int(out.split("rows=")[1].split()[0]))


def pipeline(start: date, end: date, days: int, repeat: int, after=None) -> Measure:
    m = Measure(f"pipeline {days} d", days=days, note="hk-pipeline backfill, all assets+checks")

    def cmd(_home: Path) -> list[str]:
        return [
            str(BIN / "hk-pipeline"),
            "backfill",
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
        ]

    return run_workload(m, repeat, cmd, lambda _o, home: raw_rows(home), after)


def view_timer(days: int, label: str = "") -> tuple[dict[str, Measure], object]:
    """Measures of each analyst view, and the ``after`` hook filling them from a run's home."""
    from benchmarks.views import documented_views

    measures = {
        name: Measure(
            f"view {name}, {days} d{label}", note="median of 5 reads, the lake, read-only"
        )
        for name in documented_views()
    }

    def after(home: Path, _out: str) -> None:
        cmd = [str(BIN / "python"), "-m", "benchmarks.views", "--home", str(home)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=fresh_env(home))
        if proc.returncode:
            raise RuntimeError(
                f"benchmarks.views failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        for line in proc.stdout.splitlines():
            fields = dict(f.split("=", 1) for f in line.split())
            m = measures[fields["view"]]
            m.seconds.append(float(fields["median_ms"]) / 1000)
            m.rows = int(fields["rows"])

    return measures, after


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _files_text(f: dict[str, str], side: str) -> str:
    """One side (before, after) of a lake_upkeep line, as a sentence."""

    def n(key: str) -> int:
        return int(f[f"{side}_{key}"])

    text = (
        f"{n('live_files')} live files, {_mib(n('live_bytes'))}"
        f" ({n('tracked_files')} tracked, {_mib(n('tracked_bytes'))})"
    )
    if n("disk_files") >= 0:
        text += f", {n('disk_files')} files on disk under lake/, {_mib(n('disk_bytes'))}"
    if n("catalog_bytes") >= 0:
        text += f", catalog.sqlite {_mib(n('catalog_bytes'))}"
    return text


def upkeep_timer(days: int) -> tuple[Measure, list[str], object]:
    """The upkeep's Measure, its printed lines, and the ``after`` hook running it on a home.

    The upkeep runs in its own process with the run's HK_PIPELINE_HOME, as
    ``hk-pipeline upkeep --retention-days 0`` would (benchmarks/lake_upkeep.py), after the
    run's other measures: it rewrites the lake's files.
    """
    m = Measure(
        f"upkeep after {days} d",
        note="what hk-pipeline upkeep --retention-days 0 runs, whole process",
    )
    lines: list[str] = []

    def after(home: Path, _out: str) -> None:
        cmd = [str(BIN / "python"), "-m", "benchmarks.lake_upkeep", "--retention-days", "0"]
        seconds, rss, out = timed(cmd, fresh_env(home))
        m.seconds.append(seconds)
        m.rss_mb.append(rss)
        f = dict(field.split("=", 1) for field in out.split())
        line = (
            f"lake files after {days}-day backfill: before upkeep: {_files_text(f, 'before')};"
            f" after: {_files_text(f, 'after')}; {f['snapshots_expired']} snapshots expired,"
            f" {f['files_cleaned']} old files removed; upkeep took"
            f" {float(f['upkeep_seconds']):.2f} s ({seconds:.2f} s with the process)"
        )
        lines.append(line)
        print(line, flush=True)

    return m, lines, after


def in_process(repeat: int) -> list[Measure]:
    """One snapshot in-process after imports: the process's first run, then a warm one."""
    first = Measure("one snapshot, in-process, first run", note="after dagster is imported")
    warm = Measure("one snapshot, in-process, warm", note="second snapshot, same process")

    def record(_home: Path, out: str) -> None:
        fields = dict(f.split("=", 1) for f in out.split())
        first.seconds.append(float(fields["first_seconds"]))
        warm.seconds.append(float(fields["warm_seconds"]))

    whole = Measure("in-process workload")
    run_workload(whole, repeat, lambda _h: [str(BIN / "python"), "-m", "benchmarks.in_process"],
                 after=record)  # fmt: skip
    first.rss_mb = warm.rss_mb = whole.rss_mb
    return [first, warm]


def cold_snapshot(repeat: int) -> Measure:
    m = Measure("one snapshot, cold CLI", days=0, note="hk-pipeline run 2025-11-21 midday")

    def cmd(_home: Path) -> list[str]:
        return [str(BIN / "hk-pipeline"), "run", "--date", "2025-11-21", "--snapshot", "midday"]

    return run_workload(m, repeat, cmd, lambda _o, home: raw_rows(home))


def chain(*hooks):
    """One ``after`` hook running ``hooks`` in order on the same home."""

    def after(home: Path, out: str) -> None:
        for hook in hooks:
            hook(home, out)

    return after


def raw_rows(home: Path) -> int:
    from hk_pipeline.config import Settings
    from hk_pipeline.warehouse.readers import open_reader

    con = open_reader(Settings(home=home))
    try:
        return sum(
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("raw.quotes", "raw.index_levels", "raw.intraday_bars")
        )
    finally:
        con.close()


def table(
    measures: list[Measure], floor_by_days: dict[int, float], baseline_per_day: float | None
) -> str:
    lines = [
        "| workload | median s | s/day | rows/s | peak RSS MiB | x floor | baseline / this |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in measures:
        med = m.median
        per_day = f"{med / m.days:.2f}" if m.days else ""
        rps = f"{m.rows / med:,.0f}" if m.rows else ""
        fl = floor_by_days.get(m.days)
        x_floor = f"{med / fl:.2f}" if fl and not m.name.startswith("floor") else ""
        vs_base = (
            f"{baseline_per_day * m.days / med:.1f}"
            if baseline_per_day and m.days and m.name.startswith("pipeline")
            else ""
        )
        rss = f"{max(m.rss_mb):.0f}" if m.rss_mb else ""
        seconds = f"{med:.3f}" if med < 1 else f"{med:.2f}"
        cells = [m.name, seconds, per_day, rps, rss, x_floor, vs_base]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    """CPU model, cores and memory, for the table's caption."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024**2:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown memory"
    return f"{platform.node()}, {model}, {os.cpu_count()} CPUs, {memory}"


def main() -> None:
    parser = argparse.ArgumentParser(description="hk_pipeline benchmark")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 days, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--year-repeat", type=int, help="repeats of the largest range (default: --repeat)"
    )
    parser.add_argument("--baseline-days", type=int, default=10)
    parser.add_argument(
        "--days", type=int, nargs="+", help="range sizes to run (default 5 20 and the year)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the baseline (and its environment)"
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="run only the baseline (--quick: one run)"
    )
    args = parser.parse_args()
    if args.no_baseline and args.baseline_only:
        parser.error("--no-baseline and --baseline-only exclude each other")
    from hk_pipeline import calendar

    repeat = 1 if args.quick else args.repeat
    all_days = calendar.trading_days(*YEAR)
    baseline_python = None
    if not args.no_baseline:
        # Before any measure: a failure to build it stops the run at once, and pip's work does
        # not overlap a workload.
        from benchmarks import baseline_env

        try:
            baseline_python = baseline_env.ensure()
        except baseline_env.BaselineEnvError as e:
            sys.exit(f"error: {e}")
    sizes = [2] if args.quick else sorted(args.days or [5, 20, len(all_days)])
    if args.baseline_only:
        sizes = []
    measures: list[Measure] = []
    floors: dict[int, float] = {}
    views: dict[str, Measure] = {}
    views_kept: dict[str, Measure] = {}
    upkeep_lines: list[str] = []
    upkeep_measure = None
    for n in sizes:
        start, end = all_days[0], all_days[n - 1]
        largest = n == sizes[-1]
        times = (args.year_repeat or repeat) if largest and not args.quick else repeat
        f = floor(start, end, n, times)
        floors[n] = f.median
        measures.append(f)
        after = None
        if largest:
            views, read_views = view_timer(n)
            views_kept, read_views_kept = view_timer(n, ", after upkeep")
            upkeep_measure, upkeep_lines, run_upkeep = upkeep_timer(n)
            after = chain(read_views, run_upkeep, read_views_kept)
        measures.append(pipeline(start, end, n, times, after))
        print(f"... {n} d: floor {f.median:.1f}s, pipeline {measures[-1].median:.1f}s", flush=True)
    if upkeep_measure is not None:
        measures.append(upkeep_measure)
    if not args.baseline_only:
        measures.append(cold_snapshot(repeat))
        measures.extend(in_process(repeat))
    measures.extend(views.values())
    measures.extend(views_kept.values())
    baseline_per_day = None
    if baseline_python:
        from benchmarks import baseline

        if args.quick:
            bm = baseline.measure(all_days[:1], repeat=1, snapshots=("midday",))
        else:
            bm = baseline.measure(all_days[: args.baseline_days], repeat=1)
        measures.append(bm)
        baseline_per_day = bm.median / bm.days
    print(f"hk_pipeline benchmark, {date.today()}, {machine()}, Python {platform.python_version()}")
    if baseline_python:
        from benchmarks.baseline_env import describe

        print(f"baseline in {baseline_python.parent.parent.name}: {describe(baseline_python)}")
    print(table(measures, floors, baseline_per_day))
    for line in upkeep_lines:
        print(line)


if __name__ == "__main__":
    main()
