"""Schedules, in Asia/Hong_Kong time, each launching only its own snapshot on trading days.

- ``midday_schedule`` 12:15 every weekday: requests ``<today>|midday`` on trading days.
- ``close_schedule`` 12:20 and 16:20 every weekday: requests ``<today>|close`` at 12:20 on
  half days (auction ends ~12:10) and at 16:20 on full days (auction ends ~16:10).
Weekends and holidays yield a SkipReason naming why the exchange is shut.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import dagster as dg
import exchange_calendars as xcals
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.defs.jobs import snapshot_job
from hk_pipeline.defs.partitions import TIMEZONE, partition_key

MIDDAY_CRON = "15 12 * * 1-5"
CLOSE_CRONS = ["20 12 * * 1-5", "20 16 * * 1-5"]


@lru_cache(maxsize=1)
def _holiday_names() -> dict[date, str]:

    cal = xcals.get_calendar("XHKG")
    names = cal.regular_holidays.holidays(
        pd.Timestamp(calendar.START_DATE), cal.last_session, return_name=True
    )
    return {ts.date(): str(name) for ts, name in names.items()}


def closed_reason(d: date) -> str:
    """Why HKEX is shut on ``d``: 'a Saturday', 'Christmas', the closure file's reason..."""
    if d.weekday() >= 5:
        return f"a {d:%A}"
    reason = calendar.closures().get(d) or _holiday_names().get(d)
    return reason or "an HKEX holiday"


def _local_date(context: dg.ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time.astimezone(calendar.TZ)


def _request(d: date, snapshot: str) -> dg.RunRequest:
    key = partition_key(d, snapshot)
    return dg.RunRequest(
        run_key=str(key), partition_key=key, tags={"hk_pipeline/snapshot": snapshot}
    )


@dg.schedule(
    name="midday_schedule",
    cron_schedule=MIDDAY_CRON,
    job=snapshot_job,
    execution_timezone=TIMEZONE,
    description="After the morning session (12:00 HKT): the day's midday snapshot.",
)
def midday_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    d = _local_date(context).date()
    if not calendar.is_trading_day(d):
        return dg.SkipReason(f"{d} is not a trading day ({closed_reason(d)}): no midday snapshot")
    return _request(d, "midday")


@dg.schedule(
    name="close_schedule",
    cron_schedule=CLOSE_CRONS,
    job=snapshot_job,
    execution_timezone=TIMEZONE,
    description=(
        "After the closing auction: 16:20 HKT on full days, 12:20 HKT on half days (Christmas"
        " Eve, New Year's Eve, Lunar New Year's Eve)."
    ),
)
def close_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    now = _local_date(context)
    d = now.date()
    if not calendar.is_trading_day(d):
        return dg.SkipReason(f"{d} is not a trading day ({closed_reason(d)}): no close snapshot")
    half = calendar.is_half_day(d)
    if half and now.hour >= 13:
        return dg.SkipReason(f"{d} is a half day: its close was requested at 12:20")
    if not half and now.hour < 13:
        return dg.SkipReason(f"{d} is a full day: its close is requested at 16:20")
    return _request(d, "close")


SCHEDULES = [midday_schedule, close_schedule]
