"""The (trading day x snapshot) partitions every asset shares.

Dates are HKEX trading days, never calendar days: weekends are excluded by a cron, holidays
and ad-hoc closures (typhoons) by their dates, both evaluated in Asia/Hong_Kong. A
``DailyPartitionsDefinition`` with exclusions gives one-day windows; a weekday cron as the
partition schedule would make Friday's window end on Monday (see DESIGN.md, Known traps).
"""

from __future__ import annotations

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
