"""raw.quotes: one row per listed share as of a snapshot, plus the price rules shared by
raw.index_levels and raw.intraday_bars (vocabularies, finite/positive, tick table, high/low)."""

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.typing import Series

from hk_pipeline.ticks import on_tick

HKT = "Asia/Hong_Kong"
SHARE_CODE = r"^\d{5}$"
SNAPSHOTS = ("midday", "close")
INDEX_CODES = ("HSI", "HSCEI", "HSTECH")

# TIMESTAMPTZ columns: naive values are read as HKT, aware ones converted to HKT.
Timestamptz = pandas_engine.DateTime
TIMESTAMPTZ_KWARGS: dict[str, Any] = {"unit": "ns", "tz": HKT, "time_zone_agnostic": True}

PRICE_ERROR = "price must be a positive, finite number"
TICK_ERROR = "price off the HKEX tick table"


def positive_finite(s: pd.Series) -> pd.Series:
    """True where a value is > 0 and finite (inf passes a plain `> 0`)."""
    return pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index) & (s > 0)


def nonneg_finite(s: pd.Series) -> pd.Series:
    """True where a value is >= 0 and finite."""
    return pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index) & (s >= 0)


def tick_ok(s: pd.Series) -> pd.Series:
    """True where a price lies on the HKEX spread table.

    Non-positive and non-finite prices pass here: the positive/finite check reports them, and
    one reason per fault keeps the quarantine readable.
    """
    p = s.to_numpy(dtype=float)
    valid = np.isfinite(p) & (p > 0)
    ok = np.ones(len(p), dtype=bool)
    ok[valid] = on_tick(p[valid])
    return pd.Series(ok, index=s.index)


def row_result(df: pd.DataFrame, ok: pd.Series, columns: list[str]) -> pd.DataFrame:
    """Frame-shaped result of a row rule that fails only `columns` of the rows where ok is False.

    A frame-level check that returns a Series is reported by pandera against every column of a
    failing row; returning a frame limits the failure cases to the columns the rule is about,
    which keeps the quarantine reasons short ("high, low: high below ... (9.0, 10.0)").
    """
    out = pd.DataFrame(True, index=df.index, columns=df.columns)
    values = ok.fillna(False).to_numpy(dtype=bool)
    for col in columns:
        out[col] = values
    return out


def high_low_ok(
    df: pd.DataFrame, others: list[str], high: str = "high", low: str = "low"
) -> tuple[pd.Series, pd.Series]:
    """(high >= max(others, low), low <= min(others)) per row, nulls ignored."""
    top = df[[*others, low]].max(axis=1)
    bottom = df[others].min(axis=1)
    high_ok = df[high].isna() | top.isna() | (df[high] >= top)
    low_ok = df[low].isna() | bottom.isna() | (df[low] <= bottom)
    return high_ok, low_ok


class Quotes(pa.DataFrameModel):
    """raw.quotes, key (trade_date, snapshot, symbol): cumulative day figures up to the snapshot."""

    trade_date: Series[pa.DateTime] = pa.Field(description="Trading day (HKEX calendar, HKT).")
    snapshot: Series[str] = pa.Field(
        isin=SNAPSHOTS, description="`midday` (as of 12:00 HKT) or `close` (as of 16:10 HKT)."
    )
    symbol: Series[str] = pa.Field(
        str_matches=SHARE_CODE, description="HKEX stock code, 5 digits with leading zeros."
    )
    prev_close: Series[float] = pa.Field(
        nullable=True,
        description="Previous trading day's closing price, HKD; NULL on a share's listing day.",
    )
    open: Series[float] = pa.Field(
        nullable=True, description="Day's first traded price, HKD; NULL if untraded."
    )
    high: Series[float] = pa.Field(
        nullable=True, description="Day's highest price up to the snapshot, HKD; NULL if untraded."
    )
    low: Series[float] = pa.Field(
        nullable=True, description="Day's lowest price up to the snapshot, HKD; NULL if untraded."
    )
    last: Series[float] = pa.Field(
        nullable=True, description="Last traded price at the snapshot, HKD; NULL if untraded."
    )
    volume: Series[np.int64] = pa.Field(
        ge=0, description="Shares traded in the day up to the snapshot (0 if untraded)."
    )
    turnover: Series[float] = pa.Field(
        description="Value traded in the day up to the snapshot, HKD."
    )
    as_of: Series[Timestamptz] = pa.Field(
        dtype_kwargs=TIMESTAMPTZ_KWARGS, description="Time the figures refer to (TIMESTAMPTZ)."
    )
    source: Series[str] = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check("prev_close", "open", "high", "low", "last", name="price_positive", error=PRICE_ERROR)
    def _price_positive(cls, s: Series[float]) -> Series[bool]:
        return positive_finite(s)

    @pa.check("prev_close", "open", "high", "low", "last", name="price_on_tick", error=TICK_ERROR)
    def _price_on_tick(cls, s: Series[float]) -> Series[bool]:
        return tick_ok(s)

    @pa.check("turnover", name="turnover_nonneg", error="turnover must be >= 0 and finite")
    def _turnover(cls, s: Series[float]) -> Series[bool]:
        return nonneg_finite(s)

    @pa.dataframe_check(name="high_ok", error="high below open/last/low")
    def _high(cls, df: pd.DataFrame) -> pd.DataFrame:
        ok, _ = high_low_ok(df, ["open", "last"])
        return row_result(df, ok, ["open", "high", "low", "last"])

    @pa.dataframe_check(name="low_ok", error="low above open/last")
    def _low(cls, df: pd.DataFrame) -> pd.DataFrame:
        _, ok = high_low_ok(df, ["open", "last"])
        return row_result(df, ok, ["open", "low", "last"])

    @pa.dataframe_check(name="untraded_volume", error="untraded (last is NULL) but volume > 0")
    def _untraded(cls, df: pd.DataFrame) -> pd.DataFrame:
        return row_result(df, df["last"].notna() | (df["volume"] == 0), ["last", "volume"])

    class Config:
        name = "raw.quotes"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "symbol"]
