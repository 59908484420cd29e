"""The (trading day x snapshot) partitions every asset shares.

Dates are HKEX trading days, never calendar days: weekends are excluded by a cron, holidays
and ad-hoc closures (typhoons) by their dates, both evaluated in Asia/Hong_Kong. A
``DailyPartitionsDefinition`` with exclusions gives one-day windows; a weekday cron as the
partition schedule would make Friday's window end on Monday (docs/architecture.md).
"""

from __future__ import annotations

import warnings
from datetime import date, datetime

import dagster as dg

from hk_pipeline import calendar

TIMEZONE = "Asia/Hong_Kong"
DATE_DIM = "date"
SNAPSHOT_DIM = "snapshot"
WEEKEND_CRONS = ("0 0 * * 6", "0 0 * * 0")


def _exclusions() -> list[str | datetime]:
    holidays = calendar.non_trading_weekdays(calendar.START_DATE, calendar.last_calendar_date())
    return [
        *WEEKEND_CRONS,
        *(datetime(d.year, d.month, d.day, tzinfo=calendar.TZ) for d in holidays),
    ]


date_partitions = dg.DailyPartitionsDefinition(
    start_date=calendar.START_DATE.isoformat(),
    timezone=TIMEZONE,
    end_offset=1,  # today's partition exists during the day, so schedules can request it
    exclusions=_exclusions(),
)
snapshot_partitions = dg.StaticPartitionsDefinition(list(calendar.SNAPSHOTS))

snapshot_partitions_def = dg.MultiPartitionsDefinition(
    {DATE_DIM: date_partitions, SNAPSHOT_DIM: snapshot_partitions}
)


def partition_key(d: date, snapshot: str) -> str:
    """``2025-11-21|midday``: the multi-partition key Dagster uses (dimensions sorted by name)."""
    return dg.MultiPartitionKey({DATE_DIM: d.isoformat(), SNAPSHOT_DIM: snapshot})


def parse_partition_key(key: str | dg.MultiPartitionKey) -> tuple[date, str]:
    """(trade_date, snapshot) of a partition key such as ``2025-11-21|midday``."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
        return date.fromisoformat(dims[DATE_DIM]), dims[SNAPSHOT_DIM]
    day, sep, snapshot = str(key).partition("|")
    if not sep or snapshot not in calendar.SNAPSHOTS:
        raise ValueError(f"partition key {key!r} is not of the form YYYY-MM-DD|midday or |close")
    return date.fromisoformat(day), snapshot


# A backfill launched from the UI or the daemon runs up to this many partitions per run. Dagster
# first cuts the selection into one partition range per value of the dimension with fewer
# selected keys (the date on a tie): 2 days x both snapshots is two runs, one per day; 3+ days
# x both snapshots is one range per snapshot, each cut into runs of 40 days; one snapshot over
# N days is one range (hk_pipeline_tests/defs/test_ui_backfill_runs.py launches them as the UI
# does). A backfill of both snapshots therefore never gets below two runs; single_run() would
# not change that, and 40 keeps a failure from costing more than 40 partitions. The assets
# loop over ``context.partition_keys``; one partition is in memory at a time, so the batch
# bounds Dagster's per-run cost, not memory. The CLI backfill launches its own ranged runs.
MAX_PARTITIONS_PER_RUN = 40
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)
# ``backfill_policy`` is marked beta in Dagster 1.13 and warns once per asset at import; the
# pinned version is tested here, so the warning would only bury a run's own output.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)


def run_partitions(context: dg.AssetExecutionContext) -> list[tuple[date, str]]:
    """The (trade_date, snapshot) partitions of this run, date by date, midday before close.

    One for a run of one partition, a range's cartesian product for a ranged run (a range
    from ``D1|midday`` to ``Dn|midday`` is the midday snapshots of D1..Dn). An empty range
    (start after end) raises instead of succeeding with nothing done.
    """
    keys = context.partition_keys
    if not keys:
        raise dg.Failure(
            description=(
                f"run {context.run.run_id} has an empty partition range"
                f" {context.partition_key_range}: the start must not come after the end"
            ),
            allow_retries=False,
        )
    order = {s: i for i, s in enumerate(calendar.SNAPSHOTS)}
    return sorted((parse_partition_key(k) for k in keys), key=lambda p: (p[0], order[p[1]]))


def range_keys(first: date, last: date, snapshot: str | None) -> tuple[str, str]:
    """First and last key of the range of trading days first..last, one snapshot or both."""
    lo, hi = (snapshot, snapshot) if snapshot else (calendar.SNAPSHOTS[0], calendar.SNAPSHOTS[-1])
    return str(partition_key(first, lo)), str(partition_key(last, hi))


def partition_range_tags(first: date, last: date, snapshot: str | None) -> dict[str, str]:
    """Run tags selecting the trading days first..last, one snapshot or both, as one run."""
    start, end = range_keys(first, last, snapshot)
    return {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }
