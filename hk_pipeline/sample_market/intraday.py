"""One day of the sample market: 1-minute bars, snapshot quotes and index levels.

Each traded share walks a Brownian bridge on the tick table from its open to its mid-day
price over the morning, then from there to its close over the afternoon, ending in the
closing-auction bar. Quotes are the bars aggregated up to the snapshot, so they agree with
the bars by construction. Index bars are the Hang Seng formula over the members' minute
closes, nudged linearly (at most a basis point) so the last bar of each session equals the
official level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sample_market import turnover
from hk_pipeline.sample_market.daily import INDEX_CODES, DailyMarket
from hk_pipeline.sample_market.noise import cell_keys, normals, symbol_keys, uniforms
from hk_pipeline.sample_market.universe import RECAP_TOP_TURNOVER
from hk_pipeline.ticks import round_to_tick

MORNING_BARS = 150
AFTERNOON_BARS = 180
S_OPEN, S_PATH_AM, S_PATH_PM, S_WICK, S_TURN_AM, S_TURN_PM, S_WEIGHT, S_PRE = range(21, 29)
S_LOT_ROUND, S_ODD_BAR, S_ODD_SIZE = range(29, 32)
# The closing auction's share of a normal day's turnover: HKEX reported "more than 8% of full
# day turnover" over 2018-19 (docs/sample_market.md). The afternoon carries 55% of a day.
AUCTION_SHARE = turnover.AUCTION_SHARE
PM_SHARE = 1.0 - turnover.MORNING_SHARE
# Odd lots: on HKEX they trade apart from the board-lot book (the odd-lot/special-lot
# market) and are a small part of volume; a bar carries an odd-lot trade with this
# probability, of 1 to board_lot - 1 shares.
ODD_LOT_BAR_P = 0.04
# A share's turnover varies around its liquidity by this much from day to day (log sd);
# the recap's ten large caps, which trade every day in size, half as much (a choice: with
# the full spread, whichever of the ten has a busy day lifts the day's top ten above 50%
# of the market, against about 37% on HKEX).
SPREAD = 0.6
LEAD_SPREAD = 0.3


@dataclass
class SessionBars:
    """Bars of one session for the shares that traded in it: arrays [share, minute]."""

    rows: np.ndarray  # universe row of each share
    ts: list[datetime]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    turnover: np.ndarray


@dataclass
class SimulatedDay:
    trade_date: date
    morning: SessionBars
    afternoon: SessionBars  # afternoon bars and the auction bar (auction only on a half day)
    index_bars: dict[str, pd.DataFrame]  # per index: ts, open, high, low, close, session


def _minutes(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(minutes=i) for i in range(count)]


def _bridge(start: np.ndarray, end: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Tick-rounded closes of a log-space Brownian bridge from start to end (end exact)."""
    n = noise.shape[1]
    walk = np.cumsum(noise, axis=1)
    frac = np.arange(1, n + 1) / n
    a, b = np.log(start)[:, None], np.log(end)[:, None]
    path = a + (b - a) * frac[None, :] + walk - frac[None, :] * walk[:, -1:]
    closes = round_to_tick(np.exp(path))
    closes[:, -1] = end
    return closes


def _ohlc(opens0: np.ndarray, closes: np.ndarray, wick: np.ndarray) -> tuple[np.ndarray, ...]:
    opens = np.concatenate([opens0[:, None], closes[:, :-1]], axis=1)
    top = np.maximum(opens, closes)
    bottom = np.minimum(opens, closes)
    high = np.maximum(top, round_to_tick(top * np.exp(np.maximum(wick, 0.0))))
    low = np.minimum(bottom, round_to_tick(bottom * np.exp(np.minimum(wick, 0.0))))
    return opens, high, low


def _spread_turnover(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Whole HKD per bar that add up exactly to each share's total."""
    share = weights / weights.sum(axis=1, keepdims=True)
    whole = np.round(total)[:, None]
    bars = np.floor(share * whole)
    remainder = whole[:, 0] - bars.sum(axis=1)
    bars[np.arange(len(bars)), np.argmax(share, axis=1)] += remainder
    return bars


def _session(
    market: DailyMarket,
    k: int,
    rows: np.ndarray,
    start_price: np.ndarray,
    open_price: np.ndarray,
    end_price: np.ndarray,
    ts: list[datetime],
    total_turnover: np.ndarray,
    keys: np.ndarray,
    path_stream: int,
    exact: np.ndarray,
    auction_fraction: float = 0.0,
) -> SessionBars:
    n = len(ts)
    vol = market.daily_vol[rows] / np.sqrt(330.0)
    minute_keys = cell_keys(keys[rows][:, None], np.arange(n, dtype=np.uint64)[None, :])
    noise = normals(minute_keys, path_stream) * vol[:, None]
    closes = _bridge(open_price, end_price, noise) if n > 1 else end_price[:, None].copy()
    wick = normals(minute_keys, S_WICK) * vol[:, None] * 0.6
    opens, high, low = _ohlc(open_price, closes, wick)
    position = (np.arange(n) + 0.5) / n
    u_shape = 1.0 + 1.5 * (2.0 * position - 1.0) ** 2
    weights = u_shape[None, :] * np.exp(0.5 * normals(minute_keys, S_WEIGHT))
    if auction_fraction and n > 1:
        # The last bar is the closing auction: a fixed share of the session's turnover.
        weights[:, -1] = weights[:, :-1].sum(axis=1) * auction_fraction / (1.0 - auction_fraction)
    target = _spread_turnover(total_turnover, weights)
    volume, turnover = _trades(
        target,
        high,
        low,
        closes,
        market.universe["board_lot"].to_numpy(np.int64)[rows],
        minute_keys,
        exact,
        total_turnover,
    )
    del start_price
    return SessionBars(rows, ts, opens, high, low, closes, volume, turnover)


def _trades(
    target: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    closes: np.ndarray,
    lots: np.ndarray,
    minute_keys: np.ndarray,
    exact: np.ndarray,
    totals: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Volume and turnover per bar, so that turnover / volume lies in the bar's [low, high].

    Volume is whole board lots (the target turnover at the bar's typical price, rounded
    up or down at random so small shares keep their expected volume) plus now and then an
    odd lot; turnover is volume times a price inside the bar. A traded share trades at
    least one lot. Rows marked `exact` (the recap's pinned names) keep `totals` to the
    cent: their volumes move, then their bar prices inside [low, high] absorb the rest.
    """
    lot = lots[:, None].astype(float)
    price = np.clip(round_to_tick((high + low + closes) / 3.0), low, high)
    u = uniforms(minute_keys, S_LOT_ROUND)
    board = np.floor(target / (price * lot) + u)
    none = board.sum(axis=1) == 0
    if none.any():
        rows = np.flatnonzero(none)
        board[rows, np.argmax(target[rows], axis=1)] = 1.0
    odd_bar = (uniforms(minute_keys, S_ODD_BAR) < ODD_LOT_BAR_P) & (board > 0)
    odd = np.where(odd_bar, np.floor(uniforms(minute_keys, S_ODD_SIZE) * lot), 0.0)
    volume = board * lot + odd
    turnover = volume * price
    for i in np.flatnonzero(exact):
        volume[i], turnover[i] = _exact_row(
            volume[i], high[i], low[i], price[i], float(np.round(totals[i]))
        )
    return volume.astype(np.int64), turnover


def _exact_row(
    volume: np.ndarray, high: np.ndarray, low: np.ndarray, price: np.ndarray, total: float
) -> tuple[np.ndarray, np.ndarray]:
    """One share's bars re-sized so their turnover adds up to `total` exactly.

    Shares are added to (or taken from) the busiest bar until `total` lies between
    sum(volume * low) and sum(volume * high); then every bar's price moves the same
    fraction of its way from low to high.
    """
    v = volume.copy()
    j = int(np.argmax(v))
    shares = round((total - float((v * price).sum())) / float(price[j]))
    v[j] = max(0.0, v[j] + shares)
    lo, hi = float((v * low).sum()), float((v * high).sum())
    if not lo - 1e-6 <= total <= hi + 1e-6:
        raise RuntimeError(
            f"a pinned turnover of {total:,.0f} HKD cannot be met inside the bars' price"
            f" range ({lo:,.0f} to {hi:,.0f}): the recap pins need more intraday range"
        )
    frac = 0.0 if hi == lo else (total - lo) / (hi - lo)
    turnover = np.round(v * (low + frac * (high - low)), 2)
    # The cents lost to rounding go to the bar with the most room for them.
    roomiest = int(np.argmax(v * (high - low)))
    turnover[roomiest] += total - float(turnover.sum())
    return v, turnover


def simulate_day(market: DailyMarket, d: date) -> SimulatedDay:
    """Bars of every share and index for one trading day."""
    k = market.day(d)
    sess = calendar.session(d)
    u = market.universe
    keys = cell_keys(symbol_keys(market.symbols), np.uint64(d.toordinal()))
    prev = market.close[:, k - 1] if k > 0 else market.close[:, k]
    ref = np.where(np.isnan(prev), market.close[:, k], prev)
    liquidity = u["liquidity"].to_numpy(float)
    pins = getattr(market, "turnover_pins", {})
    caps = getattr(market, "turnover_caps", {})

    am = np.flatnonzero(market.traded_am[:, k])
    mid = market.midday[am, k]
    gap = 0.3 * np.log(mid / ref[am]) + 0.25 * market.daily_vol[am] * normals(keys[am], S_OPEN)
    open_am = round_to_tick(ref[am] * np.exp(gap))
    # Each share's turnover is drawn from its liquidity, then the session is scaled to the
    # market's target (turnover.py): the recap's ten move with the market, the rest fill it.
    target_am, target_pm = turnover.session_targets(d)
    lead = _lead_rows(market)
    lead_scale = turnover.lead_scale(d)
    spread = np.where(lead, LEAD_SPREAD, SPREAD)
    t_am = liquidity[am] * turnover.MORNING_SHARE * _noise(keys[am], S_TURN_AM, spread[am])
    exact_am = np.zeros(len(am), dtype=bool)
    for (pk, row), value in pins.items():
        if pk == k:
            t_am[np.searchsorted(am, row)] = value
            exact_am[np.searchsorted(am, row)] = True
    t_am = turnover.scale_session(
        t_am, lead[am], lead_scale, target_am, caps[k][am] if k in caps else None, exact_am
    )
    morning = _session(
        market,
        k,
        am,
        ref[am],
        open_am,
        mid,
        _minutes(sess.morning_open, MORNING_BARS),
        t_am,
        keys,
        S_PATH_AM,
        exact_am,
    )

    pm = np.flatnonzero(market.traded_pm[:, k])
    start_pm = np.where(market.traded_am[pm, k], market.midday[pm, k], ref[pm])
    end_pm = market.close[pm, k]
    # On a half day the afternoon is the 12:00 closing auction alone: 8% of the half day's
    # turnover (turnover.session_targets), not the afternoon's.
    t_pm_share = AUCTION_SHARE if sess.is_half_day else PM_SHARE
    t_pm = liquidity[pm] * t_pm_share * _noise(keys[pm], S_TURN_PM, spread[pm])
    t_pm = turnover.scale_session(t_pm, lead[pm], lead_scale, target_pm)
    if sess.is_half_day:
        ts_pm = [sess.morning_close]
    else:
        # afternoon_minutes is AFTERNOON_BARS except on a weather day that started late
        ts_pm = [*_minutes(sess.afternoon_open, sess.afternoon_minutes), sess.afternoon_close]
    afternoon = _session(
        market,
        k,
        pm,
        start_pm,
        start_pm,
        end_pm,
        ts_pm,
        t_pm,
        keys,
        S_PATH_PM,
        np.zeros(len(pm), dtype=bool),
        # the auction's share of the afternoon: 0.08 / 0.55, more after a late start
        auction_fraction=0.0
        if sess.is_half_day
        else AUCTION_SHARE * turnover.day_target(d) / target_pm,
    )
    index_bars = {
        code: _index_bars(market, k, code, morning, afternoon, ref) for code in INDEX_CODES
    }
    return SimulatedDay(d, morning, afternoon, index_bars)


def _noise(keys: np.ndarray, stream: int, spread: np.ndarray) -> np.ndarray:
    """A share's turnover around its expected level: lognormal with mean one."""
    return np.exp(spread * normals(keys, stream) - spread**2 / 2)


def _lead_rows(market: DailyMarket) -> np.ndarray:
    """Universe rows of the recap's ten turnover names (universe.RECAP_TOP_TURNOVER)."""
    return np.isin(market.symbols, list(RECAP_TOP_TURNOVER))


def _member_closes(bars: SessionBars, rows: np.ndarray, field: str) -> np.ndarray:
    pos = np.searchsorted(bars.rows, rows)
    if not np.array_equal(bars.rows[np.minimum(pos, len(bars.rows) - 1)], rows):
        raise RuntimeError("an index member has no bars in a session it must trade in")
    return getattr(bars, field)[pos]


def _index_bars(
    market: DailyMarket,
    k: int,
    code: str,
    morning: SessionBars,
    afternoon: SessionBars,
    ref: np.ndarray,
) -> pd.DataFrame:
    q_all = market.factors[code][:, k]
    rows = np.flatnonzero(q_all > 0)
    q = q_all[rows]
    prev_level = market.index_close[code][k - 1] if k > 0 else market.index_close[code][k]
    base = float((q * ref[rows]).sum())
    open_level = (
        prev_level * float((q * morning.open[np.searchsorted(morning.rows, rows), 0]).sum()) / base
    )
    am = prev_level * (q[:, None] * _member_closes(morning, rows, "close")).sum(axis=0) / base
    pm = prev_level * (q[:, None] * _member_closes(afternoon, rows, "close")).sum(axis=0) / base
    e_mid = market.index_midday[code][k] / am[-1] - 1.0
    e_close = market.index_close[code][k] / pm[-1] - 1.0
    am = am * (1.0 + e_mid * np.arange(1, len(am) + 1) / len(am))
    pm = pm * (1.0 + e_mid + (e_close - e_mid) * np.arange(1, len(pm) + 1) / len(pm))
    path = np.concatenate([[open_level], am, pm])
    ohlc = market.index_ohlc.get(code)
    # Day 0 only seeds the previous close of the first partition day; it has no levels.
    if ohlc is not None and not np.isnan(ohlc[1, k]) and np.isfinite(path).all():
        real_open, real_high, real_low = (float(v) for v in ohlc[:, k])
        anchors = {0: real_open, len(am): float(am[-1]), len(path) - 1: float(pm[-1])}
        path = fit_to_range(path, anchors, real_low, real_high)
    path = np.round(path, 2)
    closes = path[1:]
    opens = path[:-1]
    return pd.DataFrame(
        {
            "ts": morning.ts + afternoon.ts,
            "open": opens,
            "high": np.maximum(opens, closes),
            "low": np.minimum(opens, closes),
            "close": closes,
            "session": ["midday"] * len(am) + ["close"] * len(pm),
        }
    )


def fit_to_range(
    path: np.ndarray, anchors: dict[int, float], low: float, high: float
) -> np.ndarray:
    """The simulated level path bent to pass through `anchors` and span exactly [low, high].

    `path[0]` is the day's open and `path[i]` the close of bar i. The high and the low are
    placed where the simulated path peaks and troughs (unless an anchor already sits on
    them); between fixed points the path keeps its simulated wiggles, scaled down just
    enough to stay inside the real range, so the bars' max high is the real high and their
    min low the real low.
    """
    n = len(path)
    fixed = {i: round(v, 2) for i, v in anchors.items()}
    high, low = round(high, 2), round(low, 2)
    if not all(low <= v <= high for v in fixed.values()):
        raise ValueError(f"index anchors {fixed} lie outside the real day range {low}-{high}")
    free = np.ones(n, dtype=bool)
    free[list(fixed)] = False
    for target, pick in ((high, np.argmax), (low, np.argmin)):
        if target in fixed.values():
            continue
        candidates = np.flatnonzero(free)
        i = int(candidates[pick(path[candidates])])
        fixed[i] = target
        free[i] = False
    pos = np.array(sorted(fixed))
    vals = np.array([fixed[i] for i in pos])
    t = np.arange(n)
    line = np.interp(t, pos, vals)
    wiggle = path - np.interp(t, pos, path[pos])
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(
            wiggle > 0, (high - line) / wiggle, np.where(wiggle < 0, (low - line) / wiggle, np.inf)
        )
    scale = min(1.0, float(room.min()))
    out = line + scale * wiggle
    out[pos] = vals
    return np.clip(out, low, high)
