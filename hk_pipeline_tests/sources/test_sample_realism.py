"""The sample market behaves like the real one (issue 15), checked on the days that matter:
every half day in the range, every index review's effective date and a seeded sample of
other days. benchmarks/sample_sweep.py runs the same checks over every day."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest

from hk_pipeline import calendar
from hk_pipeline.sources import sample
from hk_pipeline.sources import sample_reference as ref
from hk_pipeline.sources.sample_market import checks, intraday
from hk_pipeline.sources.sample_market.daily import DailyMarket

RECAP_DAY = date(2025, 11, 21)
SEED = 15
OTHER_DAYS = 20


@pytest.fixture(scope="module")
def market() -> DailyMarket:
    return sample.market()


def _days(market: DailyMarket) -> list[date]:
    first = checks.first_partition_day(market)
    days = [d for d in market.days if d >= first]
    half = [d for d in days if calendar.is_half_day(d)]
    effective = set(ref.review_effective_dates())
    reviews = [d for d in days if d in effective]
    rest = sorted(set(days) - set(half) - set(reviews) - {RECAP_DAY})
    return sorted({*half, *reviews, RECAP_DAY, *random.Random(SEED).sample(rest, OTHER_DAYS)})


@pytest.fixture(scope="module")
def simulated(market: DailyMarket) -> dict[date, intraday.SimulatedDay]:
    return {d: intraday.simulate_day(market, d) for d in _days(market)}


def test_the_checked_days_cover_half_days_reviews_and_a_sample(market: DailyMarket) -> None:
    days = _days(market)
    half = [d for d in days if calendar.is_half_day(d)]
    # Christmas Eve, New Year's Eve and the Lunar New Year's Eve of each year in range.
    assert len(half) >= 6
    assert len(days) >= len(half) + OTHER_DAYS


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_property_holds_on_every_checked_day(
    market: DailyMarket, simulated: dict[date, intraday.SimulatedDay], name: str
) -> None:
    found = [line for d, day in simulated.items() for line in checks.CHECKS[name](market, day)]
    assert found == [], "\n".join(found[:20])


@pytest.mark.xfail(
    strict=True,
    reason="the real HSI open/high/low are not applied yet: clipping the mid-day level into the"
    " real range breaks levels_reconcile (see hk_pipeline/sources/sample.py)",
)
def test_hsi_close_row_carries_the_real_open_high_low(market: DailyMarket) -> None:
    # The real figures are read from the reference file (2025-11-21: open 25460.42, close
    # 25220.02); the recap's pinned mid-day level stays inside the real range.
    real = ref.hsi_official_ohlc().loc[RECAP_DAY]
    src = sample.SampleSource()
    close = src.index_levels(RECAP_DAY, "close").set_index("index_code").loc["HSI"]
    assert (close["open"], close["high"], close["low"], close["last"]) == (
        real["open"],
        real["high"],
        real["low"],
        real["close"],
    )
    mid = src.index_levels(RECAP_DAY, "midday").set_index("index_code").loc["HSI"]
    assert real["low"] <= mid["low"] <= mid["last"] <= mid["high"] <= real["high"]
    assert mid["open"] == real["open"]


def test_fit_to_range_hits_the_anchors_and_the_range() -> None:
    rng = np.random.default_rng(0)
    path = 100 + np.cumsum(rng.normal(0, 0.3, 40))
    out = intraday.fit_to_range(path, {0: 100.0, 20: 101.5, 39: 99.0}, 97.25, 103.4)
    assert (out[0], out[20], out[39]) == (100.0, 101.5, 99.0)
    assert out.max() == 103.4 and out.min() == 97.25
    with pytest.raises(ValueError, match="outside the real day range"):
        intraday.fit_to_range(path, {0: 104.0, 39: 99.0}, 97.25, 103.4)


def test_recap_names_keep_their_exact_turnover_with_lot_volumes(market: DailyMarket) -> None:
    import json

    recap = json.loads(sample.recap.RECAP_FILE.read_text(encoding="utf-8"))
    q = sample.SampleSource().quotes(RECAP_DAY, "midday").set_index("symbol")
    lots = market.universe.set_index("symbol")["board_lot"]
    for t in recap["top_turnover"]:
        row = q.loc[t["symbol"]]
        assert row["turnover"] == pytest.approx(t["turnover_hkd"], abs=0.01), t["symbol"]
        assert row["low"] <= row["turnover"] / row["volume"] <= row["high"], t["symbol"]
        # Mostly board lots: the odd part is below one lot per bar at most.
        assert row["volume"] % lots[t["symbol"]] < lots[t["symbol"]]
    others = q.drop(index=[t["symbol"] for t in recap["top_turnover"]])
    assert others["turnover"].max() < min(t["turnover_hkd"] for t in recap["top_turnover"])


def test_volumes_are_board_lots_with_a_few_odd_lots(
    market: DailyMarket, simulated: dict[date, intraday.SimulatedDay]
) -> None:
    lots = market.universe["board_lot"].to_numpy(np.int64)
    bars = simulated[RECAP_DAY].afternoon
    odd = bars.volume % lots[bars.rows][:, None]
    share_of_bars = float((odd > 0).sum() / max((bars.volume > 0).sum(), 1))
    # About ODD_LOT_BAR_P of the traded bars carry an odd lot: present, but rare.
    assert 0.01 < share_of_bars < 0.10


def test_every_quote_vwap_inside_its_range_on_a_close_snapshot() -> None:
    q = sample.SampleSource().quotes(date(2024, 12, 24), "close")
    traded = q[q["volume"] > 0]
    vwap = traded["turnover"] / traded["volume"]
    assert ((vwap >= traded["low"] - 1e-6) & (vwap <= traded["high"] + 1e-6)).all()
    assert (q.loc[q["volume"] == 0, "turnover"] == 0).all()


# --- index reviews ----------------------------------------------------------------------------


def test_review_dates_follow_the_first_friday_rule() -> None:
    """Changes are implemented after the close of the first Friday of March, June, September
    and December and take effect on the next trading day (docs/sample_market.md)."""
    expected = []
    for year in (2023, 2024, 2025, 2026):
        for month in (3, 6, 9, 12):
            first_friday = date(year, month, 1 + (4 - date(year, month, 1).weekday()) % 7)
            effective = calendar.next_trading_day(first_friday)
            if date(2023, 7, 1) <= effective <= date(2026, 6, 30):
                expected.append(effective)
    assert ref.review_effective_dates() == tuple(expected)
    assert date(2025, 9, 8) in expected and date(2024, 6, 11) in expected


def test_every_membership_change_is_on_a_review_date() -> None:
    m = ref.index_membership()
    reviews = set(ref.review_effective_dates())
    starts = {d for d in m["valid_from"] if d != date(2023, 7, 1)}
    ends = {d for d in m["valid_to"] if isinstance(d, date)}
    assert sorted(starts - reviews) == [] and sorted(ends - reviews) == []
    hsi = m[m["index_code"] == "HSI"].set_index("symbol")
    # The September 2025 additions start on the review's effective date, not on 2025-10-01.
    assert {hsi.loc[s, "valid_from"] for s in ("00728", "02618", "09992")} == {date(2025, 9, 8)}
    assert hsi.loc["06098", "valid_to"] == date(2024, 6, 11)


def test_monthly_lists_agree_with_membership_unless_stale() -> None:
    import pandas as pd

    agree, stale = [], []
    for path in sorted(ref.HSI_LISTS_DIR.glob("????-??.csv")):
        listed = set(
            pd.read_csv(path, usecols=["Symbol"])["Symbol"].str.removesuffix(".HK").str.zfill(5)
        )
        first = date(int(path.stem[:4]), int(path.stem[5:]), 1)
        members = set(ref.index_weights("HSI", first)["symbol"])
        (stale if path.stem in ref.STALE_HSI_LISTS else agree).append(
            (path.stem, sorted(listed ^ members))
        )
    assert len(agree) >= 28 and all(diff == [] for _, diff in agree), agree
    # A stale list really is stale: it differs, by the change of one review.
    assert stale and all(1 <= len(diff) <= 2 for _, diff in stale), stale


# --- cap factors ------------------------------------------------------------------------------


def test_cap_factors_reset_at_reviews_and_weights_drift_between(market: DailyMarket) -> None:
    q, close = market.factors["HSI"], market.close
    at_review, between = [], []
    effective = set(ref.review_effective_dates())
    for k in range(2, len(market.days)):
        w = q[:, k] * np.nan_to_num(close[:, k - 1])
        top = float(w.max() / w.sum())
        (at_review if market.days[k] in effective else between).append(top)
    assert len(at_review) == len(effective)
    assert max(at_review) <= 0.08
    # Between reviews prices move the weights: the heaviest member goes over the cap.
    assert max(between) > 0.085


def test_published_constituents_carry_each_reviews_cap_factor(market: DailyMarket) -> None:
    src = sample.SampleSource()
    before = src.index_constituents(date(2025, 9, 5)).set_index(["index_code", "symbol"])
    after = src.index_constituents(date(2025, 9, 8)).set_index(["index_code", "symbol"])
    # A new period starts on the review: the rows in force change and their factors differ.
    assert (after["valid_from"] == date(2025, 9, 8)).all()
    common = before.index.intersection(after.index)
    assert len(common) > 100
    assert (before.loc[common, "cap_factor"] != after.loc[common, "cap_factor"]).any()
    # Weights at the 2025-09-05 closes with the new factors: none above 8%.
    k = market.day(date(2025, 9, 8))
    pos = {s: i for i, s in enumerate(market.symbols)}
    hsi = after.loc["HSI"]
    mcap = (
        np.array([market.close[pos[s], k - 1] for s in hsi.index])
        * hsi["issued_shares"]
        * hsi["faf"]
        * hsi["cap_factor"]
    )
    assert float(mcap.max() / mcap.sum()) <= 0.08
