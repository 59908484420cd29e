"""HKEX trading days, half days and snapshot times (Asia/Hong_Kong).

Trading days come from exchange_calendars' XHKG, corrected by ``calendar_closures.csv``:
ad-hoc closures (typhoon signal 8, black rainstorm) the library does not know about. Since
2024-09-23 HKEX trades through typhoons, so new closures should be rare.

Before that, a typhoon signal 8 or a black rainstorm in force at 09:00 cancelled the morning
session, and one lowered by noon let trading start in the afternoon (13:00, 13:30 or 14:00 by
when it was lowered). Such days are listed in ``weather_sessions.csv`` with their source; on
them the ``midday`` snapshot has no session (``snapshot_traded`` is False) and the afternoon
starts late. Sources and the list: docs/calendar.md.

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
WEATHER_PATH = Path(__file__).resolve().parent / "weather_sessions.csv"
WEATHER_COLUMNS = (
    "date",
    "morning_session",
    "afternoon_open",
    "afternoon_close",
    "reason",
    "source",
)

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
    # False when weather cancelled the morning: morning_open/morning_close keep the
    # timetable's 09:30-12:00 (the mid-day snapshot is still taken "as of" 12:00), but no
    # trade happened in it
    morning_traded: bool = True

    @property
    def is_half_day(self) -> bool:
        return self.afternoon_open is None

    @property
    def afternoon_minutes(self) -> int:
        """Minutes of continuous trading in the afternoon (0 on a half day)."""
        if self.afternoon_open is None or self.afternoon_close is None:
            return 0
        return int((self.afternoon_close - self.afternoon_open).total_seconds() // 60)


@dataclass(frozen=True)
class WeatherSession:
    """A trading day whose timetable weather changed (typhoon signal 8, black rainstorm)."""

    trade_date: date
    morning_session: bool
    afternoon_open: time
    afternoon_close: time
    reason: str
    source: str


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    # deferred: ~0.4 s every CLI command would pay (docs/architecture.md, deferred imports)
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


def _weather_row(row: dict[str, str], line_no: int) -> WeatherSession:
    where = f"{WEATHER_PATH}:{line_no}"
    missing = [c for c in WEATHER_COLUMNS if not (row.get(c) or "").strip()]
    if missing:
        raise ValueError(
            f"{where}: field(s) {', '.join(missing)} empty; every row needs"
            f" {','.join(WEATHER_COLUMNS)} (the source is the URL the times were checked on)"
        )
    morning = row["morning_session"].strip().lower()
    if morning not in ("true", "false"):
        raise ValueError(f"{where}: morning_session must be true or false, got {morning!r}")
    try:
        return WeatherSession(
            trade_date=date.fromisoformat(row["date"].strip()),
            morning_session=morning == "true",
            afternoon_open=time.fromisoformat(row["afternoon_open"].strip()),
            afternoon_close=time.fromisoformat(row["afternoon_close"].strip()),
            reason=row["reason"].strip(),
            source=row["source"].strip(),
        )
    except ValueError as exc:
        raise ValueError(
            f"{where}: expected an ISO date and HH:MM times, got {row!r} ({exc})"
        ) from exc


@lru_cache(maxsize=1)
def weather_sessions() -> dict[date, WeatherSession]:
    """Trading days whose sessions weather shortened, from weather_sessions.csv."""
    out: dict[date, WeatherSession] = {}
    with WEATHER_PATH.open(newline="", encoding="utf-8") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            ws = _weather_row(row, line_no)
            if ws.trade_date in closures():
                raise ValueError(
                    f"{WEATHER_PATH}:{line_no}: {ws.trade_date} is also a full-day closure in"
                    f" {CLOSURES_PATH.name}; keep it in one file only"
                )
            out[ws.trade_date] = ws
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
    weather = weather_sessions().get(d)
    pm_open, pm_close = AFTERNOON_OPEN, AFTERNOON_CLOSE
    if weather is not None and not half:
        pm_open, pm_close = weather.afternoon_open, weather.afternoon_close
    last_close = at(MORNING_CLOSE) if half else at(pm_close)
    return Session(
        trade_date=d,
        morning_open=at(MORNING_OPEN),
        morning_close=at(MORNING_CLOSE),
        afternoon_open=None if half else at(pm_open),
        afternoon_close=None if half else at(pm_close),
        auction_end=last_close + timedelta(minutes=AUCTION_MINUTES),
        morning_traded=weather is None or weather.morning_session,
    )


def snapshot_traded(d: date, snapshot: str) -> bool:
    """True if any trading happened in ``snapshot``'s part of trading day ``d``.

    False only for the ``midday`` snapshot of a day whose morning weather cancelled: that
    partition exists (Dagster's date x snapshot grid cannot drop one cell) and holds no
    quotes, bars or index levels.
    """
    if snapshot not in SNAPSHOTS:
        raise ValueError(
            f"unknown snapshot {snapshot!r} for {d}: expected one of {', '.join(SNAPSHOTS)}"
        )
    if not is_trading_day(d):
        return False
    return snapshot == "close" or session(d).morning_traded


def no_session_reason(d: date, snapshot: str) -> str | None:
    """Why ``d``'s ``snapshot`` has no trading (for marts, reports), or None if it traded."""
    if snapshot_traded(d, snapshot):
        return None
    weather = weather_sessions().get(d)
    if weather is not None:
        return f"morning session cancelled by weather ({weather.reason})"
    reason = closures().get(d)
    return f"no session: {reason}" if reason else "no session: not an HKEX trading day"


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
