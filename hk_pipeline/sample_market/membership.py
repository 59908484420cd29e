"""Index membership of the sample market: HSI from the real monthly lists, HSCEI and HSTECH
from the review tables below, and the quarterly reviews' effective dates.

Membership is derived by ``build_index_membership()`` and committed as
``data/index_membership.csv`` by ``build_index_membership_csv()``; at run time
``index_membership()`` only reads the CSV, and a test checks that the CSV matches a fresh
derivation. The HSCEI and HSTECH review history is real-looking, not checked against Hang
Seng's notices.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.sample_market.dates import to_dates

INDEX_MEMBERSHIP_CSV = SAMPLE_DATA_DIR / "index_membership.csv"
HSI_LISTS_DIR = SAMPLE_DATA_DIR / "hsi_constituents"

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
    df["valid_from"] = to_dates(df["valid_from"])
    df["valid_to"] = to_dates(df["valid_to"])
    return df


def index_membership() -> pd.DataFrame:
    """``index_code, symbol, valid_from, valid_to`` (valid_to exclusive, None = open)."""
    return _membership().copy()


def members_on(index_code: str, on: date) -> pd.DataFrame:
    """The membership rows of ``index_code`` in force on ``on``."""
    m = _membership()
    vf = pd.to_datetime(m["valid_from"]).to_numpy()
    vt = pd.to_datetime(m["valid_to"]).to_numpy()
    d = np.datetime64(on, "ns")
    live = (m["index_code"] == index_code).to_numpy() & (vf <= d) & (np.isnat(vt) | (vt > d))
    return m.loc[live]
