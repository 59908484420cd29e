"""The sample market's turnover calibrated to HKEX's published turnover.

Each day has a target for the equity turnover of the whole sample (HKD, full day): HKEX's
average daily turnover of the securities market for the month (its Monthly Market
Highlights), times the share of it done in equities (the rest is ETFs, L&I products,
derivative warrants and CBBCs, which the sample does not list), times the day's noise.
Where a real day's turnover is known it replaces the month's figure and the noise. The
target is split into sessions by a fixed intraday profile: MORNING_SHARE by mid-day, the
closing auction AUCTION_SHARE, the afternoon the rest (a half day is its morning and a
12:00 auction of 8% of the two; an afternoon that starts late after a weather morning
trades its share of the minutes).

intraday.simulate_day draws each share's turnover as before (liquidity times noise) and
scales it here: the ten names the recap pins (universe.RECAP_TOP_TURNOVER, whose
liquidity is their recap-day turnover) move with the market's target against the recap
day's, and every other share is scaled so the session meets its target; on the recap day's
morning the others are also held below the tenth pinned name (recap.apply_recap's caps).
Sources and which figures are choices: docs/sample_market.md, "Turnover calibrated to HKEX".
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from hk_pipeline import calendar
from hk_pipeline.sample_market.noise import cell_keys, normals, symbol_keys

# HKEX Monthly Market Highlights: average daily turnover of the securities market, HKD bn.
# Months marked "derived" are not stated on a page found; they are solved from the
# cumulative averages HKEX states (first n months) and the months' trading days
# (derived_months, which a test holds these to).
MONTHLY_ADT_BN: dict[str, float] = {
    "2023-06": 99.8,
    "2023-07": 102.3,
    "2023-08": 102.0,  # derived
    "2023-09": 90.3,
    "2023-10": 78.8,
    "2023-11": 95.6,
    "2023-12": 98.6,
    "2024-01": 96.7,
    "2024-02": 90.0,
    "2024-03": 111.2,
    "2024-04": 112.3,
    "2024-05": 140.1,  # derived
    "2024-06": 111.2,
    "2024-07": 98.6,
    "2024-08": 95.5,
    "2024-09": 169.2,
    "2024-10": 255.0,
    "2024-11": 161.5,
    "2024-12": 142.0,
    "2025-01": 143.8,
    "2025-02": 297.3,
    "2025-03": 280.2,
    "2025-04": 274.7,
    "2025-05": 210.4,  # derived
    "2025-06": 230.2,
    "2025-07": 262.9,
    "2025-08": 279.1,
    "2025-09": 316.7,
    "2025-10": 274.9,
    "2025-11": 230.7,
    "2025-12": 186.0,
    "2026-01": 272.3,
}
# After the last month found: the 2025 average (a choice, not a sourced month).
LATER_ADT_BN = 249.8

# Share of the securities market's turnover done in equities, by year: 1 - (ETFs + L&I
# products + derivative warrants + CBBCs) / all, from the same reports (REITs and debt,
# under 1%, are left in). 2023's warrant figure is 2024's (a choice: not found for 2023);
# 2026 is January's.
EQUITY_SHARE: dict[int, float] = {
    2023: 1 - (11.8 + 2.2 + 6.1 + 5.2) / 105.0,
    2024: 1 - (16.0 + 2.9 + 6.6 + 5.2) / 131.8,
    2025: 1 - (33.3 + 3.4 + 10.5 + 7.7) / 249.8,
    2026: 1 - (35.9 + 3.1 + 14.2 + 7.8) / 272.3,
}

# Real full-day turnover of the securities market on single days, HKD bn (HKEX records,
# ET Net's end-of-day figures, a press report of the recap day): these days take the real
# figure instead of the month's average and the noise.
DAY_TURNOVER_BN: dict[date, float] = {
    date(2024, 8, 5): 135.01,
    date(2024, 9, 30): 505.9,
    date(2024, 10, 8): 620.7,
    date(2024, 11, 5): 169.91,
    date(2024, 12, 19): 142.87,
    date(2025, 4, 23): 260.62,
    date(2025, 6, 13): 294.29,
    date(2025, 7, 7): 193.79,
    date(2025, 8, 5): 229.4,
    date(2025, 11, 21): 285.7,
    date(2026, 3, 19): 306.21,
}

# The intraday profile: the share of a full day's turnover done by mid-day (half-day
# turnover against the month's average in ET Net's reports: 41-50% on four of five days),
# and the closing auction's (HKEX: "more than 8%"; intraday.AUCTION_SHARE is the same).
MORNING_SHARE = 0.45
AUCTION_SHARE = 0.08
# The day's noise around the month's average: lognormal, mean one, clipped at two sigma
# (a choice: HKEX publishes daily figures only as highs and lows).
DAY_SIGMA = 0.25
DAY_CLIP = 2.0
S_DAY = 41  # noise stream of the day factor (keyed on "MARKET-TURNOVER" and the date)

# The recap's ten names away from the recap day: this share of their recap-day weight in
# the market (a choice, so the day's ten most traded shares make about 40% of the equity
# turnover, near the World Federation of Exchanges' 37% for Hong Kong in 2020).
LEAD_TYPICAL = 0.8
RECAP_DAY = date(2025, 11, 21)

_KEY = symbol_keys(np.array(["MARKET-TURNOVER"]))


def derived_months() -> dict[str, float]:
    """Months HKEX states only inside cumulative averages, solved with trading-day counts."""

    def days_in(year: int, months: range) -> list[int]:
        out = []
        for mth in months:
            start = date(year, mth, 1)
            end = date(year + (mth == 12), mth % 12 + 1, 1) - timedelta(days=1)
            out.append(len(calendar.trading_days(start, end)))
        return out

    # 2023: first 7 months 113.6, first 9 months 109.7 (July 102.3 and September 90.3 known).
    n = days_in(2023, range(1, 10))
    aug_2023 = (109.7 * sum(n) - 113.6 * sum(n[:7]) - 90.3 * n[8]) / n[7]
    # 2024: first 4 months 102.5, first 6 months 110.4 (June 111.2).
    n = days_in(2024, range(1, 7))
    may_2024 = (110.4 * sum(n) - 102.5 * sum(n[:4]) - 111.2 * n[5]) / n[4]
    # 2025: first 4 months 250.4, first 6 months 240.2 (June 230.2).
    n = days_in(2025, range(1, 7))
    may_2025 = (240.2 * sum(n) - 250.4 * sum(n[:4]) - 230.2 * n[5]) / n[4]
    return {
        "2023-08": round(aug_2023, 1),
        "2024-05": round(may_2024, 1),
        "2025-05": round(may_2025, 1),
    }


def month_adt(d: date) -> float:
    """HKEX's average daily turnover of the securities market for d's month, HKD."""
    return 1e9 * MONTHLY_ADT_BN.get(f"{d:%Y-%m}", LATER_ADT_BN)


def equity_share(d: date) -> float:
    years = sorted(EQUITY_SHARE)
    return EQUITY_SHARE[min(max(d.year, years[0]), years[-1])]


def month_equity_target(d: date) -> float:
    """The month's average daily equity turnover: the sourced figure the days scatter around."""
    return month_adt(d) * equity_share(d)


def day_factor(d: date) -> float:
    """The day's noise around the month's average (mean one, inside two sigma)."""
    z = float(normals(cell_keys(_KEY, np.uint64(d.toordinal())), S_DAY)[0])
    z = max(-DAY_CLIP, min(DAY_CLIP, z))
    return float(np.exp(DAY_SIGMA * z - DAY_SIGMA**2 / 2))


def day_target(d: date) -> float:
    """The full-day equity turnover the sample market meets on d, HKD."""
    real = DAY_TURNOVER_BN.get(d)
    if real is not None:
        return 1e9 * real * equity_share(d)
    return month_equity_target(d) * day_factor(d)


def session_targets(d: date) -> tuple[float, float]:
    """(morning, afternoon with its closing auction) equity turnover targets on d, HKD.

    A half day is its morning and its 12:00 auction (8% of the two); an afternoon that
    starts late after a weather morning trades its share of the minutes (its auction stays
    whole). A cancelled morning keeps its target: its bars are simulated and dropped
    (sample.simulated_day).
    """
    total = day_target(d)
    sess = calendar.session(d)
    morning = MORNING_SHARE * total
    if sess.is_half_day:
        # the 12:00 auction is AUCTION_SHARE of the half day's turnover, as of a full day's
        return morning, morning * AUCTION_SHARE / (1.0 - AUCTION_SHARE)
    continuous = (1.0 - MORNING_SHARE - AUCTION_SHARE) * total
    minutes = sess.afternoon_minutes / 180.0
    return morning, continuous * minutes + AUCTION_SHARE * total


def close_target(d: date) -> float:
    """The close snapshot's equity turnover target: both sessions, or the afternoon alone."""
    am, pm = session_targets(d)
    return (am if calendar.session(d).morning_traded else 0.0) + pm


def lead_scale(d: date) -> float:
    """What the recap's ten names' turnover (their recap-day level) is multiplied by on d.

    They move with the market's target against the recap day's; away from it, at
    LEAD_TYPICAL of their recap-day share (the recap day was a heavy sell-off in exactly
    these names).
    """
    ratio = day_target(d) / day_target(RECAP_DAY)
    return ratio if d == RECAP_DAY else ratio * LEAD_TYPICAL


def scale_session(
    raw: np.ndarray,
    lead: np.ndarray,
    lead_factor: float,
    target: float,
    cap: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Turnover of one session's traded shares meeting `target` in total.

    `lead` marks the recap's ten names: they take `raw * lead_factor`. `fixed` marks values
    kept as given (the recap's pins). The others are scaled by one factor so the session
    adds up to `target`, each held at or below `cap` where given (the factor is raised for
    the uncapped ones until the total is met). If the lead names alone pass the target the
    whole session is scaled down instead.
    """
    out = np.asarray(raw, dtype=float).copy()
    fixed = np.zeros(len(out), dtype=bool) if fixed is None else fixed
    lead_only = lead & ~fixed
    out[lead_only] *= lead_factor
    others = ~lead & ~fixed
    rest = target - float(out[~others].sum())
    base = out[others]
    if base.sum() <= 0:
        return out
    if rest <= 0.05 * target:
        # The ten would carry almost the whole session: scale everyone instead.
        return out * target / float(out.sum())
    if cap is None:
        out[others] = base * rest / float(base.sum())
        return out
    limit = np.asarray(cap, dtype=float)[others]
    if float(limit.sum()) < rest:
        raise RuntimeError(
            f"the session's turnover target {target:,.0f} HKD cannot be met with every share"
            " below the cap"
        )
    capped = np.zeros(len(base), dtype=bool)
    for _ in range(100):
        factor = (rest - float(limit[capped].sum())) / float(base[~capped].sum())
        over = ~capped & (base * factor > limit)
        if not over.any():
            break
        capped |= over
    out[others] = np.where(capped, limit, base * factor)
    return out
