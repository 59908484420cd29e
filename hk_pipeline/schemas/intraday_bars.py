"""raw.intraday_bars: 1-minute bars of shares and indices for one snapshot's part of the day.

About 0.9 M rows a day, so every rule here is a vectorised column operation.
"""

from typing import ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from hk_pipeline.schemas.quotes import (
    HKT,
    INDEX_CODES,
    PRICE_ERROR,
    SNAPSHOTS,
    TICK_ERROR,
    TIMESTAMPTZ_KWARGS,
    Timestamptz,
    high_low_ok,
    nonneg_finite,
    positive_finite,
    row_result,
    tick_ok,
)

BAR_SYMBOL = r"^(\d{5}|" + "|".join(INDEX_CODES) + r")$"
PRICES = ["open", "high", "low", "close"]
# Bar start, minutes after local midnight: midday 09:30-11:59; close 12:00 (half-day auction)
# or 13:00-15:59 and the 16:00 auction bar.
_SESSION = {"midday": (9 * 60 + 30, 11 * 60 + 59), "close": (12 * 60, 16 * 60)}


class IntradayBars(pa.DataFrameModel):
    """raw.intraday_bars, key (trade_date, snapshot, symbol, ts)."""

    trade_date: Series[pa.DateTime] = pa.Field(description="Trading day (HKEX calendar, HKT).")
    snapshot: Series[str] = pa.Field(
        isin=SNAPSHOTS,
        description="`midday` holds bars 09:30-11:59, `close` 13:00-16:00 (12:00 on a half day).",
    )
    symbol: Series[str] = pa.Field(
        str_matches=BAR_SYMBOL,
        description="5-digit HKEX stock code, or index code `HSI`/`HSCEI`/`HSTECH`.",
    )
    ts: Series[Timestamptz] = pa.Field(
        dtype_kwargs=TIMESTAMPTZ_KWARGS, description="Bar start (TIMESTAMPTZ, HKT)."
    )
    open: Series[float] = pa.Field(description="First price of the bar (HKD or index points).")
    high: Series[float] = pa.Field(description="Highest price of the bar.")
    low: Series[float] = pa.Field(description="Lowest price of the bar.")
    close: Series[float] = pa.Field(description="Last price of the bar.")
    volume: Series[np.int64] = pa.Field(
        ge=0, description="Shares traded in the bar (0 for index rows)."
    )
    turnover: Series[float] = pa.Field(description="Value traded in the bar, HKD (0 for indices).")
    source: Series[str] = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check(*PRICES, name="price_positive", error=PRICE_ERROR)
    def _price_positive(cls, s: Series[float]) -> Series[bool]:
        return positive_finite(s)

    @pa.check("turnover", name="turnover_nonneg", error="turnover must be >= 0 and finite")
    def _turnover(cls, s: Series[float]) -> Series[bool]:
        return nonneg_finite(s)

    @pa.dataframe_check(name="price_on_tick", error=TICK_ERROR)
    def _on_tick(cls, df: pd.DataFrame) -> pd.DataFrame:
        # Share bars only; index levels are not on the tick table (symbols failing the code
        # pattern are rejected by that check, so "not an index" means "a share" here).
        index_row = df["symbol"].isin(INDEX_CODES).to_numpy()
        out = pd.DataFrame(True, index=df.index, columns=df.columns)
        for col in PRICES:
            out[col] = index_row | df[col].isna().to_numpy() | tick_ok(df[col]).to_numpy()
        return out

    @pa.dataframe_check(name="high_ok", error="high below open/close/low")
    def _high(cls, df: pd.DataFrame) -> pd.DataFrame:
        ok, _ = high_low_ok(df, ["open", "close"])
        return row_result(df, ok, PRICES)

    @pa.dataframe_check(name="low_ok", error="low above open/close")
    def _low(cls, df: pd.DataFrame) -> pd.DataFrame:
        _, ok = high_low_ok(df, ["open", "close"])
        return row_result(df, ok, ["open", "low", "close"])

    @pa.dataframe_check(name="index_volume", error="index bar with volume or turnover (must be 0)")
    def _index_volume(cls, df: pd.DataFrame) -> pd.DataFrame:
        ok = ~df["symbol"].isin(INDEX_CODES) | ((df["volume"] == 0) & (df["turnover"] == 0))
        return row_result(df, ok, ["symbol", "volume", "turnover"])

    @pa.dataframe_check(
        name="bar_in_session",
        error="bar start outside its trade_date/snapshot session "
        "(midday 09:30-11:59, close 12:00-16:00 HKT)",
    )
    def _in_session(cls, df: pd.DataFrame) -> pd.DataFrame:
        local = df["ts"].dt.tz_convert(HKT).dt.tz_localize(None)
        day = local.dt.normalize()
        minute = (local - day) // pd.Timedelta(minutes=1)
        lo = df["snapshot"].map({k: v[0] for k, v in _SESSION.items()})
        hi = df["snapshot"].map({k: v[1] for k, v in _SESSION.items()})
        ok = (day == df["trade_date"]) & (minute >= lo) & (minute <= hi)
        return row_result(df, ok | lo.isna(), ["trade_date", "snapshot", "ts"])

    class Config:
        name = "raw.intraday_bars"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "symbol", "ts"]
