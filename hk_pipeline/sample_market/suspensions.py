"""Trading suspensions of the sample market: which shares are suspended on which day.

On any real trading day dozens of Hong Kong shares are suspended. HKEX's "Status Report on
Delisting Proceedings and Suspensions" counted 95 companies suspended for three months or
more at 31 August 2023 (77 Main Board, 18 GEM; 100 with the five whose delisting was
approved) out of 2,600 listed, i.e. about 3.7%; a company suspended for 18 continuous months
(12 on GEM) may be delisted. Short suspensions, pending an announcement, come on top: a few
a day, lasting days. The sample copies both (sources in docs/sample_market.md):

- long episodes, 3 to 18 months (90 to 540 calendar days), about 80 shares at a time;
- short episodes, 1 to 14 calendar days, about 15 shares at a time.

Pure and deterministic: whether a share is suspended on a day is a function of its symbol
and the calendar date only (hashed draws of ``noise``), never of which days are simulated.
Time is cut into fixed 28-day epochs of the calendar; each (symbol, epoch) draws whether a
long and whether a short episode starts in it, on which day and for how long, and a day is
suspended when an episode of its own or an earlier epoch covers it.

Index members never are (the simulator solves the index levels assuming they trade every
session, and a suspended heavyweight would be news the real lists show), nor is a share on
its listing day: the simulator applies :func:`eligible` to the raw draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from hk_pipeline.sample_market.noise import cell_keys, symbol_keys, uniforms

EPOCH_DAYS = 28
SALT = 0x5C5A  # keeps these draws apart from the simulator's (symbol, day) cells
# (probability an episode starts in a given epoch, shortest and longest duration in days)
LONG = (0.0028, 90, 540)
SHORT = (0.030, 1, 14)
_STREAMS = {"long": (1, 2, 3), "short": (4, 5, 6)}
STATUS = "suspended"
"""The raw.quotes trading_status of a suspended share."""


def _episodes(
    keys: np.ndarray, epochs: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(symbol row, first day ordinal, day ordinal after the last) of each episode."""
    p, shortest, longest = LONG if kind == "long" else SHORT
    s_has, s_start, s_len = _STREAMS[kind]
    cells = cell_keys(keys[:, None], epochs[None, :], np.uint64(SALT))
    has = uniforms(cells, s_has) < p
    rows, cols = np.nonzero(has)
    hit = cells[rows, cols]
    start = epochs[cols].astype(np.int64) * EPOCH_DAYS + np.floor(
        uniforms(hit, s_start) * EPOCH_DAYS
    ).astype(np.int64)
    # log-uniform durations: many short-ish episodes, a tail of long ones
    lo, hi = np.log(shortest), np.log(longest + 1)
    length = np.floor(np.exp(lo + (hi - lo) * uniforms(hit, s_len))).astype(np.int64)
    return rows, start, start + np.clip(length, shortest, longest)


def suspended_draws(symbols: Sequence[str] | np.ndarray, days: Sequence[date]) -> np.ndarray:
    """Boolean (symbols x days): the share's symbol draws a suspension covering the day.

    Before :func:`eligible` is applied: a delisted share or an index member may draw one.
    """
    out = np.zeros((len(symbols), len(days)), dtype=bool)
    if len(symbols) == 0 or len(days) == 0:
        return out
    ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
    keys = symbol_keys(np.asarray(symbols))
    lookback = LONG[2] // EPOCH_DAYS + 1
    epochs = np.arange(ordinals.min() // EPOCH_DAYS - lookback, ordinals.max() // EPOCH_DAYS + 1)
    for kind in ("long", "short"):
        rows, start, end = _episodes(keys, epochs.astype(np.uint64), kind)
        for r, a, b in zip(rows, start, end, strict=True):
            out[r] |= (ordinals >= a) & (ordinals < b)
    return out


def eligible(
    alive: np.ndarray, listing_day: np.ndarray, factors: dict[str, np.ndarray]
) -> np.ndarray:
    """Cells (shares x days, as ``alive``) that may be suspended: listed, not on the listing
    day, and the share never an index member over the whole range (``factors`` as in
    ``DailyMarket.factors``: shares x all days, > 0 while a member)."""
    member_any = np.zeros((alive.shape[0], 1), dtype=bool)
    for q in factors.values():
        member_any |= (q > 0).any(axis=1, keepdims=True)
    return alive & ~listing_day & ~member_any


def suspended(
    symbols: Sequence[str] | np.ndarray,
    days: Sequence[date],
    alive: np.ndarray,
    listing_day: np.ndarray,
    factors: dict[str, np.ndarray],
) -> np.ndarray:
    """Boolean (symbols x days): suspended all day. ``alive``/``listing_day`` are the
    columns of ``days``; ``factors`` cover the whole range (see :func:`eligible`)."""
    return suspended_draws(symbols, days) & eligible(alive, listing_day, factors)
