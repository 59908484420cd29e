"""The trading calendar against the real HSI daily history and known HKEX facts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from hk_pipeline import calendar as cal

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

HSI_CSV = Path(__file__).parent / "fixtures" / "reference" / "hsi_daily_yahoo.csv"


@pytest.fixture(scope="module")
def hsi_dates() -> set[date]:
    # yfinance export: three header rows (Price / Ticker / Date), then one row per session.
    df = pd.read_csv(HSI_CSV, skiprows=3, header=None, usecols=[0], names=["date"])
    return set(pd.to_datetime(df["date"], format="%Y-%m-%d").dt.date)


def test_every_hsi_row_is_a_trading_day(hsi_dates: set[date]) -> None:
    in_range = sorted(d for d in hsi_dates if d >= cal.START_DATE)
    assert in_range, "fixture has no rows from START_DATE on"
    not_sessions = [d for d in in_range if not cal.is_trading_day(d)]
    assert not_sessions == []


def test_every_trading_day_has_an_hsi_row(hsi_dates: set[date]) -> None:
    days = cal.trading_days(cal.START_DATE, max(hsi_dates))
    missing = [d for d in days if d not in hsi_dates]
    assert missing == []


@pytest.mark.parametrize(
    "d",
    [
        date(2025, 12, 25),  # Christmas
        date(2026, 2, 17),  # Lunar New Year
        date(2023, 9, 1),  # typhoon signal 8 (closures file)
        date(2023, 9, 8),  # black rainstorm (closures file)
        date(2025, 11, 22),  # Saturday
        date(2025, 11, 23),  # Sunday
    ],
)
def test_not_trading_days(d: date) -> None:
    assert not cal.is_trading_day(d)


def test_closures_are_excluded_from_ranges_and_listed_as_non_trading() -> None:
    days = cal.trading_days(date(2023, 9, 1), date(2023, 9, 8))
    assert date(2023, 9, 1) not in days and date(2023, 9, 8) not in days
    assert days[0] == date(2023, 9, 4)
    non = cal.non_trading_weekdays(date(2023, 9, 1), date(2023, 9, 30))
    assert date(2023, 9, 1) in non and date(2023, 9, 8) in non
    assert all(d.weekday() < 5 for d in non)


def test_trading_days_inclusive_and_no_weekends() -> None:
    days = cal.trading_days(date(2025, 11, 17), date(2025, 11, 21))
    assert days == [date(2025, 11, 17) + timedelta(days=i) for i in range(5)]
    assert all(d.weekday() < 5 for d in cal.trading_days(cal.START_DATE, date(2025, 12, 31)))


def test_half_day_christmas_eve() -> None:
    d = date(2025, 12, 24)
    assert cal.is_half_day(d)
    s = cal.session(d)
    assert s.afternoon_open is None and s.afternoon_close is None
    assert cal.snapshot_time(d, "close") == datetime(2025, 12, 24, 12, 10, tzinfo=cal.TZ)
    assert cal.snapshot_time(d, "midday") == datetime(2025, 12, 24, 12, 0, tzinfo=cal.TZ)


def test_full_day_session_and_snapshots() -> None:
    d = date(2025, 11, 21)
    assert not cal.is_half_day(d)
    s = cal.session(d)
    assert s.morning_open == datetime(2025, 11, 21, 9, 30, tzinfo=cal.TZ)
    assert s.afternoon_open == datetime(2025, 11, 21, 13, 0, tzinfo=cal.TZ)
    assert s.afternoon_close == datetime(2025, 11, 21, 16, 0, tzinfo=cal.TZ)
    close = cal.snapshot_time(d, "close")
    assert close == datetime(2025, 11, 21, 16, 10, tzinfo=cal.TZ)
    assert close.utcoffset() == timedelta(hours=8)


def test_previous_and_next_trading_day() -> None:
    assert cal.previous_trading_day(date(2025, 11, 24)) == date(2025, 11, 21)
    assert cal.next_trading_day(date(2025, 11, 21)) == date(2025, 11, 24)
    assert cal.next_trading_day(date(2023, 8, 31)) == date(2023, 9, 4)


def test_snapshot_time_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2025-12-25"):
        cal.snapshot_time(date(2025, 12, 25), "close")
    with pytest.raises(ValueError, match="2025-11-21"):
        cal.snapshot_time(date(2025, 11, 21), "open")


def test_last_calendar_date_is_a_session_after_start() -> None:
    last = cal.last_calendar_date()
    assert last > cal.START_DATE
    assert cal.is_trading_day(last)
