"""The offline sample market: a deterministic simulator anchored on real figures.

Same day in, same rows out, on any machine: every random number is a hash of (symbol,
date, stream), and the whole daily path is built from the start, about 2 s of work that
is then kept in memory and on disk under the home's cache folder (``disk_cache``;
both only save time, the stored copy is bit for bit the built one). Every row carries
source = 'sample'.
What is real: the HSI's daily open, high, low and close, the HSI member lists, the recap's
figures for 2025-11-21 mid-day, the named large caps and the macro readings marked real in
``macro``; the market's turnover is calibrated to HKEX's published turnover.
Everything else is simulated.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hk_pipeline import calendar
from hk_pipeline.config import Settings, pipeline_home
from hk_pipeline.sample_market import daily, disk_cache, intraday, recap, suspensions
from hk_pipeline.sample_market.daily import INDEX_CODES, DailyMarket
from hk_pipeline.sample_market.hsi_history import hsi_official_closes, hsi_official_ohlc
from hk_pipeline.sample_market.macro import macro_readings
from hk_pipeline.sample_market.membership import index_membership, review_effective_dates
from hk_pipeline.sample_market.universe import securities_universe
from hk_pipeline.tables import source_columns

SOURCE = "sample"


_memo: dict[str, DailyMarket] = {}
_memo_lock = threading.Lock()


def market(cache_dir: Path | None = None) -> DailyMarket:
    """The whole simulated market, every share and index on every trading day.

    One per process: the first call loads it from `cache_dir` (default: the cache folder of
    the home, HK_PIPELINE_HOME or ./data), or builds it and stores it there; later calls
    return that object whichever folder they name, since every copy is the same.
    """
    with _memo_lock:
        if "market" not in _memo:
            days = daily.sample_days()
            folder = default_cache_dir() if cache_dir is None else cache_dir
            _memo["market"] = disk_cache.load_or_build(folder, days, lambda: build_market(days))
        return _memo["market"]


def _forget_market() -> None:
    with _memo_lock:
        _memo.clear()


market.cache_clear = _forget_market  # type: ignore[attr-defined]  # as with lru_cache


def default_cache_dir() -> Path:
    """Where a source made without a home keeps the market: the cache of the default home."""
    return Settings(home=pipeline_home()).cache_dir


def build_market(days: list[date] | None = None) -> DailyMarket:
    """Simulate the market from scratch (about 2 s); market() builds only on a cache miss."""
    universe = securities_universe().reset_index(drop=True)
    membership = index_membership()
    days = daily.sample_days() if days is None else days
    m = daily.simulate(universe, membership, hsi_official_closes(), days, review_effective_dates())
    daily.recorded_closes(m)
    pins = recap.load_pins()
    recap.apply_recap(m, pins)
    daily.recorded_closes(m)
    midday_pins = {(code, recap.RECAP_DAY): level for code, level in pins.levels.items()}
    # The real HSI open/high/low: the HSI members' mid-day prices are solved so the formula's
    # mid-day level lies inside each real day range (clipping the level alone broke the
    # reconciliation of official and computed levels: 8.8 bp on 2025-11-18 mid-day); the
    # close snapshot's bars are then bent through the real open, high and low.
    ohlc = hsi_official_ohlc()
    daily.fit_midday_to_range(m, ohlc, keep=(recap.RECAP_DAY,))
    daily.index_levels(m, midday_pins, ohlc)
    return m


@lru_cache(maxsize=2)
def simulated_day(d: date) -> intraday.SimulatedDay:
    day = intraday.simulate_day(market(), d)
    if calendar.session(d).morning_traded:
        return day
    # Weather cancelled the morning (calendar.weather_sessions): the simulated mid-day price
    # stays as the unobserved price the afternoon starts from, but no morning bar was traded
    empty = np.empty((0, 0))
    morning = intraday.SessionBars(np.empty(0, dtype=np.int64), [], *([empty] * 6))
    index_bars = {
        code: bars[bars["session"] != "midday"].reset_index(drop=True)
        for code, bars in day.index_bars.items()
    }
    return intraday.SimulatedDay(d, morning, day.afternoon, index_bars)


_ARROW_TEXT = pd.ArrowDtype(pa.string())
_ARROW_DATE = pd.ArrowDtype(pa.date32())


def _arrow_backed(frame: pd.DataFrame) -> pd.DataFrame:
    """Text and date columns as Arrow arrays: validation and the DuckDB insert take them
    without a per-row conversion (a close snapshot's bars validate in 0.1 s instead of 0.17 s).
    """
    for col in ("symbol", "snapshot", "index_code", "source"):
        if col in frame:
            frame[col] = frame[col].astype(_ARROW_TEXT)
    if "trade_date" in frame:
        frame["trade_date"] = frame["trade_date"].astype(_ARROW_DATE)
    return frame


def _constant(value: pa.Scalar, n: int) -> pd.Series:
    """``n`` copies of ``value`` as an Arrow-backed column, built without Python objects."""
    array = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value.as_py()], value.type)
    ).dictionary_decode()
    return pd.Series(pd.arrays.ArrowExtensionArray(array))


def _check_day(d: date) -> None:
    if not calendar.is_trading_day(d):
        raise ValueError(f"{d} is not an HKEX trading day")


class SampleSource:
    """The default source: a simulated market, labelled 'sample' in every row."""

    name = SOURCE

    def __init__(self, cache_dir: Path | None = None) -> None:
        """`cache_dir`: where the built market is kept between processes (see market())."""
        self.cache_dir = cache_dir
        self._factors: tuple[DailyMarket, pd.DataFrame] | None = None

    def _market(self) -> DailyMarket:
        return market(self.cache_dir)

    def _constituent_factors(self) -> pd.DataFrame:
        """Every membership row with its factors: the same for every day of one market, so
        computed once (~15 ms a call, twice per day of a backfill)."""
        m = self._market()
        if self._factors is None or self._factors[0] is not m:
            self._factors = (
                m,
                daily.constituent_factors(m.universe, index_membership(), m),
            )
        return self._factors[1]

    def securities(self, trade_date: date) -> pd.DataFrame:
        u = self._market().universe
        listed = pd.to_datetime(u["listed_on"]).dt.date
        delisted = pd.to_datetime(u["delisted_on"]).dt.date
        alive = (listed <= trade_date) & (delisted.isna() | (delisted > trade_date))
        rows = u[alive]
        return pd.DataFrame(
            {
                "symbol": rows["symbol"],
                "name": rows["name"],
                "board": rows["board"],
                "industry": rows["industry"],
                "board_lot": rows["board_lot"].astype("int64"),
                "issued_shares": rows["issued_shares"].astype("int64"),
                "currency": rows["currency"],
                "listed_on": listed[alive],
                # The simulator knows its own future delistings; rows are still filtered
                # point in time by valid_from/valid_to when read.
                "valid_from": listed[alive],
                "valid_to": delisted[alive],
                "source": SOURCE,
            }
        ).reset_index(drop=True)

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        rows = self._constituent_factors()
        in_force = (rows["valid_from"] <= trade_date) & (
            rows["valid_to"].isna() | (rows["valid_to"] > trade_date)
        )
        rows = rows[in_force]
        return pd.DataFrame(
            {
                "index_code": rows["index_code"],
                "symbol": rows["symbol"],
                "issued_shares": rows["issued_shares"].astype("int64"),
                "faf": rows["faf"],
                "cap_factor": rows["cap_factor"],
                "valid_from": rows["valid_from"],
                "valid_to": rows["valid_to"],
                "source": SOURCE,
            }
        ).reset_index(drop=True)

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        _check_day(trade_date)
        m = self._market()
        k = m.day(trade_date)
        day = simulated_day(trade_date)
        alive = np.flatnonzero(m.alive[:, k])
        prev = np.where(m.listing_day[alive, k], np.nan, m.close[alive, k - 1])
        frame = pd.DataFrame({"symbol": m.symbols[alive], "prev_close": prev})
        sessions = [day.morning] if snapshot == "midday" else [day.morning, day.afternoon]
        agg = _aggregate(sessions, len(m.symbols))
        for col in ("open", "high", "low", "last", "volume", "turnover"):
            frame[col] = agg[col][alive]
        frame["volume"] = frame["volume"].astype("int64")
        frame.insert(0, "snapshot", snapshot)
        frame.insert(0, "trade_date", trade_date)
        frame["as_of"] = calendar.snapshot_time(trade_date, snapshot)
        frame["source"] = SOURCE
        span = slice(k, k + 1)
        off = suspensions.suspended(
            m.symbols, [trade_date], m.alive[:, span], m.listing_day[:, span], m.factors
        )[alive, 0]
        frame["trading_status"] = pd.Series(
            np.where(off, suspensions.STATUS, None), dtype=_ARROW_TEXT
        )
        if not calendar.snapshot_traded(trade_date, snapshot):
            frame = frame.iloc[:0]  # a cancelled morning: no quotes at all, not untraded ones
        return _arrow_backed(frame)

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        _check_day(trade_date)
        m = self._market()
        k = m.day(trade_date)
        day = simulated_day(trade_date)
        rows = []
        # a cancelled morning has no mid-day levels (the columns come from the schema)
        codes = INDEX_CODES if calendar.snapshot_traded(trade_date, snapshot) else ()
        for code in codes:
            bars = day.index_bars[code]
            if snapshot == "midday":
                bars = bars[bars["session"] == "midday"]
                last = m.index_midday[code][k]
            else:
                last = m.index_close[code][k]
            rows.append(
                {
                    "trade_date": trade_date,
                    "snapshot": snapshot,
                    "index_code": code,
                    "prev_close": round(float(m.index_close[code][k - 1]), 2),
                    "open": float(bars["open"].iloc[0]),
                    "high": float(bars["high"].max()),
                    "low": float(bars["low"].min()),
                    "last": round(float(last), 2),
                    "as_of": calendar.snapshot_time(trade_date, snapshot),
                    "source": SOURCE,
                }
            )
        return _arrow_backed(pd.DataFrame(rows, columns=source_columns("raw.index_levels")))

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        _check_day(trade_date)
        m = self._market()
        day = simulated_day(trade_date)
        bars = day.morning if snapshot == "midday" else day.afternoon
        n, t = bars.close.shape
        ts_ns = pd.DatetimeIndex(bars.ts).asi8
        cols: dict[str, list[np.ndarray]] = {
            "symbol": [np.repeat(m.symbols[bars.rows], t)],
            "ts": [np.tile(ts_ns, n)],
            "open": [bars.open.ravel()],
            "high": [bars.high.ravel()],
            "low": [bars.low.ravel()],
            "close": [bars.close.ravel()],
            "volume": [bars.volume.ravel()],
            "turnover": [bars.turnover.ravel()],
        }
        for code, ib in day.index_bars.items():
            part = ib[ib["session"] == snapshot]
            cols["symbol"].append(np.full(len(part), code, dtype=object))
            cols["ts"].append(pd.DatetimeIndex(part["ts"]).asi8)
            for col in ("open", "high", "low", "close"):
                cols[col].append(part[col].to_numpy(float))
            cols["volume"].append(np.zeros(len(part), dtype=np.int64))
            cols["turnover"].append(np.zeros(len(part)))
        data = {name: np.concatenate(parts) for name, parts in cols.items() if name != "symbol"}
        n_rows = len(data["ts"])
        out = pd.DataFrame(
            {
                "trade_date": _constant(pa.scalar(trade_date, pa.date32()), n_rows),
                "snapshot": _constant(pa.scalar(snapshot, pa.string()), n_rows),
                # one Arrow string array from the symbol per row: Python strings are not
                # converted one by one (it cost ~30 ms a close snapshot)
                "symbol": pd.Series(
                    pd.arrays.ArrowExtensionArray(
                        pa.array(np.concatenate(cols["symbol"]), pa.string())
                    )
                ),
                **data,
                "source": _constant(pa.scalar(SOURCE, pa.string()), n_rows),
            }
        )
        out["ts"] = pd.DatetimeIndex(data["ts"], tz="UTC").tz_convert(calendar.TZ)
        out["volume"] = out["volume"].astype("int64")
        return out

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        readings = macro_readings()
        released = pd.to_datetime(readings["released_at"])
        on = pd.to_datetime(readings["released_on"]).dt.tz_localize(calendar.TZ)
        known_by = released.where(released.notna(), on)
        rows = readings[known_by <= pd.Timestamp(as_of)]
        columns = source_columns("raw.macro_series")
        return rows.assign(source=SOURCE)[columns].reset_index(drop=True)


def _aggregate(sessions: list[intraday.SessionBars], n: int) -> dict[str, np.ndarray]:
    """Cumulative quote fields per universe row from the bars of the given sessions."""
    out = {c: np.full(n, np.nan) for c in ("open", "high", "low", "last")}
    out["volume"] = np.zeros(n)
    out["turnover"] = np.zeros(n)
    for s in sessions:
        if len(s.rows) == 0:
            continue
        r = s.rows
        out["open"][r] = np.where(np.isnan(out["open"][r]), s.open[:, 0], out["open"][r])
        out["high"][r] = np.fmax(out["high"][r], s.high.max(axis=1))
        out["low"][r] = np.fmin(out["low"][r], s.low.min(axis=1))
        out["last"][r] = s.close[:, -1]
        out["volume"][r] += s.volume.sum(axis=1)
        out["turnover"][r] += s.turnover.sum(axis=1)
    return out
