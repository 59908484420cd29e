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
from hk_pipeline.sources.sample_market.daily import INDEX_CODES, DailyMarket
from hk_pipeline.sources.sample_market.noise import cell_keys, normals, symbol_keys
from hk_pipeline.ticks import round_to_tick

MORNING_BARS = 150
AFTERNOON_BARS = 180
S_OPEN, S_PATH_AM, S_PATH_PM, S_WICK, S_TURN_AM, S_TURN_PM, S_WEIGHT, S_PRE = range(21, 29)
AUCTION_SHARE = 0.08


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
    turnover = _spread_turnover(total_turnover, weights)
    volume = np.round(turnover / ((high + low + closes) / 3.0)).astype(np.int64)
    del start_price
    return SessionBars(rows, ts, opens, high, low, closes, volume, turnover)


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
    t_am = liquidity[am] * 0.45 * np.exp(0.6 * normals(keys[am], S_TURN_AM) - 0.18)
    if k in caps:
        t_am = np.minimum(t_am, caps[k][am])
    for (pk, row), value in pins.items():
        if pk == k:
            t_am[np.searchsorted(am, row)] = value
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
    )

    pm = np.flatnonzero(market.traded_pm[:, k])
    start_pm = np.where(market.traded_am[pm, k], market.midday[pm, k], ref[pm])
    end_pm = market.close[pm, k]
    t_pm = liquidity[pm] * 0.55 * np.exp(0.6 * normals(keys[pm], S_TURN_PM) - 0.18)
    if sess.is_half_day:
        ts_pm = [sess.morning_close]
    else:
        ts_pm = [*_minutes(sess.afternoon_open, AFTERNOON_BARS), sess.afternoon_close]
    afternoon = _session(market, k, pm, start_pm, start_pm, end_pm, ts_pm, t_pm, keys, S_PATH_PM)
    index_bars = {
        code: _index_bars(market, k, code, morning, afternoon, ref) for code in INDEX_CODES
    }
    return SimulatedDay(d, morning, afternoon, index_bars)


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
    closes = np.round(np.concatenate([am, pm]), 2)
    opens = np.concatenate([[round(open_level, 2)], closes[:-1]])
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
