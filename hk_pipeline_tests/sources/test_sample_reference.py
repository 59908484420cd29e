"""Static reference of the sample market: counts, anchors and index rules it promises."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.sample_market import hsi_history, macro, membership, weights
from hk_pipeline.sample_market import universe as sample_universe
from hk_pipeline.ticks import on_tick

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

RECAP_JSON = (
    Path(__file__).parents[1] / "fixtures" / "reference" / "market-recap-2025-11-21-midday.json"
)
RECAP_PREV_CLOSE = {
    "09988": 154.8,
    "01810": 37.7,
    "00700": 621.0,
    "00981": 73.5,
    "03690": 98.5,
    "09992": 201.4,
    "01347": 78.0,
    "03750": 483.0,
    "02318": 58.25,
    "00388": 417.6,
}
CHECK_DATES = [
    date(2023, 7, 3),
    date(2024, 12, 6),
    date(2024, 12, 9),
    date(2025, 9, 8),
    date(2025, 11, 21),
    date(2025, 12, 8),
    date(2026, 12, 31),
]


def alive(universe: pd.DataFrame, on: date) -> pd.Series:
    listed = pd.to_datetime(universe["listed_on"])
    delisted = pd.to_datetime(universe["delisted_on"])
    d = pd.Timestamp(on)
    return (listed <= d) & (delisted.isna() | (delisted > d))


def members(index_code: str, on: date) -> set[str]:
    m = membership.index_membership()
    vf = pd.to_datetime(m["valid_from"])
    vt = pd.to_datetime(m["valid_to"])
    d = pd.Timestamp(on)
    live = (m["index_code"] == index_code) & (vf <= d) & (vt.isna() | (vt > d))
    return set(m.loc[live, "symbol"])


def hsi_list(month: str) -> set[str]:
    df = pd.read_csv(SAMPLE_DATA_DIR / "hsi_constituents" / f"{month}.csv")
    return set(df["Symbol"].str.removesuffix(".HK").str.zfill(5))


@pytest.fixture(scope="module")
def universe() -> pd.DataFrame:
    return sample_universe.securities_universe()


def test_alive_count_on_recap_day(universe: pd.DataFrame) -> None:
    assert alive(universe, date(2025, 11, 21)).sum() == 2726
    assert alive(universe, date(2023, 7, 3)).sum() != 2726


def test_universe_shape(universe: pd.DataFrame) -> None:
    assert universe["symbol"].is_unique
    assert universe["symbol"].str.fullmatch(r"\d{5}").all()
    assert set(universe["industry"]) == set(sample_universe.INDUSTRIES)
    assert set(universe["board"]) == {"Main Board", "GEM"}
    gem = universe["board"] == "GEM"
    assert universe.loc[gem, "symbol"].between("08001", "08999").all()
    assert (universe["issued_shares"] > 0).all()
    assert universe["faf"].between(0, 1, inclusive="right").all()
    assert universe["name"].is_unique
    assert universe.loc[~universe["is_real"], "name"].str.endswith(" (sim)").all()


def test_listings_are_weekdays_and_dated(universe: pd.DataFrame) -> None:
    listed = pd.to_datetime(universe["listed_on"])
    delisted = pd.to_datetime(universe["delisted_on"])
    assert (listed.dt.weekday < 5).all()
    assert (delisted.dropna().dt.weekday < 5).all()
    assert (delisted.dropna() > listed[delisted.notna()]).all()


def test_anchor_prices_on_ticks(universe: pd.DataFrame) -> None:
    assert on_tick(universe["anchor_price"].to_numpy()).all()


def test_recap_ten_anchor_on_prev_close(universe: pd.DataFrame) -> None:
    recap = json.loads(RECAP_JSON.read_text())
    expected = (
        {r["symbol"]: r["prev_close"] for r in recap["top_turnover"]} if recap else RECAP_PREV_CLOSE
    )
    u = universe.set_index("symbol")
    for symbol, prev_close in expected.items():
        assert u.at[symbol, "anchor_price"] == prev_close, symbol
        assert u.at[symbol, "is_real"]


def test_recap_ten_most_liquid(universe: pd.DataFrame) -> None:
    top = set(universe.nlargest(10, "liquidity")["symbol"])
    assert top == set(RECAP_PREV_CLOSE)
    others = universe.loc[~universe["symbol"].isin(RECAP_PREV_CLOSE), "liquidity"]
    assert others.max() < 1.3e9


def test_hsi_follows_the_monthly_lists() -> None:
    before, after = members("HSI", date(2025, 8, 1)), members("HSI", date(2025, 11, 21))
    assert before == hsi_list("2025-08")
    assert after == hsi_list("2025-11")
    assert after - before == {"00728", "02618", "09992"}
    assert before - after == set()


def test_innovent_joins_hsi_on_review_day() -> None:
    assert "01801" in members("HSI", date(2025, 12, 8))
    assert "01801" not in members("HSI", date(2025, 12, 5))
    assert len(members("HSI", date(2025, 11, 21))) == 88
    assert len(members("HSI", date(2025, 12, 8))) == 89


@pytest.mark.parametrize("on", CHECK_DATES)
def test_hscei_and_hstech_sizes(on: date) -> None:
    assert len(members("HSCEI", on)) == 50
    assert len(members("HSTECH", on)) == 30


@pytest.mark.parametrize("on", CHECK_DATES)
def test_each_index_has_exclusive_members(on: date) -> None:
    sets = {code: members(code, on) for code in ("HSI", "HSCEI", "HSTECH")}
    for code, s in sets.items():
        others = set().union(*(v for k, v in sets.items() if k != code))
        assert len(s - others) >= 6, code


def test_members_alive_whenever_members(universe: pd.DataFrame) -> None:
    m = membership.index_membership().merge(universe, on="symbol", how="left", validate="m:1")
    assert m["listed_on"].notna().all()
    assert (pd.to_datetime(m["listed_on"]) <= pd.to_datetime(m["valid_from"])).all()
    assert m["delisted_on"].isna().all()


def test_committed_membership_matches_derivation() -> None:
    built = membership.build_index_membership()
    committed = membership.index_membership()
    pd.testing.assert_frame_equal(
        built.astype(str).reset_index(drop=True), committed.astype(str).reset_index(drop=True)
    )


@pytest.mark.parametrize("code", ["HSI", "HSCEI", "HSTECH"])
@pytest.mark.parametrize("on", [date(2023, 7, 3), date(2025, 11, 21), date(2025, 12, 8)])
def test_cap_factors_keep_weights_under_cap(universe: pd.DataFrame, code: str, on: date) -> None:
    w = weights.index_weights(code, on)
    assert set(w["symbol"]) == members(code, on)
    price = universe.set_index("symbol").loc[w["symbol"], "anchor_price"].to_numpy()
    cap = price * w["issued_shares"].to_numpy() * w["faf"].to_numpy() * w["cap_factor"].to_numpy()
    weight = cap / cap.sum()
    assert weight.max() <= 0.08 + 1e-9
    assert w["cap_factor"].between(0, 1, inclusive="right").all()
    assert np.isclose(w["cap_factor"].max(), 1.0)


def test_macro_readings() -> None:
    m = macro.macro_readings().set_index(["series_id", "period"])
    pmi = m.loc[("pmi", "2025-10")]
    assert pmi["value"] == 51.2
    assert pmi["released_on"] == date(2025, 11, 5)
    assert pmi["is_real"]
    unemp = m.loc[("unemployment_rate_sa", "2025-10")]
    assert unemp["value"] == 3.8
    assert unemp["released_on"] == date(2025, 11, 18)
    assert str(unemp["released_at"]) == "2025-11-18 16:30:00+08:00"
    assert m.loc[("unemployment_rate_sa", "2025-09"), "value"] == 3.9
    fx = m.xs("fx_reserves")
    assert fx["released_at"].isna().all()
    assert len(fx) == 53
    assert fx.index.min() == "2022-06" and fx.index.max() == "2026-10"


def test_hsi_official_closes() -> None:
    closes = hsi_history.hsi_official_closes()
    assert closes[date(2025, 11, 20)] == 25835.57
    assert closes[date(2025, 11, 21)] == 25220.02


def test_deterministic() -> None:
    a = sample_universe._universe.__wrapped__()
    b = sample_universe._universe.__wrapped__()
    pd.testing.assert_frame_equal(a, b)
