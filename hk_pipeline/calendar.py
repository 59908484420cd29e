"""HKEX trading days, half days and snapshot times (Asia/Hong_Kong).

Trading days come from exchange_calendars' XHKG, corrected by ``calendar_closures.csv``:
ad-hoc closures (typhoon signal 8, black rainstorm) the library does not know about. Since
2024-09-23 HKEX trades through typhoons, so new closures should be rare.

The calendar object is built lazily and cached: importing this module is cheap.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import exchange_calendars as xcals

TZ = ZoneInfo("Asia/Hong_Kong")
START_DATE = date(2023, 7, 3)
SNAPSHOTS = ("midday", "close")

CLOSURES_PATH = Path(__file__).resolve().parent / "calendar_closures.csv"

MORNING_OPEN = time(9, 30)
MORNING_CLOSE = time(12, 0)
AFTERNOON_OPEN = time(13, 0)
AFTERNOON_CLOSE = time(16, 0)
AUCTION_MINUTES = 10


@dataclass(frozen=True)
class Session:
    """One trading day's session times, tz-aware in Asia/Hong_Kong.

    On a half day there is no afternoon session (``afternoon_open``/``afternoon_close`` are
    None) and the closing auction follows the morning session.
    """

    trade_date: date
    morning_open: datetime
    morning_close: datetime
    afternoon_open: datetime | None
    afternoon_close: datetime | None
    auction_end: datetime

    @property
    def is_half_day(self) -> bool:
        return self.afternoon_open is None


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    import exchange_calendars as xcals

    return xcals.get_calendar("XHKG")


@lru_cache(maxsize=1)
def closures() -> dict[date, str]:
    """Ad-hoc full-day closures from calendar_closures.csv, as {date: reason}."""
    out: dict[date, str] = {}
    with CLOSURES_PATH.open(newline="", encoding="utf-8") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            try:
                d = date.fromisoformat(row["date"].strip())
            except (KeyError, AttributeError, ValueError) as exc:
                raise ValueError(
                    f"{CLOSURES_PATH}:{line_no}: expected columns date,reason with an ISO date,"
                    f" got {row!r}"
                ) from exc
            out[d] = (row.get("reason") or "").strip()
    return out


@lru_cache(maxsize=1)
def _sessions() -> frozenset[date]:
    cal = _calendar()
    days = {ts.date() for ts in cal.sessions}
    return frozenset(days - closures().keys())


@lru_cache(maxsize=1)
def _sorted_sessions() -> tuple[date, ...]:
    return tuple(sorted(_sessions()))


@lru_cache(maxsize=1)
def _half_days() -> frozenset[date]:
    return frozenset(ts.date() for ts in _calendar().early_closes)


def _check_in_range(d: date) -> None:
    cal = _calendar()
    first, last = cal.first_session.date(), cal.last_session.date()
    if not first <= d <= last:
        raise ValueError(
            f"{d} is outside the XHKG calendar ({first} to {last}); upgrade exchange_calendars"
            " to extend it"
        )


def is_trading_day(d: date) -> bool:
    """True if HKEX's securities market holds a session on ``d``."""
    _check_in_range(d)
    return d in _sessions()


def trading_days(start: date, end: date) -> list[date]:
    """Trading days from ``start`` to ``end``, both inclusive, ascending."""
    if end < start:
        return []
    _check_in_range(start)
    _check_in_range(end)
    return [d for d in _sorted_sessions() if start <= d <= end]


def previous_trading_day(d: date) -> date:
    """The last trading day strictly before ``d``."""
    cur = d - timedelta(days=1)
    while not is_trading_day(cur):
        cur -= timedelta(days=1)
    return cur


def next_trading_day(d: date) -> date:
    """The first trading day strictly after ``d``."""
    cur = d + timedelta(days=1)
    while not is_trading_day(cur):
        cur += timedelta(days=1)
    return cur


def _require_trading_day(d: date) -> None:
    if not is_trading_day(d):
        reason = closures().get(d)
        detail = f" ({reason})" if reason else ""
        raise ValueError(f"{d} is not an HKEX trading day{detail}")


def is_half_day(d: date) -> bool:
    """True on an early close (12:00): Christmas Eve, New Year's Eve, Lunar New Year's Eve."""
    return is_trading_day(d) and d in _half_days()


def session(d: date) -> Session:
    """Session times of trading day ``d``; ValueError if ``d`` is not a trading day."""
    _require_trading_day(d)

    def at(t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=TZ)

    half = d in _half_days()
    last_close = at(MORNING_CLOSE) if half else at(AFTERNOON_CLOSE)
    return Session(
        trade_date=d,
        morning_open=at(MORNING_OPEN),
        morning_close=at(MORNING_CLOSE),
        afternoon_open=None if half else at(AFTERNOON_OPEN),
        afternoon_close=None if half else at(AFTERNOON_CLOSE),
        auction_end=last_close + timedelta(minutes=AUCTION_MINUTES),
    )


def snapshot_time(d: date, snapshot: str) -> datetime:
    """The instant a snapshot is taken as of: midday 12:00 HKT, close = end of the auction."""
    if snapshot not in SNAPSHOTS:
        raise ValueError(
            f"unknown snapshot {snapshot!r} for {d}: expected one of {', '.join(SNAPSHOTS)}"
        )
    s = session(d)
    return s.morning_close if snapshot == "midday" else s.auction_end


def non_trading_weekdays(start: date, end: date) -> list[date]:
    """Weekdays in [start, end] without a session: holidays and ad-hoc closures.

    Meant for Dagster partition exclusions (weekends are excluded by the cron already).
    """
    sessions = set(trading_days(start, end))
    out: list[date] = []
    cur = start
    while cur <= end:
        if cur.weekday() < 5 and cur not in sessions:
            out.append(cur)
        cur += timedelta(days=1)
    return out


def last_calendar_date() -> date:
    """The last session XHKG knows; partitions cannot extend past it."""
    return _calendar().last_session.date()
