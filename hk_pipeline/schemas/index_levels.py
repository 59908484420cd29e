"""raw.index_levels: HSI, HSCEI and HSTECH as of a snapshot (points, not on the tick table)."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.quotes import (
    PRICE_ERROR,
    SNAPSHOTS,
    Timestamptz,
    high_low_ok,
    positive_finite,
    row_result,
)


class IndexLevels(pa.DataFrameModel):
    """raw.index_levels, key (trade_date, snapshot, index_code)."""

    trade_date: pl.Date = pa.Field(description="Trading day (HKEX calendar, HKT).")
    snapshot: pl.String = pa.Field(
        isin=SNAPSHOTS, description="`midday` (as of 12:00 HKT) or `close` (as of 16:10 HKT)."
    )
    index_code: pl.String = pa.Field(
        isin=INDEX_CODES, description="Hang Seng index: `HSI`, `HSCEI` or `HSTECH`."
    )
    prev_close: pl.Float64 = pa.Field(description="Previous trading day's closing level.")
    open: pl.Float64 = pa.Field(description="Day's opening level.")
    high: pl.Float64 = pa.Field(description="Day's highest level up to the snapshot.")
    low: pl.Float64 = pa.Field(description="Day's lowest level up to the snapshot.")
    last: pl.Float64 = pa.Field(description="Level at the snapshot.")
    as_of: Timestamptz = pa.Field(description="Time the level refers to (TIMESTAMPTZ).")
    source: pl.String = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check("prev_close", "open", "high", "low", "last", name="level_positive", error=PRICE_ERROR)
    def _level_positive(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(positive_finite(pl.col(data.key)))

    @pa.dataframe_check(name="high_ok", error="high below open/last/low")
    def high_ok(cls, data: PolarsData) -> pl.LazyFrame:
        ok, _ = high_low_ok(["open", "last"])
        return row_result(data, ok, ["open", "high", "low", "last"])

    @pa.dataframe_check(name="low_ok", error="low above open/last")
    def low_ok(cls, data: PolarsData) -> pl.LazyFrame:
        _, ok = high_low_ok(["open", "last"])
        return row_result(data, ok, ["open", "low", "last"])

    class Config:
        name = "raw.index_levels"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "index_code"]
