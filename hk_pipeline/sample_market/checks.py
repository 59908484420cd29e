"""Realism checks of the sample market: each returns what it found wrong on one day.

Shared by the test suite (hk_pipeline_tests/sources/test_sample_realism.py, on review
dates, half days and a seeded sample of other days) and by benchmarks/sample_sweep.py,
which runs them over every day of the range. An empty list means the day passes.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from hk_pipeline import calendar
from hk_pipeline.sample_market import turnover
from hk_pipeline.sample_market.daily import DailyMarket
from hk_pipeline.sample_market.intraday import SimulatedDay
from hk_pipeline.sample_market.weights import INDEX_CAP

# The market's equity turnover against its target (turnover.py): board lots, random lot
# rounding and a traded share's one-lot minimum move it by well under a tenth of a percent.
TURNOVER_SLACK = 0.01
# The day's target against the month's average: the noise is clipped at two sigma.
DAY_BAND = (0.55, 1.65)
# The ten most traded shares' share of the equity turnover: the World Federation of
# Exchanges' yearly figures for Hong Kong range from 25.4% to 53.6% over 1998-2020 (37.1%
# in 2020); the recap's real figures give 42% of the 2025-11-21 morning. A single morning
# may sit a little outside a yearly range; the sample's stay inside it.
TOP10_BAND = (0.25, 0.54)
# Float slack for turnover / volume against a bar's low and high: turnover is a product of
# an integer volume and a price, rounded to the cent at most.
PRICE_SLACK = 1e-6


def hsi_real_ohlc(market: DailyMarket, day: SimulatedDay) -> list[str]:
    """The HSI bars carry the real open, high, low and close; mid-day inside the range."""
    ohlc = market.index_ohlc.get("HSI")
    k = market.day(day.trade_date)
    if ohlc is None or np.isnan(ohlc[1, k]):
        return []
    real_open, real_high, real_low = (round(float(v), 2) for v in ohlc[:, k])
    bars = day.index_bars["HSI"]
    mid = bars[bars["session"] == "midday"]
    found = {
        "open": float(bars["open"].iloc[0]),
        "high": float(bars["high"].max()),
        "low": float(bars["low"].min()),
    }
    wrong = [
        f"{day.trade_date} HSI {name} {got} != real {want}"
        for (name, got), want in zip(found.items(), (real_open, real_high, real_low), strict=True)
        if got != want
    ]
    close = round(float(market.index_close["HSI"][k]), 2)
    if float(bars["close"].iloc[-1]) != close:
        wrong.append(f"{day.trade_date} HSI last bar {bars['close'].iloc[-1]} != close {close}")
    if not (real_low <= float(mid["low"].min()) and float(mid["high"].max()) <= real_high):
        wrong.append(
            f"{day.trade_date} HSI mid-day range {mid['low'].min()}-{mid['high'].max()}"
            f" outside the real day range {real_low}-{real_high}"
        )
    level = round(float(market.index_midday["HSI"][k]), 2)
    if not real_low <= level <= real_high:
        wrong.append(f"{day.trade_date} HSI mid-day level {level} outside {real_low}-{real_high}")
    return wrong


def _vwap_outside(volume: np.ndarray, turnover: np.ndarray, low: np.ndarray, high: np.ndarray):
    traded = volume > 0
    vwap = np.where(traded, turnover / np.where(traded, volume, 1), np.nan)
    bad = traded & ((vwap < low - PRICE_SLACK) | (vwap > high + PRICE_SLACK))
    untraded_turnover = ~traded & (turnover != 0)
    return bad | untraded_turnover


def turnover_inside_range(market: DailyMarket, day: SimulatedDay) -> list[str]:
    """turnover / volume inside [low, high] for every bar and every cumulative quote."""
    wrong: list[str] = []
    symbols = market.symbols
    cum_vol = np.zeros(len(symbols))
    cum_turn = np.zeros(len(symbols))
    cum_low = np.full(len(symbols), np.inf)
    cum_high = np.full(len(symbols), -np.inf)
    for name, s in (("morning", day.morning), ("afternoon", day.afternoon)):
        bad = _vwap_outside(s.volume, s.turnover, s.low, s.high)
        for i, t in zip(*np.nonzero(bad), strict=True):
            wrong.append(
                f"{day.trade_date} {symbols[s.rows[i]]} {name} bar {s.ts[t]:%H:%M}: turnover"
                f" {s.turnover[i, t]} / volume {s.volume[i, t]} outside"
                f" [{s.low[i, t]}, {s.high[i, t]}]"
            )
        r = s.rows
        cum_vol[r] += s.volume.sum(axis=1)
        cum_turn[r] += s.turnover.sum(axis=1)
        cum_low[r] = np.minimum(cum_low[r], s.low.min(axis=1, initial=np.inf))
        cum_high[r] = np.maximum(cum_high[r], s.high.max(axis=1, initial=-np.inf))
        quote_bad = _vwap_outside(cum_vol, cum_turn, cum_low, cum_high)
        snapshot = "midday" if name == "morning" else "close"
        wrong += [
            f"{day.trade_date} {symbols[i]} {snapshot} quote: turnover {cum_turn[i]} / volume"
            f" {cum_vol[i]:.0f} outside [{cum_low[i]}, {cum_high[i]}]"
            for i in np.flatnonzero(quote_bad)
        ]
    return wrong


def board_lots(market: DailyMarket, day: SimulatedDay, max_odd_share: float = 0.02) -> list[str]:
    """Volumes are whole board lots plus a small odd-lot share; a traded share trades."""
    lots = market.universe["board_lot"].to_numpy(np.int64)
    wrong: list[str] = []
    total = 0
    odd_total = 0
    for name, s in (("morning", day.morning), ("afternoon", day.afternoon)):
        if len(s.rows) == 0:
            continue
        lot = lots[s.rows][:, None]
        odd = s.volume % lot
        # Odd lots are at most one odd-lot trade per bar: less than a board lot.
        total += int(s.volume.sum())
        odd_total += int(odd.sum())
        silent = np.flatnonzero(s.volume.sum(axis=1) == 0)
        wrong += [
            f"{day.trade_date} {market.symbols[s.rows[i]]} traded in the {name} with no volume"
            for i in silent
        ]
    if total and odd_total / total > max_odd_share:
        wrong.append(
            f"{day.trade_date}: odd lots are {odd_total / total:.2%} of volume,"
            f" above {max_odd_share:.0%}"
        )
    return wrong


def cap_on_review_dates(market: DailyMarket, day: SimulatedDay) -> list[str]:
    """On a review's effective date every index weight (at the previous close) is <= 8%."""
    k = market.day(day.trade_date)
    starts = {int(o) for o in market.cap_periods}
    if day.trade_date.toordinal() not in starts or k == 0:
        return []
    wrong = []
    for code, q in market.factors.items():
        weights = q[:, k] * np.nan_to_num(market.close[:, k - 1])
        if weights.sum() == 0:
            continue
        top = float(weights.max() / weights.sum())
        if top > INDEX_CAP + 1e-9:
            i = int(weights.argmax())
            wrong.append(
                f"{day.trade_date} {code}: {market.symbols[i]} weighs {top:.4%} on its review"
                f" date, above the {INDEX_CAP:.0%} cap"
            )
    return wrong


def closing_auction_share(
    market: DailyMarket, day: SimulatedDay, low: float = 0.04, high: float = 0.20
) -> list[str]:
    """The closing auction carries a realistic share of the day's turnover, half days too.

    HKEX: "more than 8% of full day turnover" (docs/sample_market.md). A half day's 12:00
    auction is sized the same way (about 9% of the half day in the sample), where it once
    took the whole afternoon's turnover (about 40%).
    """
    total = float(day.morning.turnover.sum() + day.afternoon.turnover.sum())
    if total == 0 or len(day.afternoon.rows) == 0:
        return []
    auction = float(day.afternoon.turnover[:, -1].sum())
    share = auction / total
    if not low <= share <= high:
        return [
            f"{day.trade_date}: the closing auction is {share:.1%} of the day's turnover,"
            f" outside {low:.0%}-{high:.0%}"
        ]
    return []


def turnover_figures(market: DailyMarket, day: SimulatedDay) -> dict[str, float]:
    """The day's equity turnover (HKD) and the ten most traded shares' share, per snapshot.

    As the snapshots report them: a morning cancelled by weather is not in the close.
    """
    n = len(market.symbols)
    morning = np.zeros(n)
    morning[day.morning.rows] = day.morning.turnover.sum(axis=1)
    close = np.zeros(n)
    if calendar.session(day.trade_date).morning_traded:
        close += morning
    close[day.afternoon.rows] += day.afternoon.turnover.sum(axis=1)

    def top10(values: np.ndarray) -> float:
        total = float(values.sum())
        return float(np.sort(values)[-10:].sum()) / total if total else float("nan")

    return {
        "midday": float(morning.sum()),
        "close": float(close.sum()),
        "midday_top10": top10(morning),
        "close_top10": top10(close),
    }


def turnover_calibrated(
    market: DailyMarket,
    day: SimulatedDay,
    slack: float = TURNOVER_SLACK,
    top10_band: tuple[float, float] = TOP10_BAND,
) -> list[str]:
    """The market's equity turnover meets the day's HKEX-based target; the top ten's share
    of it lies in the band Hong Kong has shown (docs/sample_market.md).

    Mid-day and close within `slack` of their targets (board lots and the one-lot minimum
    move them a little), the day's target within DAY_BAND of the month's sourced average
    (or equal to the real day's figure), the ten most traded shares inside `top10_band`.
    """
    d = day.trade_date
    found = turnover_figures(market, day)
    wrong = []
    am_target, _ = turnover.session_targets(d)
    targets = {"close": turnover.close_target(d)}
    if calendar.session(d).morning_traded:
        targets["midday"] = am_target
    for snap, target in targets.items():
        got = found[snap]
        if abs(got / target - 1.0) > slack:
            wrong.append(
                f"{d} {snap}: equity turnover {got / 1e9:.2f} bn HKD, target {target / 1e9:.2f} bn"
            )
        share = found[f"{snap}_top10"]
        if not top10_band[0] <= share <= top10_band[1]:
            wrong.append(
                f"{d} {snap}: the ten most traded shares make {share:.1%} of turnover, outside"
                f" {top10_band[0]:.0%}-{top10_band[1]:.0%}"
            )
    ratio = turnover.day_target(d) / turnover.month_equity_target(d)
    real = turnover.DAY_TURNOVER_BN.get(d)
    if real is None and not DAY_BAND[0] <= ratio <= DAY_BAND[1]:
        wrong.append(f"{d}: the day's target is {ratio:.2f} times the month's average")
    if real is not None and turnover.day_target(d) != 1e9 * real * turnover.equity_share(d):
        wrong.append(f"{d}: the day's target is not the real day's {real} bn")
    return wrong


CHECKS = {
    "hsi_real_ohlc": hsi_real_ohlc,
    "turnover_inside_range": turnover_inside_range,
    "board_lots": board_lots,
    "cap_on_review_dates": cap_on_review_dates,
    "closing_auction_share": closing_auction_share,
    "turnover_calibrated": turnover_calibrated,
}


def check_day(market: DailyMarket, day: SimulatedDay) -> dict[str, list[str]]:
    """Every check on one simulated day: name -> what it found wrong."""
    return {name: check(market, day) for name, check in CHECKS.items()}


def first_partition_day(market: DailyMarket) -> date:
    """Day 0 only seeds the previous close of the first partition day: it is not checked."""
    return market.days[1]
