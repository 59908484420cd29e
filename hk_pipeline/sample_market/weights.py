"""Capped index weights: no member of the sample's indices above ``INDEX_CAP`` of its index.

One capping rule (``capped_weights``) serves both the reference weights at anchor prices
(``index_weights``) and the cap factors the simulator resets at each quarterly review
(``exact_cap_factors``, used by ``daily.review_cap_factors``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from hk_pipeline.sample_market.membership import members_on
from hk_pipeline.sample_market.universe import securities_universe

INDEX_CAP = 0.08


def capped_weights(market_cap: np.ndarray, cap: float = INDEX_CAP) -> np.ndarray:
    """Weights proportional to ``market_cap`` with none above ``cap``.

    Names over the cap are fixed at it and the rest share what is left in proportion,
    repeated until no uncapped name is over: every capped weight ends exactly on the cap.
    """
    m = np.asarray(market_cap, dtype=float)
    if len(m) * cap < 1:
        raise ValueError(f"{len(m)} members cannot all stay under a {cap:.2%} cap")
    capped = np.zeros(len(m), dtype=bool)
    while True:
        free = np.where(capped, 0.0, m)
        w = np.where(capped, cap, free / free.sum() * (1.0 - cap * capped.sum()))
        over = (w > cap) & ~capped
        if not over.any():
            return w
        capped |= over


def exact_cap_factors(mcap: np.ndarray, cap: float) -> np.ndarray:
    """Cap factors (uncapped = 1) giving each capped member exactly `cap` of the index.

    The factors of ``capped_weights``: unlike cap_factors, whose capped names drift off the
    cap when a later round caps more names, every capped weight ends exactly on it.
    """
    m = np.asarray(mcap, dtype=float)
    cf = capped_weights(m, cap) / m
    return cf / cf.max()


def cap_factors(mcap: np.ndarray, cap: float = INDEX_CAP) -> np.ndarray:
    """Cap factors that hold every member's weight at or below `cap` (iterative capping)."""
    cf = np.ones_like(mcap, dtype=float)
    for _ in range(50):
        w = mcap * cf / (mcap * cf).sum()
        over = w > cap + 1e-12
        if not over.any():
            break
        capped_total = cap * over.sum()
        free = ~over
        free_weight = (mcap * cf)[free].sum()
        target_free = 1.0 - capped_total
        # Capped names take exactly `cap` of a total that the uncapped names fill.
        total = free_weight / target_free
        cf[over] = cap * total / mcap[over]
    return np.minimum(cf, 1.0)


def index_weights(index_code: str, on: date) -> pd.DataFrame:
    """Members in force on ``on`` with cap factors (what ref.index_constituents publishes).

    The cap factor here is solved at anchor prices (2025-11-20 closes): a price-free reference
    for the anchor day. What the sample source publishes is reset at each quarterly review
    from the simulated closes before it (daily.review_cap_factors, docs/sample_market.md).
    """
    members = members_on(index_code, on)
    u = securities_universe().set_index("symbol")
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
