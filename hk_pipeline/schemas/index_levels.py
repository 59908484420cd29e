"""raw.index_levels: HSI, HSCEI and HSTECH as of a snapshot (points, not on the tick table)."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.columns import from_ddl
from hk_pipeline.schemas.quotes import (
    PRICE_ERROR,
    SNAPSHOTS,
    high_low_ok,
    positive_finite,
    row_result,
)


@from_ddl(
    checks={"snapshot": {"isin": SNAPSHOTS}, "index_code": {"isin": INDEX_CODES}},
    required=("prev_close", "open", "high", "low", "last", "as_of"),
)
class IndexLevels(pa.DataFrameModel):
    """raw.index_levels, key (trade_date, snapshot, index_code)."""

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
