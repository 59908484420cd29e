"""Weather sessions: a morning cancelled by typhoon or black rainstorm before HKEX's Severe
Weather Trading (2024-09-23) has no mid-day session, and its afternoon starts late.

2023-10-09 (typhoon Koinu): morning cancelled, trading from 14:00. The mid-day partition
holds nothing, the close holds the afternoon's 14:00-15:59 bars and the 16:00 auction, the
marts of the mid-day are empty and its review says why instead of refusing.
"""

from __future__ import annotations

import csv
from datetime import date, time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.report.markdown import render_review
from hk_pipeline.sample_market.source import SampleSource
from hk_pipeline.sources.landing import session_traded

KOINU = date(2023, 10, 9)
# whole days closed by weather in the partitions' range (XHKG or calendar_closures.csv)
CLOSED = (date(2023, 7, 17), date(2023, 9, 1), date(2023, 9, 8), date(2024, 9, 6))
YAHOO_CSV = Path(__file__).parents[1] / "fixtures" / "reference" / "hsi_daily_yahoo.csv"


@pytest.fixture(scope="module")
def src() -> SampleSource:
    return SampleSource()


def test_koinu_session_times() -> None:
    s = calendar.session(KOINU)
    assert not s.morning_traded
    assert (s.afternoon_open.time(), s.afternoon_close.time()) == (time(14), time(16))
    assert s.afternoon_minutes == 120
    assert s.auction_end.time() == time(16, 10)
    assert calendar.snapshot_traded(KOINU, "close")
    assert not calendar.snapshot_traded(KOINU, "midday")
    assert "Koinu" in (calendar.no_session_reason(KOINU, "midday") or "")
    # an ordinary day around it keeps the timetable
    normal = calendar.session(date(2023, 10, 10))
    assert normal.morning_traded and normal.afternoon_minutes == 180
    assert calendar.snapshot_traded(date(2023, 10, 10), "midday")


def test_weather_closures_are_not_trading_days() -> None:
    for d in CLOSED:
        assert not calendar.is_trading_day(d), d


def test_every_weather_session_names_its_source() -> None:
    with calendar.WEATHER_PATH.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["date"] for r in rows] == [d.isoformat() for d in calendar.weather_sessions()]
    assert {date.fromisoformat(r["date"]) for r in rows} >= {KOINU}
    for r in rows:
        assert r["source"].startswith("https://"), r
        # only days before Severe Weather Trading can have a weather-shortened session
        assert date.fromisoformat(r["date"]) < date(2024, 9, 23)


def test_malformed_weather_row_names_file_line_and_field(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "weather_sessions.csv"
    bad.write_text(
        ",".join(calendar.WEATHER_COLUMNS) + "\n2023-10-09,maybe,14:00,16:00,x,https://e\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(calendar, "WEATHER_PATH", bad)
    calendar.weather_sessions.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"weather_sessions\.csv:2: morning_session"):
            calendar.weather_sessions()
    finally:
        monkeypatch.undo()
        calendar.weather_sessions.cache_clear()


def test_landing_accepts_empty_midday_files_only_for_a_cancelled_morning() -> None:
    assert not session_traded(KOINU, "midday")
    assert session_traded(KOINU, "close")
    assert session_traded(KOINU)
    assert session_traded(date(2023, 10, 10), "midday")


def test_sample_has_no_midday_on_a_cancelled_morning(src: SampleSource) -> None:
    assert len(src.quotes(KOINU, "midday")) == 0
    assert len(src.intraday_bars(KOINU, "midday")) == 0
    levels = src.index_levels(KOINU, "midday")
    assert len(levels) == 0 and "last" in levels.columns


def test_sample_close_holds_the_afternoon_only(src: SampleSource) -> None:
    bars = src.intraday_bars(KOINU, "close")
    local = pd.to_datetime(bars["ts"]).dt.tz_convert(calendar.TZ)
    assert local.min().time() == time(14, 0)
    assert local.max().time() == time(16, 0)  # the closing-auction bar
    assert local.dt.time.nunique() == 121  # 14:00-15:59 and the auction
    quotes = src.quotes(KOINU, "close").set_index("symbol")
    shares = bars[~bars["symbol"].isin(["HSI", "HSCEI", "HSTECH"])]
    assert int(quotes["volume"].sum()) == int(shares["volume"].sum())
    assert quotes["turnover"].sum() == pytest.approx(shares["turnover"].sum())
    first = shares.sort_values("ts").groupby("symbol")["open"].first()
    assert (quotes.loc[first.index, "open"] == first).all()
    # the real close stays exact
    with YAHOO_CSV.open(encoding="utf-8") as fh:
        real = {r["Price"]: r["Close"] for r in csv.DictReader(fh)}
    hsi = src.index_levels(KOINU, "close").set_index("index_code").loc["HSI"]
    assert hsi["last"] == pytest.approx(round(float(real[KOINU.isoformat()]), 2))


def test_review_of_a_cancelled_morning_says_so() -> None:
    text = render_review(duckdb.connect(), KOINU, "midday")
    assert "No session" in text
    assert "cancelled by weather" in text
    assert "Trading started at 14:00 HKT" in text


# --- suspensions (sample_market/suspensions.py) ------------------------------------------------


def test_sample_suspends_dozens_of_shares_some_for_months(src: SampleSource) -> None:
    import numpy as np

    from hk_pipeline.sample_market import daily, suspensions

    days = daily.sample_days()
    rng = np.random.default_rng(15)
    picked = [date(2025, 11, 21), *rng.choice(np.array(days, dtype=object), 20, replace=False)]
    for d in picked:
        if d > date(2025, 11, 21):
            continue
        q = src.quotes(d, "close")
        off = q["trading_status"].eq("suspended").fillna(False)
        assert 40 <= off.sum() <= 140, (d, off.sum())  # HKEX: ~95 for 3 months+, Aug 2023
        untraded = q.loc[off]
        assert untraded["last"].isna().all() and (untraded["volume"] == 0).all(), d
        assert (untraded["turnover"] == 0).all(), d
    # pure in (symbol, date): one day alone equals that day's column of the range
    sym = src._market().symbols
    whole = suspensions.suspended_draws(sym, days[:200])
    assert (suspensions.suspended_draws(sym, [days[150]])[:, 0] == whole[:, 150]).all()
    assert (whole.sum(axis=1) >= 120).any()  # some suspended for months of trading days


def test_recap_breadth_holds_with_suspended_shares_among_unchanged(src: SampleSource) -> None:
    q = src.quotes(date(2025, 11, 21), "midday")
    up, down = (q["last"] > q["prev_close"]).sum(), (q["last"] < q["prev_close"]).sum()
    off = q["trading_status"].eq("suspended").fillna(False)
    assert (len(q), up, down, len(q) - up - down) == (2726, 233, 1592, 901)
    assert off.sum() > 40 and q.loc[off, "last"].isna().all()
