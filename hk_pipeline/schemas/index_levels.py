"""raw.index_levels: HSI, HSCEI and HSTECH as of a snapshot (points, not on the tick table)."""

from typing import ClassVar

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from hk_pipeline.schemas.quotes import (
    INDEX_CODES,
    PRICE_ERROR,
    SNAPSHOTS,
    TIMESTAMPTZ_KWARGS,
    Timestamptz,
    high_low_ok,
    positive_finite,
    row_result,
)


class IndexLevels(pa.DataFrameModel):
    """raw.index_levels, key (trade_date, snapshot, index_code)."""

    trade_date: Series[pa.DateTime] = pa.Field(description="Trading day (HKEX calendar, HKT).")
    snapshot: Series[str] = pa.Field(
        isin=SNAPSHOTS, description="`midday` (as of 12:00 HKT) or `close` (as of 16:10 HKT)."
    )
    index_code: Series[str] = pa.Field(
        isin=INDEX_CODES, description="Hang Seng index: `HSI`, `HSCEI` or `HSTECH`."
    )
    prev_close: Series[float] = pa.Field(description="Previous trading day's closing level.")
    open: Series[float] = pa.Field(description="Day's opening level.")
    high: Series[float] = pa.Field(description="Day's highest level up to the snapshot.")
    low: Series[float] = pa.Field(description="Day's lowest level up to the snapshot.")
    last: Series[float] = pa.Field(description="Level at the snapshot.")
    as_of: Series[Timestamptz] = pa.Field(
        dtype_kwargs=TIMESTAMPTZ_KWARGS, description="Time the level refers to (TIMESTAMPTZ)."
    )
    source: Series[str] = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check("prev_close", "open", "high", "low", "last", name="level_positive", error=PRICE_ERROR)
    def _level_positive(cls, s: Series[float]) -> Series[bool]:
        return positive_finite(s)

    @pa.dataframe_check(name="high_ok", error="high below open/last/low")
    def _high(cls, df: pd.DataFrame) -> pd.DataFrame:
        ok, _ = high_low_ok(df, ["open", "last"])
        return row_result(df, ok, ["open", "high", "low", "last"])

    @pa.dataframe_check(name="low_ok", error="low above open/last")
    def _low(cls, df: pd.DataFrame) -> pd.DataFrame:
        _, ok = high_low_ok(df, ["open", "last"])
        return row_result(df, ok, ["open", "low", "last"])

    class Config:
        name = "raw.index_levels"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "index_code"]
