"""The HKEX spread table (Part A): the price steps a share can trade at.

Written by hand because no maintained library carries the HKEX spread table; it is
eleven rows of exchange rules (HKEX Trading Rules, Third Schedule).
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

# (upper bound of the band, tick within the band); a price equal to a bound is on both grids.
SPREAD_TABLE: tuple[tuple[float, float], ...] = (
    (0.25, 0.001),
    (0.50, 0.005),
    (10.00, 0.01),
    (20.00, 0.02),
    (100.00, 0.05),
    (200.00, 0.10),
    (500.00, 0.20),
    (1000.00, 0.50),
    (2000.00, 1.00),
    (5000.00, 2.00),
    (9995.00, 5.00),
)
_BOUNDS = np.array([b for b, _ in SPREAD_TABLE])
_TICKS = np.array([t for _, t in SPREAD_TABLE])


def tick_size(price: np.ndarray | float) -> np.ndarray:
    """Tick of the band each price falls in (band upper bounds inclusive)."""
    p = np.asarray(price, dtype=float)
    idx = np.clip(np.searchsorted(_BOUNDS, p, side="left"), 0, len(_TICKS) - 1)
    return _TICKS[idx]


def round_to_tick(price: np.ndarray | float) -> np.ndarray:
    """Nearest price on the spread table (never below the smallest tick)."""
    p = np.maximum(np.asarray(price, dtype=float), 0.01)
    tick = tick_size(p)
    rounded = np.round(p / tick) * tick
    # Rounding up across a band bound can land off the coarser grid; re-round once.
    tick2 = tick_size(rounded)
    return np.round(np.round(rounded / tick2) * tick2, 3)


def step_ticks(price: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Move each price by an integer number of ticks (one tick at a time across bands)."""
    p = np.asarray(price, dtype=float).copy()
    s = np.asarray(steps, dtype=int)
    for _ in range(int(np.abs(s).max(initial=0))):
        up = s > 0
        down = s < 0
        p[up] = np.round(p[up] + tick_size(p[up] + 1e-9), 3)
        p[down] = np.round(p[down] - tick_size(p[down] - 1e-9), 3)
        s = s - np.sign(s)
    return p


def on_tick(price: np.ndarray | float, tol: float = 1e-6) -> np.ndarray:
    """True where a price lies on the spread table."""
    p = np.asarray(price, dtype=float)
    tick = tick_size(p)
    ratio = p / tick
    return (np.abs(ratio - np.round(ratio)) < tol) & (p > 0)


_BOUND_LIST = [b for b, _ in SPREAD_TABLE]


def tick_of(price: float) -> float:
    """Scalar tick_size, for loops that move one price at a time."""
    return SPREAD_TABLE[min(bisect_left(_BOUND_LIST, price), len(SPREAD_TABLE) - 1)][1]


def step_price(price: float, steps: int) -> float:
    """Scalar step_ticks: move one price by whole ticks, band by band."""
    for _ in range(abs(steps)):
        if steps > 0:
            price = round(price + tick_of(price + 1e-9), 3)
        else:
            price = round(price - tick_of(price - 1e-9), 3)
    return price
