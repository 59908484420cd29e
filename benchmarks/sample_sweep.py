"""Sweep the sample market's realism checks over every day of its range and print the findings.

The test suite checks a sample of days (hk_pipeline_tests/sources/test_sample_realism.py);
this runs the same checks (hk_pipeline/sample_market/checks.py) on all of them:

    .venv/bin/python -m benchmarks.sample_sweep               # every day (~1,100: 4-15 min)
    .venv/bin/python -m benchmarks.sample_sweep --every 10    # every tenth day
    .venv/bin/python -m benchmarks.sample_sweep --from 2025-09-01 --to 2025-09-30

It prints, per check, how many days it failed on and the first findings, the widest drift
of index weights between reviews, then the market's turnover against its HKEX-based targets
and the ten most traded shares' share of it; the exit status is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import date

import numpy as np

from hk_pipeline import calendar
from hk_pipeline.sample_market import checks, intraday, turnover
from hk_pipeline.sample_market import source as sample


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=int, default=1, help="check every n-th day (default 1)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, default=None)
    p.add_argument("--to", dest="end", type=date.fromisoformat, default=None)
    p.add_argument("--show", type=int, default=5, help="findings printed per check")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.every < 1:
        raise SystemExit("--every must be 1 or more")
    market = sample.market()
    first = checks.first_partition_day(market)
    days = [
        d
        for d in market.days
        if d >= first
        and (args.start is None or d >= args.start)
        and (args.end is None or d <= args.end)
    ][:: args.every]
    failed_days: dict[str, int] = defaultdict(int)
    findings: dict[str, list[str]] = defaultdict(list)
    figures: dict[date, dict[str, float]] = {}
    started = time.perf_counter()
    for d in days:
        day = intraday.simulate_day(market, d)
        figures[d] = checks.turnover_figures(market, day)
        for name, found in checks.check_day(market, day).items():
            if found:
                failed_days[name] += 1
                findings[name] += found
    took = time.perf_counter() - started
    print(f"sample sweep: {len(days)} days {days[0]} to {days[-1]} in {took:.0f} s")
    for name in checks.CHECKS:
        print(f"  {name}: failed on {failed_days[name]} of {len(days)} days")
        for line in findings[name][: args.show]:
            print(f"    {line}")
    for code, q in market.factors.items():
        tops = [
            float((q[:, k] * np.nan_to_num(market.close[:, k - 1])).max())
            / float((q[:, k] * np.nan_to_num(market.close[:, k - 1])).sum())
            for k in range(2, len(market.days))
            if q[:, k].any()
        ]
        print(
            f"  {code}: heaviest member weight between reviews {min(tops):.2%} to {max(tops):.2%}"
        )
    _print_turnover(figures)
    # failed_days is a defaultdict the report above reads every check from: count, not keys
    return 1 if any(failed_days.values()) else 0


def _print_turnover(figures: dict[date, dict[str, float]]) -> None:
    """The calibrated turnover: against its targets, per year against HKEX's months, and
    the ten most traded shares' share of it."""
    days = sorted(figures)
    close = np.array([figures[d]["close"] for d in days])
    target = np.array([turnover.close_target(d) for d in days])
    ratio = close / target
    print(f"  turnover: close / target {ratio.min():.4f} to {ratio.max():.4f}")
    for snap in ("midday", "close"):
        share = np.array([figures[d][f"{snap}_top10"] for d in days])
        share = share[~np.isnan(share)]
        print(
            f"  turnover: top ten's share at the {snap} {share.min():.1%} to {share.max():.1%},"
            f" mean {share.mean():.1%}"
        )
    full = [d for d in days if not calendar.is_half_day(d) and calendar.session(d).morning_traded]
    for year in sorted({d.year for d in full}):
        in_year = [d for d in full if d.year == year]
        got = np.mean([figures[d]["close"] for d in in_year]) / 1e9
        want = np.mean([turnover.month_equity_target(d) for d in in_year]) / 1e9
        print(
            f"  turnover {year}: {len(in_year)} full days average {got:.1f} bn HKD of equities,"
            f" HKEX's months {want:.1f} bn"
        )


if __name__ == "__main__":
    sys.exit(main())
