"""Static reference of the sample market: securities, index membership, macro readings.

The sample market is simulated but anchored on real facts. Real: the securities named in
``sample_data/named_securities.csv`` (HSI members from the monthly lists, the 2025-11-21 recap's
top-turnover names, HSCEI and HSTECH members; their names, codes, listing dates and board lots
are real or close recollections, share counts, free-float factors and prices approximate), the
HSI monthly lists, Innovent's HSI entry on 2025-12-08, the recap's previous closes and the ^HSI
closes. Simulated: every other share (names end in " (sim)"), HSCEI and HSTECH review history
(real-looking, not checked against Hang Seng's notices), betas, liquidity, cap factors, and the
macro readings not flagged ``is_real``.

Everything is deterministic: random draws come from one Philox stream with a fixed key.

Index membership is derived by ``build_index_membership()`` (HSI from the monthly lists, HSCEI
and HSTECH from the tables below) and committed as ``sample_data/index_membership.csv`` by
``build_index_membership_csv()``; at run time ``index_membership()`` only reads the CSV, and a
test checks that the CSV matches a fresh derivation.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from hk_pipeline.industries import HSICS_INDUSTRIES
from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.ticks import round_to_tick

SAMPLE_START = date(2023, 6, 30)

INDUSTRIES: tuple[str, ...] = HSICS_INDUSTRIES

INDEX_CAP = 0.08

NAMED_SECURITIES_CSV = SAMPLE_DATA_DIR / "named_securities.csv"
INDEX_MEMBERSHIP_CSV = SAMPLE_DATA_DIR / "index_membership.csv"
HSI_LISTS_DIR = SAMPLE_DATA_DIR / "hsi_constituents"
HSI_DAILY_CSV = SAMPLE_DATA_DIR / "hsi_daily_yahoo.csv"

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

# Share of synthetic shares per industry, roughly HK's mix.
_INDUSTRY_MIX: dict[str, float] = {
    "Energy": 0.03,
    "Materials": 0.06,
    "Industrials": 0.14,
    "Consumer Discretionary": 0.22,
    "Consumer Staples": 0.07,
    "Healthcare": 0.08,
    "Telecommunications": 0.01,
    "Utilities": 0.03,
    "Financials": 0.11,
    "Properties & Construction": 0.13,
    "Information Technology": 0.10,
    "Conglomerates": 0.02,
}
_INDUSTRY_BETA: dict[str, float] = {
    "Energy": 0.85,
    "Materials": 1.05,
    "Industrials": 1.0,
    "Consumer Discretionary": 1.1,
    "Consumer Staples": 0.8,
    "Healthcare": 1.1,
    "Telecommunications": 0.65,
    "Utilities": 0.6,
    "Financials": 0.9,
    "Properties & Construction": 1.0,
    "Information Technology": 1.3,
    "Conglomerates": 0.85,
}
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

# Hang Seng review effective dates used for the HSCEI and HSTECH changes below.
_HSCEI_INITIAL: tuple[str, ...] = (
    "00700", "09988", "03690", "01810", "09618", "09888", "09999", "09961", "01024", "01211",
    "02015", "00939", "01398", "03988", "01288", "03968", "02318", "02628", "02328", "02601",
    "00941", "00883", "00857", "00386", "01088", "02899", "01378", "02020", "02331", "02319",
    "09633", "06690", "00175", "02057", "09987", "01093", "02269", "02359", "01099", "06030",
    "02333", "00981", "01109", "00688", "00960", "03328", "01658", "02688", "00788", "00762",
)  # fmt: skip
# (effective date, joining, leaving): each change keeps the member count.
_HSCEI_CHANGES: tuple[tuple[date, str, str], ...] = (
    (date(2024, 12, 9), "00300", "01099"),
    (date(2025, 6, 9), "09992", "02331"),
    (date(2025, 9, 8), "03750", "00960"),
    (date(2025, 9, 8), "06181", "00788"),
    (date(2025, 12, 8), "01801", "02333"),
)
_HSTECH_INITIAL: tuple[str, ...] = (
    "00700", "09988", "03690", "01810", "09618", "09888", "09999", "01024", "00981", "01347",
    "00992", "09961", "02015", "09868", "09866", "00285", "02382", "00268", "03888", "09626",
    "06618", "00241", "00780", "00020", "03896", "00763", "06690", "01698", "09898", "06060",
)  # fmt: skip
_HSTECH_CHANGES: tuple[tuple[date, str, str], ...] = (
    (date(2024, 12, 9), "09660", "06060"),
    (date(2025, 3, 10), "01357", "09898"),
)
# Known HSI review entries the monthly lists miss: (symbol, valid_from, valid_to).
_HSI_OVERRIDES: tuple[tuple[str, date, date | None], ...] = (("01801", date(2025, 12, 8), None),)
_MEMBERSHIP_START = date(2023, 7, 1)


def _rng(stream: int) -> np.random.Generator:
    """Independent deterministic stream: Philox keyed by the fixed seed and a stream number."""
    return np.random.Generator(np.random.Philox(key=[_SEED, stream]))


def _to_dates(values: pd.Series | np.ndarray) -> np.ndarray:
    """datetime64-like values -> object array of ``datetime.date`` (None for NaT)."""
    ts = pd.to_datetime(pd.Series(values))
    return np.array([None if pd.isna(t) else t.date() for t in ts], dtype=object)


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

    industry = rng.choice(np.array(INDUSTRIES), size=n, p=list(_INDUSTRY_MIX.values()))
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
    df["listed_on"] = _to_dates(df["listed_on"])
    df["delisted_on"] = _to_dates(df["delisted_on"])
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


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


# Effective dates of the Hang Seng Indexes quarterly reviews over the sample's range: changes
# are implemented after the close of the first Friday of March, June, September and December
# and take effect on the next trading day (2024-06-11: 2024-06-10 was Tuen Ng). Sources are in
# docs/sample_market.md; review_effective_dates() checks the list against that rule.
REVIEW_EFFECTIVE_DATES: tuple[date, ...] = (
    date(2023, 9, 4),
    date(2023, 12, 4),
    date(2024, 3, 4),
    date(2024, 6, 11),
    date(2024, 9, 9),
    date(2024, 12, 9),
    date(2025, 3, 10),
    date(2025, 6, 9),
    date(2025, 9, 8),
    date(2025, 12, 8),
    date(2026, 3, 9),
    date(2026, 6, 8),
)
# A month-start list that does not yet show a review that took effect before that month:
# membership follows the review, so these lists disagree with it (tests name the reason).
STALE_HSI_LISTS: dict[str, str] = {
    "2024-07": "shows the June 2024 review (effective 2024-06-11) only from 2024-08",
    "2025-07": "shows the June 2025 review (effective 2025-06-09) only from 2025-08",
    **{
        f"2026-{month:02d}": "misses 01801, added by the December 2025 review (2025-12-08)"
        for month in range(1, 8)
    },
}
# A list change more than this long after the last review is not put back on a review date.
_REVIEW_LAG_DAYS = 100


def review_effective_dates() -> tuple[date, ...]:
    """The quarterly reviews' effective dates (see REVIEW_EFFECTIVE_DATES)."""
    return REVIEW_EFFECTIVE_DATES


def _effective_date(list_month_start: date) -> date:
    """When a change first seen on a month's list took effect: the last review before it.

    The monthly lists are snapshots taken after the fact, up to two months late; a change
    with no review in the preceding `_REVIEW_LAG_DAYS` stays on the list's date.
    """
    before = [d for d in REVIEW_EFFECTIVE_DATES if d <= list_month_start]
    if before and (list_month_start - before[-1]).days <= _REVIEW_LAG_DAYS:
        return before[-1]
    return list_month_start


def derive_hsi_membership() -> pd.DataFrame:
    """HSI intervals from the monthly lists, with each change on its review's effective date.

    Consecutive months coalesce into one interval; a run that reaches the last list stays open.
    The lists lag the reviews by up to two months, so a run that starts (or ends) with a list
    starts (or ends) on the last review's effective date before that list; entries in
    ``_HSI_OVERRIDES`` (known effective dates the lists miss) are added as given.
    """
    files = sorted(HSI_LISTS_DIR.glob("????-??.csv"))
    months = [f.stem for f in files]
    long = pd.concat(
        [pd.read_csv(f, usecols=["Symbol"]).assign(month=i) for i, f in enumerate(files)],
        ignore_index=True,
    )
    long["symbol"] = long["Symbol"].str.removesuffix(".HK").str.zfill(5)
    long = long.sort_values(["symbol", "month"], ignore_index=True)
    run = (long.groupby("symbol")["month"].diff() != 1).cumsum()
    runs = long.groupby(run).agg(
        symbol=("symbol", "first"), m0=("month", "min"), m1=("month", "max")
    )
    last = len(months) - 1
    next_month = [
        (pd.Period(m, "M") + 1).start_time.date() for m in months
    ]  # start of the month after each list
    out = pd.DataFrame(
        {
            "index_code": "HSI",
            "symbol": runs["symbol"].to_numpy(),
            "valid_from": [
                _MEMBERSHIP_START if m == 0 else _effective_date(_month_start(months[m]))
                for m in runs["m0"].to_numpy()
            ],
            "valid_to": [
                None if m == last else _effective_date(next_month[m]) for m in runs["m1"].to_numpy()
            ],
        }
    )
    extra = pd.DataFrame(
        [("HSI", s, f, t) for s, f, t in _HSI_OVERRIDES], columns=out.columns.tolist()
    )
    return pd.concat([out, extra], ignore_index=True)


def _review_membership(
    index_code: str, initial: tuple[str, ...], changes: tuple[tuple[date, str, str], ...]
) -> pd.DataFrame:
    """Intervals from an initial member list and (effective date, joining, leaving) changes."""
    open_from = dict.fromkeys(initial, _MEMBERSHIP_START)
    rows: list[tuple[str, str, date, date | None]] = []
    for eff, joining, leaving in sorted(changes):
        rows.append((index_code, leaving, open_from.pop(leaving), eff))
        open_from[joining] = eff
    rows += [(index_code, s, f, None) for s, f in open_from.items()]
    return pd.DataFrame(rows, columns=["index_code", "symbol", "valid_from", "valid_to"])


def build_index_membership() -> pd.DataFrame:
    """Derive all three indices' membership intervals (what the committed CSV holds)."""
    df = pd.concat(
        [
            derive_hsi_membership(),
            _review_membership("HSCEI", _HSCEI_INITIAL, _HSCEI_CHANGES),
            _review_membership("HSTECH", _HSTECH_INITIAL, _HSTECH_CHANGES),
        ],
        ignore_index=True,
    )
    return df.sort_values(["index_code", "symbol", "valid_from"], ignore_index=True)


def build_index_membership_csv(path: Path = INDEX_MEMBERSHIP_CSV) -> Path:
    """Write the derived membership to ``path`` (run after changing a list or a review)."""
    build_index_membership().to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


@functools.lru_cache(maxsize=1)
def _membership() -> pd.DataFrame:
    df = pd.read_csv(INDEX_MEMBERSHIP_CSV, dtype={"symbol": str})
    df["valid_from"] = _to_dates(df["valid_from"])
    df["valid_to"] = _to_dates(df["valid_to"])
    return df


def index_membership() -> pd.DataFrame:
    """``index_code, symbol, valid_from, valid_to`` (valid_to exclusive, None = open)."""
    return _membership().copy()


def _members_on(index_code: str, on: date) -> pd.DataFrame:
    m = _membership()
    vf = pd.to_datetime(m["valid_from"]).to_numpy()
    vt = pd.to_datetime(m["valid_to"]).to_numpy()
    d = np.datetime64(on, "ns")
    live = (m["index_code"] == index_code).to_numpy() & (vf <= d) & (np.isnat(vt) | (vt > d))
    return m.loc[live]


def capped_weights(market_cap: np.ndarray, cap: float = INDEX_CAP) -> np.ndarray:
    """Weights proportional to ``market_cap`` with none above ``cap``.

    Iterative: cap the heaviest, spread the excess over the rest in proportion, repeat.
    """
    m = np.asarray(market_cap, dtype=float)
    if len(m) * cap < 1:
        raise ValueError(f"{len(m)} members cannot all stay under a {cap:.0%} cap")
    capped = np.zeros(len(m), dtype=bool)
    while True:
        free = np.where(capped, 0.0, m)
        w = np.where(capped, cap, free / free.sum() * (1 - cap * capped.sum()))
        over = (w > cap * (1 + 1e-12)) & ~capped
        if not over.any():
            return w
        capped |= over


def index_weights(index_code: str, on: date) -> pd.DataFrame:
    """Members in force on ``on`` with cap factors (what ref.index_constituents publishes).

    The cap factor here is solved at anchor prices (2025-11-20 closes): a price-free reference
    for the anchor day. What the sample source publishes is reset at each quarterly review
    from the simulated closes before it (daily.review_cap_factors, docs/sample_market.md).
    """
    members = _members_on(index_code, on)
    u = _universe().set_index("symbol")
    sec = u.loc[members["symbol"], ["issued_shares", "faf", "anchor_price"]].to_numpy()
    mcap = sec[:, 0].astype(float) * sec[:, 1] * sec[:, 2]
    w = capped_weights(mcap)
    cf = w / (mcap / mcap.sum())
    cf = cf / cf.max()
    return pd.DataFrame(
        {
            "symbol": members["symbol"].to_numpy(),
            "issued_shares": sec[:, 0].astype(np.int64),
            "faf": sec[:, 1].astype(float),
            "cap_factor": cf,
            "valid_from": members["valid_from"].to_numpy(),
            "valid_to": members["valid_to"].to_numpy(),
        }
    ).sort_values("symbol", ignore_index=True)


# Monthly readings 2022-06 .. 2025-10 from recollection of the published figures; the months
# after are simulated continuations. Only the entries in _MACRO_REAL are confirmed facts.
_MACRO_FIRST, _MACRO_LAST, _MACRO_RECALLED_LAST = "2022-06", "2026-10", "2025-10"
_MACRO_VALUES: dict[str, tuple[float, ...]] = {
    "unemployment_rate_sa": (
        4.7, 4.3, 4.1, 3.9, 3.8, 3.7, 3.5,
        3.4, 3.3, 3.1, 3.0, 3.0, 2.9, 2.8, 2.8, 2.8, 2.9, 2.9, 2.9,
        2.9, 2.9, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.1, 3.1, 3.1,
        3.1, 3.2, 3.2, 3.4, 3.5, 3.5, 3.7, 3.7, 3.9, 3.8,
        3.8, 3.8, 3.8, 3.7, 3.7, 3.7, 3.6, 3.6, 3.6, 3.5, 3.5, 3.5,
    ),
    "pmi": (
        52.4, 52.3, 51.2, 48.0, 48.2, 48.7, 49.6,
        53.1, 53.9, 51.7, 50.3, 50.8, 50.3, 49.4, 49.8, 48.4, 48.9, 50.1, 49.6,
        49.9, 50.3, 51.3, 50.6, 49.1, 49.2, 49.4, 50.6, 49.7, 52.2, 50.1, 49.0,
        49.0, 48.8, 48.3, 48.3, 49.0, 49.1, 50.2, 51.0, 50.4, 51.2,
        50.8, 50.3, 49.9, 50.2, 50.6, 50.1, 49.7, 49.9, 50.4, 50.8, 50.5, 50.2,
    ),
    "fx_reserves": (
        446600, 438800, 434100, 424000, 419900, 424300, 424000,
        428900, 423000, 431800, 428400, 423900, 418800, 424800, 418400, 414200, 415800,
        419900, 425600,
        420900, 417100, 419400, 415600, 417900, 416900, 421900, 422600, 422700, 418300,
        421100, 421400,
        418400, 421900, 421400, 423800, 429000, 424300, 420800, 422500, 428100, 431000,
        429600, 430400, 428800, 431200, 432000, 429900, 430700, 432300, 431500, 433100,
        432400, 433800,
    ),
}  # fmt: skip
_MACRO_UNITS = {"unemployment_rate_sa": "percent", "pmi": "index", "fx_reserves": "USD million"}
_MACRO_REAL: frozenset[tuple[str, str]] = frozenset(
    {("unemployment_rate_sa", "2025-09"), ("unemployment_rate_sa", "2025-10"), ("pmi", "2025-10")}
)


def _release_dates(series_id: str, periods: pd.PeriodIndex) -> np.ndarray:
    """Release day in the month after each period, by each publisher's habit.

    Unemployment (C&SD): the first Tuesday on or after the 17th (2025-10 -> 2025-11-18).
    PMI (S&P Global): the third weekday, 1 January excluded (2025-10 -> 2025-11-05).
    FX reserves (HKMA): the first weekday on or after the 5th.
    """
    nxt = (periods + 1).start_time.to_numpy().astype("datetime64[D]")
    if series_id == "unemployment_rate_sa":
        return np.busday_offset(nxt + 16, 0, roll="forward", weekmask="Tue")
    if series_id == "pmi":
        new_years = nxt[(periods + 1).month == 1]
        return np.busday_offset(nxt, 2, roll="forward", holidays=new_years)
    return np.busday_offset(nxt + 4, 0, roll="forward")


@functools.lru_cache(maxsize=1)
def _macro() -> pd.DataFrame:
    periods = pd.period_range(_MACRO_FIRST, _MACRO_LAST, freq="M")
    release_time = {"unemployment_rate_sa": "16:30", "pmi": "08:30", "fx_reserves": None}
    frames = []
    for series_id, values in _MACRO_VALUES.items():
        released = pd.to_datetime(_release_dates(series_id, periods))
        clock = release_time[series_id]
        at = (
            (released + pd.Timedelta(f"{clock}:00")).tz_localize("Asia/Hong_Kong")
            if clock
            else pd.DatetimeIndex([pd.NaT] * len(periods)).tz_localize("Asia/Hong_Kong")
        )
        label = periods.strftime("%Y-%m")
        frames.append(
            pd.DataFrame(
                {
                    "series_id": series_id,
                    "period": label,
                    "value": np.asarray(values, dtype=float),
                    "unit": _MACRO_UNITS[series_id],
                    "released_on": _to_dates(released),
                    "released_at": at,
                    "is_real": [(series_id, p) in _MACRO_REAL for p in label],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def macro_readings() -> pd.DataFrame:
    """Monthly readings 2022-06 .. 2026-10 of unemployment_rate_sa, pmi and fx_reserves.

    ``is_real`` is True only for facts confirmed by the 2025-11-21 recap and SOURCES.md:
    unemployment 3.8 (2025-10, i.e. Aug-Oct 2025, released 2025-11-18), 3.9 (2025-09) and PMI
    51.2 (2025-10, released 2025-11-05). Readings up to 2025-10 are recollections of the
    published series (close, unverified); later months are simulated. Release days follow each
    publisher's habit (see ``_release_dates``); HKMA publishes no release time, so fx_reserves
    has ``released_at`` NaT. Unemployment periods are 3-month periods labelled by their end.
    """
    return _macro().copy()


@functools.lru_cache(maxsize=1)
def _hsi_closes() -> pd.Series:
    df = pd.read_csv(
        HSI_DAILY_CSV,
        skiprows=3,
        header=None,
        names=["date", "close", "high", "low", "open", "volume"],
    )
    return pd.Series(
        np.round(df["close"].to_numpy(dtype=float), 2),
        index=pd.Index(_to_dates(df["date"]), name="date"),
        name="HSI",
    )


def hsi_official_closes() -> pd.Series:
    """Real ^HSI daily closes (Yahoo export), rounded to 2 decimals, indexed by date."""
    return _hsi_closes().copy()


@functools.lru_cache(maxsize=1)
def _hsi_ohlc() -> pd.DataFrame:
    df = pd.read_csv(
        HSI_DAILY_CSV,
        skiprows=3,
        header=None,
        names=["date", "close", "high", "low", "open", "volume"],
    )
    out = pd.DataFrame(
        {c: np.round(df[c].to_numpy(dtype=float), 2) for c in ("open", "high", "low", "close")},
        index=pd.Index(_to_dates(df["date"]), name="date"),
    )
    bad = out[
        (out["high"] < out[["open", "close"]].max(axis=1))
        | (out["low"] > out[["open", "close"]].min(axis=1))
    ]
    if len(bad):
        raise ValueError(
            f"{HSI_DAILY_CSV}: the high/low of {len(bad)} day(s) do not contain the open and close"
            f" (first: {bad.index[0]}); fix those rows of the Yahoo export"
        )
    return out


def hsi_official_ohlc() -> pd.DataFrame:
    """Real ^HSI daily open, high, low and close (Yahoo export), rounded to 2 decimals.

    Indexed by date; the sample's HSI carries them on the close snapshot of each such day.
    """
    return _hsi_ohlc().copy()
