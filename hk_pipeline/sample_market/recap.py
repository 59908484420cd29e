"""Pin the 2025-11-21 mid-day snapshot to the real review's figures.

What is fixed: the ten turnover names (previous close, last, turnover), the breadth
(233 up, 1,592 down, 901 flat, untraded counted as flat), the three index levels, and
the sector picture (technology leads the decline, property and healthcare rise). What is
free is solved: every other share's direction comes from a ranking of simulated returns
with sector tilts, and the index members' moves are adjusted by a least-squares step
(three equations, one per index) and then by whole ticks to land within a basis point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.sample_market import suspensions
from hk_pipeline.sample_market.daily import (
    ANCHOR_DAY,
    INDEX_CODES,
    DailyMarket,
    fit_to_target,
)
from hk_pipeline.sample_market.noise import cell_keys, normals, symbol_keys, uniforms
from hk_pipeline.ticks import round_to_tick, step_ticks

RECAP_DAY = date(2025, 11, 21)
RECAP_FILE = SAMPLE_DATA_DIR / "market-recap-2025-11-21-midday.json"
UNTRADED_AT_MIDDAY = 700
S_RECAP_RETURN, S_RECAP_LIQ, S_RECAP_CAP = 11, 12, 13
# Mid-day tilts by industry: technology leads the fall, property and healthcare rise.
TILTS = {
    "Information Technology": -0.030,
    "Properties & Construction": 0.022,
    "Healthcare": 0.022,
    "Financials": -0.006,
    "Consumer Discretionary": -0.012,
}
DEFAULT_TILT = -0.008


@dataclass
class RecapPins:
    """What the recap fixes, read from the reference JSON."""

    levels: dict[str, float]
    prev_closes: dict[str, float]
    top: list[dict]
    breadth: dict[str, int]
    turnover_am: dict[str, float] = field(default_factory=dict)
    turnover_cap: float = 0.0


def load_pins(path: Path = RECAP_FILE) -> RecapPins:
    doc = json.loads(path.read_text())
    levels = {i["index_code"]: float(i["level"]) for i in doc["indices"]}
    prevs = {
        i["index_code"]: float(i.get("prev_close", i.get("prev_close_chosen")))
        for i in doc["indices"]
    }
    top = doc["top_turnover"]
    return RecapPins(
        levels=levels,
        prev_closes=prevs,
        top=top,
        breadth=doc["breadth"],
        turnover_am={t["symbol"]: float(t["turnover_hkd"]) for t in top},
        turnover_cap=float(min(t["turnover_hkd"] for t in top)),
    )


def apply_recap(market: DailyMarket, pins: RecapPins) -> None:
    """Rewrite the recap day's mid-day prices and trading flags in place."""
    k = market.day(RECAP_DAY)
    assert market.days[k - 1] == ANCHOR_DAY
    alive = market.alive[:, k]
    prev = market.close[:, k - 1]
    if market.listing_day[:, k].any():
        raise RuntimeError("the sample universe must not list a share on the recap day")
    u = market.universe
    pos = {s: i for i, s in enumerate(market.symbols)}
    pinned = np.zeros(len(u), dtype=bool)
    pinned_last = np.full(len(u), np.nan)
    for t in pins.top:
        i = pos[t["symbol"]]
        pinned[i] = True
        pinned_last[i] = float(t["last"])
        if abs(prev[i] - float(t["prev_close"])) > 1e-9:
            raise RuntimeError(f"{t['symbol']}: anchor close {prev[i]} != recap {t['prev_close']}")

    members = np.zeros(len(u), dtype=bool)
    for code in INDEX_CODES:
        members |= market.factors[code][:, k] > 0
    keys = cell_keys(symbol_keys(market.symbols), np.uint64(RECAP_DAY.toordinal()))

    # Untraded by mid-day: the least liquid shares that are neither members nor pinned.
    liq_score = np.log(np.maximum(u["liquidity"].to_numpy(float), 1.0)) + 0.8 * normals(
        keys, S_RECAP_LIQ
    )
    # Suspended shares (suspensions.py, never members or pinned) are the first untraded.
    span = slice(k, k + 1)
    at_k = (market.alive[:, span], market.listing_day[:, span])
    off = suspensions.suspended(market.symbols, [RECAP_DAY], *at_k, market.factors)[:, 0]
    if (off & pinned).any():
        raise RuntimeError("a recap share is suspended on the recap day; see suspensions.py")
    liq_score = np.where(off, -np.inf, liq_score)
    candidates = np.flatnonzero(alive & ~members & ~pinned)
    untraded = candidates[np.argsort(liq_score[candidates])[:UNTRADED_AT_MIDDAY]]
    traded = alive.copy()
    traded[untraded] = False

    industry = u["industry"].to_numpy()
    tilt = np.array([TILTS.get(s, DEFAULT_TILT) for s in industry])
    beta = u["beta"].to_numpy(float)
    ret = tilt + beta * -0.012 + market.daily_vol * 0.8 * normals(keys, S_RECAP_RETURN)

    free = np.flatnonzero(traded & ~pinned)
    order = free[np.argsort(-ret[free], kind="stable")]
    n_up = pins.breadth["advancers"]
    n_down = pins.breadth["decliners"] - int(pinned.sum())
    n_flat = len(order) - n_up - n_down
    if n_flat < 0 or n_flat + UNTRADED_AT_MIDDAY != pins.breadth["unchanged"]:
        raise RuntimeError(
            f"recap breadth cannot be met: {alive.sum()} shares alive on {RECAP_DAY}, "
            f"{pins.breadth['total']} expected"
        )
    direction = np.zeros(len(u), dtype=int)
    direction[order[:n_up]] = 1
    direction[order[n_up + n_flat :]] = -1
    direction[pinned] = -1

    up_bound = step_ticks(prev.copy(), np.ones(len(u), dtype=int))
    down_bound = step_ticks(prev.copy(), -np.ones(len(u), dtype=int))
    raw = round_to_tick(np.where(alive, prev * np.exp(ret), 1.0))
    mid = np.where(direction == 1, np.maximum(raw, up_bound), raw)
    mid = np.where(direction == -1, np.minimum(mid, down_bound), mid)
    mid = np.where(direction == 0, prev, mid)
    mid = np.where(pinned, pinned_last, mid)
    mid = np.where(alive, mid, np.nan)

    adjustable = members & ~pinned & (direction != 0)
    targets = {
        code: float(np.nansum(market.factors[code][:, k] * prev))
        * pins.levels[code]
        / pins.prev_closes[code]
        for code in INDEX_CODES
    }
    lower = np.where(direction == 1, up_bound, 0.001)
    upper = np.where(direction == -1, down_bound, np.inf)
    mid = _least_squares(mid, market, k, targets, adjustable, lower, upper)
    mid = np.where(
        adjustable, np.clip(round_to_tick(np.nan_to_num(mid, nan=1.0)), lower, upper), mid
    )
    mid = _tick_fit(mid, market, k, targets, adjustable, lower, upper)

    for code in INDEX_CODES:
        got = float(np.nansum(market.factors[code][:, k] * mid))
        if abs(got / targets[code] - 1) > 1e-4:
            raise RuntimeError(
                f"{code}: recap mid-day level missed by {1e4 * (got / targets[code] - 1):.2f} bp"
            )

    market.midday[:, k] = np.where(traded, mid, np.nan)
    market.traded_am[:, k] = traded
    cap = pins.turnover_cap * (0.80 + 0.15 * uniforms(keys, S_RECAP_CAP))
    market.turnover_pins = {  # type: ignore[attr-defined]
        (k, pos[s]): v for s, v in pins.turnover_am.items()
    }
    market.turnover_caps = {k: cap}  # type: ignore[attr-defined]


def _least_squares(
    mid: np.ndarray,
    market: DailyMarket,
    k: int,
    targets: dict[str, float],
    adjustable: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Smallest change of log prices of the adjustable members meeting the three levels."""
    p = mid.copy()
    free = adjustable.copy()
    for _ in range(8):
        idx = np.flatnonzero(free)
        g = np.stack([market.factors[c][idx, k] * p[idx] for c in INDEX_CODES])
        resid = np.array(
            [targets[c] - float(np.nansum(market.factors[c][:, k] * p)) for c in INDEX_CODES]
        )
        if np.all(np.abs(resid) < 1e-9 * np.array(list(targets.values()))):
            break
        delta = g.T @ np.linalg.solve(g @ g.T, resid)
        new = p[idx] * np.exp(delta)
        clipped = np.clip(new, lower[idx], upper[idx])
        p[idx] = clipped
        # A member held at its bound stops moving; the others carry the rest.
        free[idx[clipped != new]] = False
    return p


def _tick_fit(
    mid: np.ndarray,
    market: DailyMarket,
    k: int,
    targets: dict[str, float],
    adjustable: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Whole-tick moves of members of one index only, so each level is fitted alone."""
    q = {c: market.factors[c][:, k] for c in INDEX_CODES}
    p = mid.copy()
    for code in INDEX_CODES:
        others = np.zeros(len(p), dtype=bool)
        for c in INDEX_CODES:
            if c != code:
                others |= q[c] > 0
        movable = adjustable & (q[code] > 0) & ~others
        p = fit_to_target(np.nan_to_num(p, nan=0.0), q[code], targets[code], movable, lower, upper)
    return np.where(np.isnan(mid), np.nan, p)
