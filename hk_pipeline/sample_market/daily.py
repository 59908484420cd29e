"""Daily closes, mid-day prices and index levels of the sample market over the whole calendar.

Each share's fair log price is a market factor times its beta, plus an industry factor and
its own noise, all cumulative sums of hashed normals and all measured from an anchor: the
2025-11-20 close (the recap's previous close) or, for a later listing, its listing day.
The market factor of each day is solved so that the Hang Seng formula over the HSI
constituents' tick-rounded closes meets the official close (the real ^HSI close where it
is known): forward from the anchor day, backward before it, a 1-D Newton solve a day,
then a few constituents are moved by whole ticks to land within a fraction of a basis point.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.sample_market import suspensions
from hk_pipeline.sample_market.noise import cell_keys, normals, symbol_keys, uniforms
from hk_pipeline.sample_market.weights import INDEX_CAP, cap_factors, exact_cap_factors
from hk_pipeline.ticks import round_to_tick, step_price, tick_of, tick_size

ANCHOR_DAY = date(2025, 11, 20)
# Previous closes the recap implies for HSCEI and HSTECH (reference JSON, prev_close_chosen).
ANCHOR_LEVELS = {"HSCEI": 9143.0, "HSTECH": 5574.6}
CAP_PASSES = 2  # solves with review cap factors (see simulate)
# The HSI's review cap factors are set for 7.98%: between the last two solves the closes
# before a review move by a tick here and there, which moves a capped weight by up to about
# 0.008 of a point; the margin keeps every HSI weight at or under 8% on its review day.
HSI_SOLVE_CAP = INDEX_CAP - 0.0002

MARKET_VOL = 0.011
SECTOR_VOL = 0.006
MIDDAY_SHARE = 0.5  # share of the day's log move done by the mid-day snapshot
MIDDAY_VOL = 0.35  # mid-day noise as a share of a share's own daily volatility
# How far inside the real HSI day range (index points, at most a quarter of the range) a
# mid-day level solved into it lands: room for the tick fit and the 2-decimal rounding.
MIDDAY_RANGE_MARGIN = 1.0

# Noise streams; changing one changes that stream everywhere, never another.
S_IDIO, S_SECTOR, S_MARKET, S_MIDDAY, S_TRADE_AM, S_TRADE_PM = range(1, 7)


@dataclass
class DailyMarket:
    """Every share and index on every trading day, as matrices [share, day]."""

    days: list[date]
    symbols: np.ndarray
    universe: pd.DataFrame
    alive: np.ndarray
    listing_day: np.ndarray  # True on the day a share lists (no previous close)
    fair: np.ndarray
    close: np.ndarray
    midday: np.ndarray  # NaN where untraded by mid-day
    traded_am: np.ndarray
    traded_pm: np.ndarray
    factors: dict[str, np.ndarray]  # index -> [share, day] IS*FAF*CF (0 where not a member)
    index_close: dict[str, np.ndarray]
    index_midday: dict[str, np.ndarray]
    daily_vol: np.ndarray
    # index -> [3, day] real open, high, low (NaN where the reference has none): the close
    # snapshot's bars are fitted to them (intraday._index_bars).
    index_ohlc: dict[str, np.ndarray] = field(default_factory=dict)
    # Cap factors as reset at each review: period starts (date ordinals, ascending) and per
    # index a [share, period] matrix, NaN where the share is not a member from that start.
    cap_periods: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cap_factor: dict[str, np.ndarray] = field(default_factory=dict)

    def day(self, d: date) -> int:
        try:
            return self._day_pos[d]
        except KeyError:
            raise ValueError(
                f"{d} is not a trading day of the sample market ({self.days[0]} to {self.days[-1]})"
            ) from None

    def __post_init__(self) -> None:
        self._day_pos = {d: i for i, d in enumerate(self.days)}


def _ordinal(days: list[date]) -> np.ndarray:
    return np.array([d.toordinal() for d in days], dtype=np.uint64)


def constituent_factors(
    universe: pd.DataFrame, membership: pd.DataFrame, market: DailyMarket | None = None
) -> pd.DataFrame:
    """IS*FAF*CF per membership row.

    With a `market` built with review dates, the rows are split at each review and carry
    the cap factor that review set (review_factor_rows). Otherwise (the first solve, or a
    market without reviews) one CF per (index, symbol), set on the anchor day: computed on
    the members of 2025-11-20 at anchor prices, members not in that list capped against the
    same total.
    """
    if market is not None and market.cap_factor:
        return review_factor_rows(universe, membership, market.cap_periods, market.cap_factor)
    u = universe.set_index("symbol")
    rows = membership.copy()
    rows["issued_shares"] = rows["symbol"].map(u["issued_shares"]).astype("int64")
    rows["faf"] = rows["symbol"].map(u["faf"]).astype(float)
    mcap_all = (
        rows["symbol"].map(u["anchor_price"]).to_numpy(float) * rows["issued_shares"] * rows["faf"]
    )
    rows["mcap"] = mcap_all
    rows["cap_factor"] = 1.0
    for _code, grp in rows.groupby("index_code"):
        in_force = (grp["valid_from"] <= ANCHOR_DAY) & (
            grp["valid_to"].isna() | (grp["valid_to"] > ANCHOR_DAY)
        )
        anchor = grp[in_force]
        cf_anchor = cap_factors(anchor["mcap"].to_numpy())
        total = float((anchor["mcap"].to_numpy() * cf_anchor).sum())
        by_symbol = dict(zip(anchor["symbol"], cf_anchor, strict=True))
        others = np.minimum(1.0, INDEX_CAP * total / grp["mcap"].to_numpy())
        cf = [by_symbol.get(s, o) for s, o in zip(grp["symbol"], others, strict=True)]
        rows.loc[grp.index, "cap_factor"] = np.round(np.asarray(cf, dtype=float), 6)
    rows["factor"] = rows["issued_shares"] * rows["faf"] * rows["cap_factor"]
    return rows.drop(columns=["mcap"])


def split_at_periods(membership: pd.DataFrame, starts: dict[str, list[date]]) -> pd.DataFrame:
    """Membership rows cut at each of their index's period starts (valid_to exclusive).

    A member that stays through a review gets one row per review period, each with that
    review's cap factor, as Hang Seng republishes factors at every review.
    """
    out = []
    for r in membership.itertuples(index=False):
        end = None if pd.isna(r.valid_to) else r.valid_to
        cuts = [d for d in starts[r.index_code] if r.valid_from < d and (end is None or d < end)]
        bounds = [r.valid_from, *cuts, end]
        for lo, hi in itertools.pairwise(bounds):
            out.append((r.index_code, r.symbol, lo, hi))
    return pd.DataFrame(out, columns=["index_code", "symbol", "valid_from", "valid_to"])


def period_starts(
    membership: pd.DataFrame, review_dates: tuple[date, ...]
) -> dict[str, list[date]]:
    """Per index: the dates its cap factors are set on (first start, reviews, any change)."""
    out = {}
    for code, grp in membership.groupby("index_code"):
        dates = {*grp["valid_from"], *[d for d in grp["valid_to"] if not pd.isna(d)]}
        first = min(grp["valid_from"])
        out[str(code)] = sorted({*dates, *[d for d in review_dates if d > first]})
    return out


def review_cap_factors(
    universe: pd.DataFrame,
    membership: pd.DataFrame,
    review_dates: tuple[date, ...],
    closes: np.ndarray,
    days: list[date],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Cap factors set at every review with the closes of the trading day before it.

    Hang Seng recomputes the cap factors at each quarterly review so that no constituent
    weighs more than the cap when the review takes effect; between reviews the weights
    drift with prices. Issued shares and free float are the sample's constants, so the
    review's cut-off data are the previous close's prices times those.
    """
    starts = period_starts(membership, review_dates)
    all_starts = sorted({d for v in starts.values() for d in v})
    pos = {s: i for i, s in enumerate(universe["symbol"])}
    weight_base = universe["issued_shares"].to_numpy(float) * universe["faf"].to_numpy(float)
    day_arr = np.array(days, dtype="datetime64[D]")
    cf = {c: np.full((len(universe), len(all_starts)), np.nan) for c in starts}
    pieces = split_at_periods(membership, starts)
    for (code, start), grp in pieces.groupby(["index_code", "valid_from"]):
        k = max(int(np.searchsorted(day_arr, np.datetime64(start, "D"))) - 1, 0)
        rows = np.array([pos[s] for s in grp["symbol"]])
        prices = closes[rows, k]
        if np.isnan(prices).any():
            missing = grp["symbol"].to_numpy()[np.isnan(prices)]
            raise ValueError(
                f"{code} review of {start}: no close on {days[k]} for {list(missing)};"
                " a member must be listed before the review takes effect"
            )
        # A millionth of a point below the cap: rounding the capped factors down to 6
        # decimals moves weight to the uncapped, and one just under the cap must stay under.
        factors = exact_cap_factors(
            prices * weight_base[rows], HSI_SOLVE_CAP if code == "HSI" else INDEX_CAP - 1e-6
        )
        # Published to 6 decimals, rounded down so a capped weight never rounds above the cap.
        rounded = np.where(factors > 1.0 - 1e-9, 1.0, np.floor(factors * 1e6) / 1e6)
        cf[str(code)][rows, all_starts.index(start)] = rounded
    periods = np.array([d.toordinal() for d in all_starts], dtype=np.int64)
    return periods, cf


def review_factor_rows(
    universe: pd.DataFrame, membership: pd.DataFrame, periods: np.ndarray, cf: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Membership rows split per review period, with IS, FAF, that period's CF and factor."""
    starts = {
        code: [
            date.fromordinal(int(o))
            for j, o in enumerate(periods)
            if not np.isnan(matrix[:, j]).all()
        ]
        for code, matrix in cf.items()
    }
    pieces = split_at_periods(membership, starts)
    u = universe.set_index("symbol")
    pos = {s: i for i, s in enumerate(universe["symbol"])}
    col = {int(o): i for i, o in enumerate(periods)}
    pieces["issued_shares"] = pieces["symbol"].map(u["issued_shares"]).astype("int64")
    pieces["faf"] = pieces["symbol"].map(u["faf"]).astype(float)
    pieces["cap_factor"] = [
        float(cf[c][pos[s], col[d.toordinal()]])
        for c, s, d in zip(
            pieces["index_code"], pieces["symbol"], pieces["valid_from"], strict=True
        )
    ]
    pieces["factor"] = pieces["issued_shares"] * pieces["faf"] * pieces["cap_factor"]
    return pieces


def _membership_matrix(
    rows: pd.DataFrame, code: str, sym_pos: dict[str, int], days: list[date], n: int
) -> np.ndarray:
    q = np.zeros((n, len(days)))
    day_arr = np.array(days, dtype="datetime64[D]")
    for r in rows[rows["index_code"] == code].itertuples():
        start = np.searchsorted(day_arr, np.datetime64(r.valid_from, "D"))
        stop = (
            len(days)
            if pd.isna(r.valid_to)
            else np.searchsorted(day_arr, np.datetime64(r.valid_to, "D"))
        )
        q[sym_pos[r.symbol], start:stop] = r.factor
    return q


def _newton(off: np.ndarray, beta: np.ndarray, q: np.ndarray, target: float, x0: float) -> float:
    x = x0
    for _ in range(30):
        p = q * np.exp(off + beta * x)
        f = p.sum() - target
        df = (p * beta).sum()
        step = f / df
        x -= step
        if abs(step) < 1e-12:
            break
    return x


def fit_to_target(
    prices: np.ndarray,
    q: np.ndarray,
    target: float,
    movable: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """Move movable prices by whole ticks (at most 3 each) so sum(q*p) comes closest to target.

    Greedy from the biggest step to the smallest: the residual ends below half the
    smallest step, far inside a basis point for an index of dozens of members. Optional
    bounds (inclusive) keep a price on its side of the previous close.
    """
    p = prices.copy()
    idx = np.flatnonzero(movable & (q > 0))
    if len(idx) == 0:
        return p
    lo = np.zeros_like(p) if lower is None else lower
    hi = np.full_like(p, np.inf) if upper is None else upper
    order = idx[np.argsort(-(q[idx] * tick_size(p[idx])))]
    resid = target - float(np.nansum(q * p))
    for j in order.tolist():
        step = q[j] * tick_of(p[j])
        n = max(-3, min(3, round(resid / step)))
        if n:
            moved = step_price(float(p[j]), n)
            if moved > 0 and lo[j] - 1e-9 <= moved <= hi[j] + 1e-9:
                resid -= q[j] * (moved - p[j])
                p[j] = moved
    return p


def simulate(
    universe: pd.DataFrame,
    membership: pd.DataFrame,
    official_hsi: pd.Series,
    days: list[date],
    review_dates: tuple[date, ...] = (),
) -> DailyMarket:
    """Build the daily market over `days` (all trading days, anchor day included).

    With `review_dates`, cap factors are reset at each review (review_cap_factors); without,
    one cap factor per member is set at anchor prices (constituent_factors).
    """
    n, m = len(universe), len(days)
    symbols = universe["symbol"].to_numpy()
    sym_pos = {s: i for i, s in enumerate(symbols)}
    k_star = days.index(ANCHOR_DAY)
    day_arr = np.array(days, dtype="datetime64[D]")
    listed = np.searchsorted(
        day_arr, pd.to_datetime(universe["listed_on"]).to_numpy("datetime64[D]")
    )
    delisted_dates = pd.to_datetime(universe["delisted_on"])
    delisted = np.where(
        delisted_dates.isna(),
        m,
        np.searchsorted(
            day_arr, delisted_dates.fillna(pd.Timestamp("2100-01-01")).to_numpy("datetime64[D]")
        ),
    )
    cols = np.arange(m)
    alive = (cols[None, :] >= listed[:, None]) & (cols[None, :] < delisted[:, None])
    listing_day = cols[None, :] == listed[:, None]
    anchor_k = np.where(listed > k_star, listed, k_star)

    keys = cell_keys(symbol_keys(symbols)[:, None], _ordinal(days)[None, :])
    liquidity = universe["liquidity"].to_numpy(float)
    # Small, thinly traded shares move more: 1.2% a day for the largest, up to 3.5%.
    vol = np.clip(0.035 - 0.0035 * np.log10(np.maximum(liquidity, 1e3) / 1e4), 0.012, 0.035)
    idio = np.cumsum(normals(keys, S_IDIO) * vol[:, None], axis=1)

    industries = universe["industry"].to_numpy()
    ind_names = np.unique(industries)
    ind_keys = cell_keys(symbol_keys(ind_names)[:, None], _ordinal(days)[None, :])
    sector_paths = np.cumsum(normals(ind_keys, S_SECTOR) * SECTOR_VOL, axis=1)
    ind_pos = np.searchsorted(ind_names, industries)
    sector = sector_paths[ind_pos]

    rows = np.arange(n)
    base = (
        np.log(universe["anchor_price"].to_numpy(float))[:, None]
        + (sector - sector[rows, anchor_k][:, None])
        + (idio - idio[rows, anchor_k][:, None])
    )
    beta = universe["beta"].to_numpy(float)

    # Cap factors depend on the closes before each review and the solved closes on the cap
    # factors, so: solve with factors set at anchor prices, reset the factors at every review
    # from those closes, solve again, twice. The last solve's HSI factors are the ones
    # published, so the HSI closes stay exact; the HSI cap holds at each review to within
    # the last pass's change (well under 0.001 of a weight point), HSCEI's and HSTECH's
    # exactly (they are set from the final closes, which they do not feed back into).
    factors_rows = constituent_factors(universe, membership)
    factors = {c: _membership_matrix(factors_rows, c, sym_pos, days, n) for c in INDEX_CODES}
    x, close_idx, hsi = _solve_market(
        base, beta, anchor_k, alive, factors, official_hsi, days, k_star, universe
    )
    periods = np.zeros(0, dtype=np.int64)
    cf: dict[str, np.ndarray] = {}
    if review_dates:
        for _ in range(CAP_PASSES):
            periods, cf = review_cap_factors(universe, membership, review_dates, close_idx, days)
            rows = review_factor_rows(universe, membership, periods, cf)
            factors = {c: _membership_matrix(rows, c, sym_pos, days, n) for c in INDEX_CODES}
            x, close_idx, hsi = _solve_market(
                base, beta, anchor_k, alive, factors, official_hsi, days, k_star, universe
            )
        final_periods, final_cf = review_cap_factors(
            universe, membership, review_dates, close_idx, days
        )
        if not np.array_equal(final_periods, periods):
            raise RuntimeError("review periods changed between cap-factor passes")
        for code in ("HSCEI", "HSTECH"):
            cf[code] = final_cf[code]
        rows = review_factor_rows(universe, membership, periods, cf)
        factors = {c: _membership_matrix(rows, c, sym_pos, days, n) for c in INDEX_CODES}
    fair = np.exp(base + beta[:, None] * (x[None, :] - x[anchor_k][:, None]))
    fair[~alive] = np.nan

    midday_noise = normals(keys, S_MIDDAY) * vol[:, None] * MIDDAY_VOL
    prev_fair = np.concatenate([fair[:, :1], fair[:, :-1]], axis=1)
    midday = round_to_tick(
        np.nan_to_num(
            np.exp(np.log(prev_fair) + MIDDAY_SHARE * np.log(fair / prev_fair) + midday_noise),
            nan=1.0,
        )
    )

    # Every share that is ever an index member trades every session: large caps do, and
    # the solved closes above assume it.
    member_any = np.zeros((n, 1), dtype=bool)
    for q in factors.values():
        member_any |= (q > 0).any(axis=1, keepdims=True)
    p_am = np.clip(0.30 + 0.16 * np.log10(np.maximum(liquidity, 1.0) / 1e4), 0.05, 1.0)
    p_pm = np.clip(p_am + 0.10, 0.05, 1.0)
    traded_am = (uniforms(keys, S_TRADE_AM) < p_am[:, None]) | member_any | listing_day
    traded_pm = (uniforms(keys, S_TRADE_PM) < p_pm[:, None]) | member_any
    traded_am &= alive
    traded_pm &= alive
    # A suspended share trades in neither session; its close carries forward (suspensions.py)
    off = suspensions.suspended(symbols, days, alive, listing_day, factors)
    traded_am &= ~off
    traded_pm &= ~off

    market = DailyMarket(
        days=days,
        symbols=symbols,
        universe=universe,
        alive=alive,
        listing_day=listing_day,
        fair=fair,
        close=np.full((n, m), np.nan),
        midday=np.where(traded_am, midday, np.nan),
        traded_am=traded_am,
        traded_pm=traded_pm,
        factors=factors,
        index_close={"HSI": hsi},
        index_midday={},
        daily_vol=vol,
        cap_periods=periods,
        cap_factor=cf,
    )
    market.close_idx = close_idx  # type: ignore[attr-defined]
    return market


def recorded_closes(market: DailyMarket) -> None:
    """Closing prices as HKEX records them: the last trade, or the previous close if none.

    Index-relevant shares keep the solved, tick-fitted closes; the rest take the rounded
    fair price when they trade in the afternoon, the mid-day price when they trade only in
    the morning, and carry the previous close forward when they do not trade at all.
    """
    solved = market.close_idx  # type: ignore[attr-defined]
    fair_closes = round_to_tick(np.nan_to_num(market.fair, nan=1.0))
    value = np.where(
        market.traded_pm, fair_closes, np.where(market.traded_am, market.midday, np.nan)
    )
    value = np.where(market.listing_day & np.isnan(value), fair_closes, value)
    value[~market.alive] = np.nan
    has = ~np.isnan(value) | ~market.alive
    pos = np.where(has, np.arange(value.shape[1])[None, :], 0)
    np.maximum.accumulate(pos, axis=1, out=pos)
    filled = np.take_along_axis(value, pos, axis=1)
    # A share alive before the first simulated day with no trade yet: its fair price.
    filled = np.where(np.isnan(filled) & market.alive, fair_closes, filled)
    filled = np.where(~np.isnan(solved), solved, filled)
    filled[~market.alive] = np.nan
    market.close = filled


def fit_midday_to_range(
    market: DailyMarket, official_ohlc: pd.DataFrame, keep: tuple[date, ...] = ()
) -> int:
    """Move the HSI members' mid-day prices so the HSI mid-day level lies in the real range.

    Where the real HSI high and low of a day are known and the Hang Seng formula over the
    simulated mid-day prices falls outside them (or within MIDDAY_RANGE_MARGIN points of an
    edge), the members' mid-day prices are solved for the nearest level inside, as the
    closes are solved for the real closes: one market move (each member by its beta, a
    1-D Newton solve), rounded to ticks, then a few members moved by whole ticks. The
    official mid-day level stays the formula over the members' prices, so the two reconcile.
    Days in `keep` (the recap's, whose level is pinned) are left alone. Sets
    market.index_ohlc["HSI"]; returns how many days were moved.
    """
    ohlc = _ohlc_matrix(market.days, official_ohlc)
    market.index_ohlc["HSI"] = ohlc
    beta = market.universe["beta"].to_numpy(float)
    level = market.index_close["HSI"]
    kept = {market.day(d) for d in keep}
    moved = 0
    for k in range(1, len(market.days)):
        low, high = ohlc[2, k], ohlc[1, k]
        if k in kept or np.isnan(high):
            continue
        q_all = market.factors["HSI"][:, k]
        rows = np.flatnonzero(q_all > 0)
        q = q_all[rows]
        prev = market.close[rows, k - 1]
        mid = market.midday[rows, k]
        den = float(np.nansum(q * prev))
        now = level[k - 1] * float(np.nansum(q * np.where(np.isnan(mid), prev, mid))) / den
        margin = min(MIDDAY_RANGE_MARGIN, (high - low) / 4)
        target_level = min(max(now, low + margin), high - margin)
        if target_level == now:
            continue
        traded = ~np.isnan(mid)
        fixed_sum = float(np.nansum(q[~traded] * prev[~traded]))
        target = target_level * den / level[k - 1] - fixed_sum
        x = _newton(np.log(mid[traded]), beta[rows][traded], q[traded], target, 0.0)
        p = round_to_tick(mid[traded] * np.exp(beta[rows][traded] * x))
        p = fit_to_target(p, q[traded], target, np.ones(len(p), dtype=bool))
        market.midday[rows[traded], k] = p
        moved += 1
    return moved


def index_levels(
    market: DailyMarket,
    official_midday: dict[tuple[str, date], float],
    official_ohlc: pd.DataFrame | None = None,
) -> None:
    """Official close and mid-day levels of the three indices.

    HSI closes are the solved official levels; HSCEI and HSTECH closes are the Hang Seng
    formula chained from their anchor-day levels. Mid-day levels are the formula over the
    mid-day prices, except where a real figure pins them (the recap's day). With
    `official_ohlc` (the real HSI open, high, low) the HSI members' mid-day prices must
    already have been solved into each known day's range (fit_midday_to_range): a level
    outside it is an error, never clipped (clipping broke the reconciliation of official
    and computed levels).
    """
    close = market.close
    prev = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    k_star = market.day(ANCHOR_DAY)
    for code in INDEX_CODES:
        q = market.factors[code]
        num = np.nansum(q * close, axis=0)
        den = np.nansum(q * prev, axis=0)
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
        if code != "HSI":
            level = np.empty(len(market.days))
            level[k_star] = ANCHOR_LEVELS[code]
            for k in range(k_star + 1, len(market.days)):
                level[k] = level[k - 1] * ratio[k]
            for k in range(k_star - 1, -1, -1):
                level[k] = level[k + 1] / ratio[k + 1]
            market.index_close[code] = level
        level = market.index_close[code]
        prev_level = np.concatenate([level[:1], level[:-1]])
        mid_num = np.nansum(q * np.where(np.isnan(market.midday), prev, market.midday), axis=0)
        midday_level = prev_level * np.where(den > 0, mid_num / np.where(den > 0, den, 1.0), 1.0)
        if code == "HSI" and official_ohlc is not None:
            ohlc = _ohlc_matrix(market.days, official_ohlc)
            market.index_ohlc[code] = ohlc
            pinned = {market.day(d) for c, d in official_midday if c == code}
            rounded = np.round(midday_level, 2)
            outside = ~np.isnan(ohlc[1]) & ((rounded < ohlc[2]) | (rounded > ohlc[1]))
            outside[0] = False  # day 0 only seeds the first partition day's previous close
            outside[list(pinned)] = False  # checked against the range below
            if outside.any():
                k = int(np.flatnonzero(outside)[0])
                raise ValueError(
                    f"HSI {market.days[k]}: the mid-day level {rounded[k]} lies outside the"
                    f" real day range {ohlc[2, k]}-{ohlc[1, k]}; solve the members' mid-day"
                    " prices first (fit_midday_to_range)"
                )
        for (pin_code, d), value in official_midday.items():
            if pin_code == code:
                k = market.day(d)
                rng = market.index_ohlc.get(code)
                if rng is not None and not rng[2, k] <= value <= rng[1, k]:
                    raise ValueError(
                        f"{code} {d}: the pinned mid-day level {value} lies outside the real"
                        f" day range {rng[2, k]}-{rng[1, k]}; check the recap JSON and the"
                        " Yahoo export"
                    )
                midday_level[k] = value
        market.index_midday[code] = midday_level


def _ohlc_matrix(days: list[date], ohlc: pd.DataFrame) -> np.ndarray:
    """[open, high, low] x day from a frame indexed by date; NaN where the frame has no row."""
    frame = ohlc.reindex(days)
    return np.stack([frame[c].to_numpy(float) for c in ("open", "high", "low")])


def _solve_market(
    base: np.ndarray,
    beta: np.ndarray,
    anchor_k: np.ndarray,
    alive: np.ndarray,
    factors: dict[str, np.ndarray],
    official_hsi: pd.Series,
    days: list[date],
    k_star: int,
    universe: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Market factor per day, tick-fitted closes of index members, official HSI levels."""
    n, m = base.shape
    relevant = np.zeros(n, dtype=bool)
    for q in factors.values():
        relevant |= (q > 0).any(axis=1)
    idx = np.flatnonzero(relevant)
    b = base[idx]
    be = beta[idx]
    ak = anchor_k[idx]
    al = alive[idx]
    q_hsi = factors["HSI"][idx]
    anchor_prices = universe["anchor_price"].to_numpy(float)[idx]

    x = np.zeros(m)
    closes = np.full((len(idx), m), np.nan)
    closes[:, k_star] = np.where(al[:, k_star], anchor_prices, np.nan)
    official = {d: float(v) for d, v in official_hsi.items()}
    level = np.full(m, np.nan)
    level[k_star] = official[days[k_star]]
    market_shock = normals(
        cell_keys(symbol_keys(["HSI"])[:, None], _ordinal(days)[None, :]), S_MARKET
    )[0]

    def prices(k: int, xk: float) -> np.ndarray:
        own = ak == k
        xa = np.where(own, xk, x[ak])
        p = np.exp(b[:, k] + be * (xk - xa))
        return np.where(al[:, k], p, np.nan)

    # Forward from the anchor day: day k's ratio over day k's members.
    for k in range(k_star + 1, m):
        q = np.where(al[:, k] & al[:, k - 1], q_hsi[:, k], 0.0)
        prev_sum = float(np.nansum(q * closes[:, k - 1]))
        target_level = official.get(days[k])
        if target_level is None:
            x[k] = x[k - 1] + MARKET_VOL * market_shock[k]
            closes[:, k] = round_to_tick(np.nan_to_num(prices(k, x[k]), nan=1.0))
            closes[~al[:, k], k] = np.nan
            level[k] = level[k - 1] * float(np.nansum(q * closes[:, k])) / prev_sum
            continue
        target = prev_sum * target_level / level[k - 1]
        own = ak == k
        off = b[:, k] - np.where(own, 0.0, be * x[ak])
        beff = np.where(own, 0.0, be)
        mask = q > 0
        x[k] = _newton(off[mask], beff[mask], q[mask], target, x[k - 1])
        p = round_to_tick(np.nan_to_num(prices(k, x[k]), nan=1.0))
        p = fit_to_target(p, q, target, mask)
        p[~al[:, k]] = np.nan
        closes[:, k] = p
        level[k] = target_level

    # Backward before the anchor day: day k+1's ratio over day k+1's members fixes day k.
    for k in range(k_star - 1, -1, -1):
        q = np.where(al[:, k] & al[:, k + 1], q_hsi[:, k + 1], 0.0)
        next_sum = float(np.nansum(q * closes[:, k + 1]))
        target_level = official.get(days[k])
        if target_level is None:
            x[k] = x[k + 1] - MARKET_VOL * market_shock[k + 1]
            p = round_to_tick(np.nan_to_num(prices(k, x[k]), nan=1.0))
            p[~al[:, k]] = np.nan
            closes[:, k] = p
            level[k] = level[k + 1] * float(np.nansum(q * p)) / next_sum
            continue
        target = next_sum * target_level / level[k + 1]
        mask = q > 0
        x[k] = _newton(b[mask, k], be[mask], q[mask], target, x[k + 1])
        p = round_to_tick(np.nan_to_num(prices(k, x[k]), nan=1.0))
        p = fit_to_target(p, q, target, mask)
        p[~al[:, k]] = np.nan
        closes[:, k] = p
        level[k] = target_level

    full = np.full((n, m), np.nan)
    full[idx] = closes
    return x, full, level


def sample_days(end: date | None = None) -> list[date]:
    """Every trading day the sample market covers: 2023-06-30 to the calendar's last."""
    return calendar.trading_days(date(2023, 6, 30), end or calendar.last_calendar_date())
