"""The sample market's universe: every share ever listed, named and synthetic, with listings
and delistings.

The sample market is simulated but anchored on real facts. Real: the securities named in
``data/named_securities.csv`` (HSI members from the monthly lists, the 2025-11-21 recap's
top-turnover names, HSCEI and HSTECH members; their names, codes, listing dates and board lots
are real or close recollections, share counts, free-float factors and prices approximate) and
the recap's top-turnover figures. Simulated: every other share (names end in " (sim)"), the
listing and delisting events, betas and liquidity.

Everything is deterministic: random draws come from one Philox stream with a fixed key.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import numpy as np
import pandas as pd

from hk_pipeline.industries import HSICS_INDUSTRIES
from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.sample_market.dates import to_dates
from hk_pipeline.ticks import round_to_tick

SAMPLE_START = date(2023, 6, 30)

INDUSTRIES: tuple[str, ...] = HSICS_INDUSTRIES

NAMED_SECURITIES_CSV = SAMPLE_DATA_DIR / "named_securities.csv"

# The recap day and its breadth: the universe is sized so exactly this many shares are alive.
RECAP_DATE = date(2025, 11, 21)
RECAP_SHARE_COUNT = 2726
RECAP_GEM_COUNT = 300

# Mid-day turnover (HKD) of the recap's top ten; their liquidity is this over the share of a
# day's turnover that trades by noon: their level on the recap day, which the calibrated
# turnover (sample_market/turnover.py) moves with the market's target on other days.
RECAP_TOP_TURNOVER: dict[str, float] = {
    "09988": 12_204e6,
    "01810": 9_458e6,
    "00700": 5_921e6,
    "00981": 4_097e6,
    "03690": 2_082e6,
    "09992": 1_964e6,
    "01347": 1_688e6,
    "03750": 1_663e6,
    "02318": 1_470e6,
    "00388": 1_331e6,
}
MIDDAY_TURNOVER_SHARE = 0.45

_SEED = 20_251_121
_EVENTS_FROM = date(2023, 7, 3)
_EVENTS_TO = date(2026, 12, 31)
# Synthetic listing and delisting rates per year (named new listings come on top).
_NEW_MAIN_PER_YEAR = 66
_NEW_GEM_PER_YEAR = 3
_DELIST_MAIN_PER_YEAR = 28
_DELIST_GEM_PER_YEAR = 12

# Per industry: its share of the synthetic shares (roughly HK's mix) and its beta.
_INDUSTRY_MIX_BETA: dict[str, tuple[float, float]] = {
    "Energy": (0.03, 0.85),
    "Materials": (0.06, 1.05),
    "Industrials": (0.14, 1.0),
    "Consumer Discretionary": (0.22, 1.1),
    "Consumer Staples": (0.07, 0.8),
    "Healthcare": (0.08, 1.1),
    "Telecommunications": (0.01, 0.65),
    "Utilities": (0.03, 0.6),
    "Financials": (0.11, 0.9),
    "Properties & Construction": (0.13, 1.0),
    "Information Technology": (0.10, 1.3),
    "Conglomerates": (0.02, 0.85),
}
_INDUSTRY_BETA = {industry: beta for industry, (_, beta) in _INDUSTRY_MIX_BETA.items()}
_NAME_PLACES: tuple[str, ...] = (
    "Harbour", "Lion Rock", "Victoria", "Kowloon Bay", "Lantau", "Jade Hill", "Pearl Delta",
    "Tsing Ma", "Star Ferry", "Peak Tram", "Junk Bay", "Sai Kung", "Tai Po", "Sha Tin",
    "Aberdeen", "Stanley", "Repulse Bay", "Cheung Chau", "Lamma", "Tung Chung", "Bauhinia",
    "Dragon Gate", "Silver Mine", "Clearwater", "Tai Mo Shan", "Shek O", "Ma On Shan", "Lok Ma",
    "Sham Shui", "Tin Hau", "Mong Kok", "Causeway", "Wan Chai", "Sheung Wan", "Fo Tan",
    "Kwai Chung",
)  # fmt: skip
_NAME_CORES: dict[str, tuple[str, ...]] = {
    "Energy": ("Energy", "Petroleum", "Coal", "Oil & Gas", "Fuel"),
    "Materials": ("Materials", "Metals", "Chemicals", "Paper", "Mining"),
    "Industrials": ("Engineering", "Logistics", "Machinery", "Shipping", "Industrial"),
    "Consumer Discretionary": ("Apparel", "Motors", "Leisure", "Retail", "Education", "Dining"),
    "Consumer Staples": ("Foods", "Dairy", "Beverages", "Agriculture", "Household"),
    "Healthcare": ("Pharma", "Medical", "Biotech", "Health", "Diagnostics"),
    "Telecommunications": ("Telecom", "Broadband", "Mobile", "Networks", "Satellite"),
    "Utilities": ("Power", "Water", "Gas Supply", "Utilities", "Clean Energy"),
    "Financials": ("Finance", "Securities", "Capital", "Insurance", "Credit"),
    "Properties & Construction": ("Land", "Properties", "Construction", "Realty", "Estates"),
    "Information Technology": ("Technology", "Software", "Digital", "Semiconductor", "Data"),
    "Conglomerates": ("Enterprises", "Industries", "Investments", "Resources Trading", "Trust"),
}
_NAME_SUFFIXES: tuple[str, ...] = (
    "Holdings", "Group", "International", "Limited", "Company", "Corporation",
)  # fmt: skip
_BOARD_LOTS = np.array([100, 200, 400, 500, 1000, 2000, 4000, 5000])
_BOARD_LOT_P = np.array([0.06, 0.08, 0.04, 0.18, 0.34, 0.20, 0.06, 0.04])


def _rng(stream: int) -> np.random.Generator:
    """Independent deterministic stream: Philox keyed by the fixed seed and a stream number."""
    return np.random.Generator(np.random.Philox(key=[_SEED, stream]))


def _alive_mask(universe: pd.DataFrame, on: date) -> np.ndarray:
    """Shares listed on or before ``on`` and not yet delisted (delisted_on is exclusive)."""
    listed = pd.to_datetime(universe["listed_on"]).to_numpy()
    delisted = pd.to_datetime(universe["delisted_on"]).to_numpy()
    d = np.datetime64(on, "ns")
    return (listed <= d) & (np.isnat(delisted) | (delisted > d))


def _read_named() -> pd.DataFrame:
    df = pd.read_csv(NAMED_SECURITIES_CSV, dtype={"symbol": str})
    df["listed_on"] = pd.to_datetime(df["listed_on"])
    return df


def _synthetic_names(industry: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Readable, unique, obviously simulated names, e.g. 'Lantau Logistics Holdings (sim)'."""
    names = np.empty(len(industry), dtype=object)
    for ind in INDUSTRIES:
        idx = np.flatnonzero(industry == ind)
        if idx.size == 0:
            continue
        combos = pd.MultiIndex.from_product([_NAME_PLACES, _NAME_CORES[ind], _NAME_SUFFIXES])
        if idx.size > len(combos):
            raise ValueError(f"not enough synthetic names for {ind}")
        pick = combos[rng.permutation(len(combos))[: idx.size]]
        names[idx] = [f"{p} {c} {s} (sim)" for p, c, s in pick]
    return names


def _weekdays(start: date, end: date) -> np.ndarray:
    return pd.bdate_range(start, end).to_numpy()


def _synthetic_universe(named: pd.DataFrame) -> pd.DataFrame:
    """Synthetic shares sized so the whole universe has RECAP_SHARE_COUNT alive on RECAP_DATE."""
    rng = _rng(1)
    days = _weekdays(_EVENTS_FROM, _EVENTS_TO)
    # No listing or delisting on the recap day: its breadth has no listing-day shares.
    days = days[days != np.datetime64(RECAP_DATE, "ns")]
    years = (_EVENTS_TO - _EVENTS_FROM).days / 365.25
    target = np.datetime64(RECAP_DATE, "ns")

    def event_dates(per_year: int) -> np.ndarray:
        return np.sort(rng.choice(days, size=round(per_year * years)))

    new_main, new_gem = event_dates(_NEW_MAIN_PER_YEAR), event_dates(_NEW_GEM_PER_YEAR)
    del_main, del_gem = event_dates(_DELIST_MAIN_PER_YEAR), event_dates(_DELIST_GEM_PER_YEAR)

    named_alive = int(_alive_mask(named.assign(delisted_on=pd.NaT), RECAP_DATE).sum())
    base_gem = RECAP_GEM_COUNT - (new_gem <= target).sum() + (del_gem <= target).sum()
    base_main = (
        RECAP_SHARE_COUNT
        - RECAP_GEM_COUNT
        - named_alive
        - (new_main <= target).sum()
        + (del_main <= target).sum()
    )

    # Older listings: weekdays 1986..mid-2023, denser in recent years like HKEX's growth.
    old_days = _weekdays(date(1986, 1, 2), SAMPLE_START - timedelta(days=1))

    def base_dates(n: int) -> np.ndarray:
        u = rng.random(n) ** 0.6
        return old_days[np.minimum((u * len(old_days)).astype(int), len(old_days) - 1)]

    def block(board: str, n_base: int, new: np.ndarray, delist: np.ndarray) -> pd.DataFrame:
        listed = np.concatenate([base_dates(n_base), new])
        delisted = np.full(len(listed), np.datetime64("NaT"), dtype="datetime64[ns]")
        victims = rng.choice(n_base, size=len(delist), replace=False)
        delisted[victims] = delist
        return pd.DataFrame(
            {
                "board": board,
                "listed_on": listed,
                "delisted_on": delisted,
                "is_new": np.arange(len(listed)) >= n_base,
            }
        )

    df = pd.concat(
        [
            block("Main Board", int(base_main), new_main, del_main),
            block("GEM", int(base_gem), new_gem, del_gem),
        ],
        ignore_index=True,
    )
    n = len(df)
    gem = (df["board"] == "GEM").to_numpy()

    # Codes: Main Board in ranges used by equities (not ETFs/debt/L&I products), GEM 08001-08999.
    taken = set(named["symbol"])
    main_pool = np.array(
        [
            f"{c:05d}"
            for r in (range(1, 2800), range(2850, 3000), range(3300, 4000), range(6000, 7000))
            for c in r
        ]
        + [f"{c:05d}" for c in range(9200, 10000)]
    )
    main_pool = main_pool[~np.isin(main_pool, list(taken))]
    gem_pool = np.array([f"{c:05d}" for c in range(8001, 9000)])
    symbols = np.empty(n, dtype=object)
    symbols[~gem] = rng.permutation(main_pool)[: (~gem).sum()]
    symbols[gem] = rng.permutation(gem_pool)[: gem.sum()]
    df["symbol"] = symbols

    mix = [_INDUSTRY_MIX_BETA[i][0] for i in INDUSTRIES]
    industry = rng.choice(np.array(INDUSTRIES), size=n, p=mix)
    df["industry"] = industry
    df["name"] = _synthetic_names(industry, rng)
    df["board_lot"] = rng.choice(_BOARD_LOTS, size=n, p=_BOARD_LOT_P)
    shares = np.clip(rng.lognormal(np.log(1.5e9), 1.0, n), 1e8, 2e10)
    df["issued_shares"] = (np.round(shares / 1e4) * 1e4).astype(np.int64)
    # Prices: many penny stocks (lower on GEM), IPO prices for new listings.
    median = np.where(gem, 0.3, np.where(df["is_new"], 6.0, 0.9))
    sigma = np.where(gem, 1.1, np.where(df["is_new"], 0.9, 1.5))
    price = np.clip(median * np.exp(sigma * rng.standard_normal(n)), 0.011, 450.0)
    df["anchor_price"] = round_to_tick(price)
    df["faf"] = np.round(0.2 + 0.75 * rng.beta(2.0, 2.0, n), 2)
    df["h_share"] = False
    ind_beta = pd.Series(industry).map(_INDUSTRY_BETA).to_numpy()
    df["beta"] = np.round(np.clip(ind_beta + 0.12 * rng.standard_normal(n), 0.6, 1.4), 3)
    # Heavy-tailed turnover ratio: a few synthetic shares trade ~100M, many a few thousand HKD.
    ff_cap = df["anchor_price"] * df["issued_shares"] * df["faf"]
    raw = ff_cap * 0.0008 * np.exp(1.6 * rng.standard_normal(n))
    soft_cap = 4e8
    df["liquidity"] = np.round(np.maximum(soft_cap * (1 - np.exp(-raw / soft_cap)), 2e3), 0)
    df["is_real"] = False
    return df.drop(columns="is_new")


def _named_universe(named: pd.DataFrame) -> pd.DataFrame:
    rng = _rng(2)
    df = named.copy()
    n = len(df)
    df["delisted_on"] = pd.NaT
    ind_beta = df["industry"].map(_INDUSTRY_BETA).to_numpy()
    df["beta"] = np.round(np.clip(ind_beta + 0.06 * rng.standard_normal(n), 0.6, 1.4), 3)
    ff_cap = df["anchor_price"] * df["issued_shares"] * df["faf"]
    raw = ff_cap * 0.0015 * np.exp(0.5 * rng.standard_normal(n))
    # Other large caps between 50M and 1.2B a day: well below the tenth name's mid-day figure.
    liquidity = 5e7 + 1.15e9 * (1 - np.exp(-raw / 1.15e9))
    top = df["symbol"].map(RECAP_TOP_TURNOVER)
    df["liquidity"] = np.round(np.where(top.notna(), top / MIDDAY_TURNOVER_SHARE, liquidity), 0)
    df["is_real"] = True
    return df


@functools.lru_cache(maxsize=1)
def _universe() -> pd.DataFrame:
    named = _read_named()
    df = pd.concat([_named_universe(named), _synthetic_universe(named)], ignore_index=True)
    df["currency"] = "HKD"
    df["listed_on"] = to_dates(df["listed_on"])
    df["delisted_on"] = to_dates(df["delisted_on"])
    df = df.astype(
        {
            "board_lot": int,
            "issued_shares": np.int64,
            "faf": float,
            "anchor_price": float,
            "beta": float,
            "liquidity": float,
            "is_real": bool,
            "h_share": bool,
        }
    )
    cols = [
        "symbol", "name", "board", "industry", "board_lot", "issued_shares", "currency",
        "listed_on", "delisted_on", "faf", "anchor_price", "beta", "liquidity", "is_real",
        "h_share",
    ]  # fmt: skip
    return df[cols].sort_values("symbol", ignore_index=True)


def securities_universe() -> pd.DataFrame:
    """Every share ever listed in the sample market (a copy; the build is cached).

    ``anchor_price`` is the 2025-11-20 close (the IPO price for a later listing; for a share
    delisted earlier, the level its simulated path passes through on that day). ``liquidity`` is
    the expected daily turnover in HKD. ``h_share`` marks H-share counters, whose
    ``issued_shares`` count the H shares only.
    """
    return _universe().copy()
