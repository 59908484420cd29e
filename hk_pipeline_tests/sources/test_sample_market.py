"""The sample market itself (no Dagster): deterministic, anchored on the real HSI closes,
on the tick table, point in time, and a day never needs another day to be generated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.sample_market import intraday
from hk_pipeline.sample_market import source as sample
from hk_pipeline.sample_market.source import SampleSource
from hk_pipeline.ticks import on_tick

YAHOO_CSV = Path(__file__).parents[1] / "fixtures" / "reference" / "hsi_daily_yahoo.csv"
LAST_REAL_DAY = date(2026, 6, 23)
RECAP_DAY = date(2025, 11, 21)
HALF_DAY = date(2025, 12, 24)
INDEX_CODES = ("HSI", "HSCEI", "HSTECH")
TICK_DAYS = [date(2023, 7, 3), date(2024, 3, 5), RECAP_DAY, HALF_DAY]


@pytest.fixture(scope="module")
def src() -> SampleSource:
    return SampleSource()


@pytest.fixture(scope="module")
def market():
    return sample.market()


def _local_times(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts).dt.tz_convert(calendar.TZ).dt.time


def _all_frames(src: SampleSource, d: date) -> dict[str, pd.DataFrame]:
    return {
        "securities": src.securities(d),
        "index_constituents": src.index_constituents(d),
        "quotes_midday": src.quotes(d, "midday"),
        "quotes_close": src.quotes(d, "close"),
        "index_levels_midday": src.index_levels(d, "midday"),
        "index_levels_close": src.index_levels(d, "close"),
        "bars_midday": src.intraday_bars(d, "midday"),
        "bars_close": src.intraday_bars(d, "close"),
        "macro_series": src.macro_series(calendar.snapshot_time(d, "close")),
    }


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    sample.simulated_day.cache_clear()
    yield
    sample.simulated_day.cache_clear()


# --- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("d", [RECAP_DAY, date(2024, 3, 5)])
def test_same_day_same_rows(d: date) -> None:
    first = _all_frames(SampleSource(), d)
    sample.market.cache_clear()
    sample.simulated_day.cache_clear()
    second = _all_frames(SampleSource(), d)
    assert first.keys() == second.keys()
    for name in first:
        assert len(first[name]) > 0, name
        pd.testing.assert_frame_equal(first[name], second[name], check_exact=True, obj=name)


def test_a_2024_day_needs_no_other_day(
    src: SampleSource, fresh_caches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = date(2024, 3, 5)
    simulated: list[date] = []
    real = intraday.simulate_day

    def recording(m, day):
        simulated.append(day)
        return real(m, day)

    monkeypatch.setattr(intraday, "simulate_day", recording)
    sample.market()  # the daily matrices are built once per process, for every day at once
    src.quotes(d, "midday")
    src.quotes(d, "close")
    src.index_levels(d, "close")
    src.intraday_bars(d, "midday")
    src.intraday_bars(d, "close")
    assert simulated == [d]
    assert sample.simulated_day.cache_info().currsize == 1


# --- the real anchors -----------------------------------------------------------------------


def _yahoo_closes() -> pd.Series:
    frame = pd.read_csv(YAHOO_CSV, skiprows=3, header=None, usecols=[0, 1], names=["d", "c"])
    return pd.Series(frame["c"].to_numpy(float), index=[date.fromisoformat(x) for x in frame["d"]])


def test_hsi_official_close_is_the_real_close_every_day(market) -> None:
    real = _yahoo_closes()
    days = [d for d in market.days if d <= LAST_REAL_DAY]
    assert days[0] <= date(2023, 7, 3) and days[-1] == LAST_REAL_DAY
    assert len(days) > 700
    missing = [d for d in days if d not in real.index]
    assert missing == []
    hsi = market.index_close["HSI"]
    wrong = [
        (d, round(float(hsi[market.day(d)]), 2), round(float(real[d]), 2))
        for d in days
        if round(float(hsi[market.day(d)]), 2) != round(float(real[d]), 2)
    ]
    assert wrong == []


def test_hang_seng_formula_within_one_basis_point_every_day(market) -> None:
    """I_t = I_t-1 * sum(P_t IS FAF CF) / sum(P_t-1 IS FAF CF) over day t's members, with the
    members' tick-rounded closes, lands within 1 bp of the official close on every day."""
    hsi = market.index_close["HSI"]
    q = market.factors["HSI"]
    close = market.close
    worst = (0.0, None)
    for k in range(1, len(market.days)):
        if market.days[k] > LAST_REAL_DAY:
            break
        members = q[:, k] > 0
        assert 70 <= members.sum() <= 100, market.days[k]
        p_t, p_prev = close[members, k], close[members, k - 1]
        assert not np.isnan(p_t).any() and not np.isnan(p_prev).any(), market.days[k]
        assert on_tick(p_t).all(), market.days[k]
        formula = hsi[k - 1] * (q[members, k] @ p_t) / (q[members, k] @ p_prev)
        bp = abs(formula / hsi[k] - 1) * 1e4
        worst = max(worst, (bp, market.days[k]), key=lambda x: x[0])
    assert worst[0] < 1.0, worst


@pytest.mark.parametrize("d", [date(2023, 7, 4), date(2024, 3, 5), RECAP_DAY, HALF_DAY])
def test_source_close_levels_are_the_market_levels(src: SampleSource, market, d: date) -> None:
    real = _yahoo_closes()
    levels = src.index_levels(d, "close").set_index("index_code")
    assert list(levels.index) == list(INDEX_CODES)
    assert levels.loc["HSI", "last"] == round(float(real[d]), 2)
    prev = calendar.previous_trading_day(d)
    assert levels.loc["HSI", "prev_close"] == round(float(real[prev]), 2)
    for code in INDEX_CODES:
        row = levels.loc[code]
        assert row["low"] <= row["last"] <= row["high"], code


# --- the half day ---------------------------------------------------------------------------


def test_half_day_has_the_morning_and_a_12_00_auction_only(src: SampleSource) -> None:
    assert calendar.is_half_day(HALF_DAY)
    morning = src.intraday_bars(HALF_DAY, "midday")
    auction = src.intraday_bars(HALF_DAY, "close")
    m_times = _local_times(morning["ts"])
    assert m_times.min() == time(9, 30) and m_times.max() == time(11, 59)
    assert m_times.nunique() == 150
    a_times = _local_times(auction["ts"])
    assert set(a_times) == {time(12, 0)}
    assert set(INDEX_CODES) <= set(auction["symbol"])
    # one auction bar per traded share, no afternoon bars anywhere
    shares = auction[~auction["symbol"].isin(INDEX_CODES)]
    assert shares["symbol"].is_unique and len(shares) > 100
    assert not (m_times >= time(12, 0)).any()
    # the close quote is the morning plus the auction
    quotes = src.quotes(HALF_DAY, "close").set_index("symbol")
    mid = src.quotes(HALF_DAY, "midday").set_index("symbol")
    morning_volume = morning.groupby("symbol")["volume"].sum()
    for sym, bar in shares.set_index("symbol").head(50).iterrows():
        assert quotes.loc[sym, "last"] == bar["close"]
        assert quotes.loc[sym, "volume"] == morning_volume.get(sym, 0) + bar["volume"]
        assert quotes.loc[sym, "volume"] >= mid.loc[sym, "volume"]


def test_normal_day_close_partition_is_the_afternoon_and_the_16_00_auction(
    src: SampleSource,
) -> None:
    times = _local_times(src.intraday_bars(RECAP_DAY, "close")["ts"])
    assert times.min() == time(13, 0) and times.max() == time(16, 0)
    assert times.nunique() == 181
    assert not ((times > time(11, 59)) & (times < time(13, 0))).any()


# --- prices, labels, universe ---------------------------------------------------------------


@pytest.mark.parametrize("d", TICK_DAYS)
def test_every_share_price_is_on_the_tick_table(src: SampleSource, d: date) -> None:
    for snapshot in ("midday", "close"):
        quotes = src.quotes(d, snapshot)
        for col in ("prev_close", "open", "high", "low", "last"):
            prices = quotes[col].dropna().to_numpy(float)
            assert len(prices) > 0, (snapshot, col)
            off = prices[~on_tick(prices)]
            assert off.size == 0, (snapshot, col, off[:5])
        bars = src.intraday_bars(d, snapshot)
        bars = bars[~bars["symbol"].isin(INDEX_CODES)]
        for col in ("open", "high", "low", "close"):
            prices = bars[col].to_numpy(float)
            off = prices[~on_tick(prices)]
            assert off.size == 0, (snapshot, col, off[:5])


@pytest.mark.parametrize("d", [RECAP_DAY, date(2024, 3, 5)])
def test_every_row_says_sample(src: SampleSource, d: date) -> None:
    for name, frame in _all_frames(src, d).items():
        assert len(frame) > 0, name
        assert (frame["source"] == "sample").all(), name


def test_universe_size_over_time(src: SampleSource) -> None:
    on_recap = src.securities(RECAP_DAY)
    assert len(on_recap) == 2726
    assert on_recap["symbol"].is_unique
    assert len(src.quotes(RECAP_DAY, "midday")) == 2726
    first_day = src.securities(date(2023, 7, 3))
    assert len(first_day) != 2726
    assert len(src.quotes(date(2023, 7, 3), "midday")) == len(first_day)
    assert set(on_recap["board"]) == {"Main Board", "GEM"}
    assert on_recap["symbol"].str.fullmatch(r"\d{5}").all()


def test_recap_midday_breadth_and_levels(src: SampleSource) -> None:
    import json

    recap = json.loads(
        (YAHOO_CSV.parent / "market-recap-2025-11-21-midday.json").read_text(encoding="utf-8")
    )
    q = src.quotes(RECAP_DAY, "midday")
    up = int((q["last"] > q["prev_close"]).sum())
    down = int((q["last"] < q["prev_close"]).sum())
    flat = len(q) - up - down
    b = recap["breadth"]
    assert (up, down, flat) == (b["advancers"], b["decliners"], b["unchanged"])
    levels = src.index_levels(RECAP_DAY, "midday").set_index("index_code")
    for index in recap["indices"]:
        assert levels.loc[index["index_code"], "last"] == index["level"]
