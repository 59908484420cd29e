"""raw.macro_series: macro releases, point in time (one row per release of a period)."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.schemas.columns import from_ddl

SERIES_IDS = ("unemployment_rate_sa", "pmi", "fx_reserves")


@from_ddl(
    checks={
        "series_id": {"isin": SERIES_IDS},
        "period": {"str_matches": r"^\d{4}-(0[1-9]|1[0-2])$"},
    },
    required=("value", "unit"),
)
class MacroSeries(pa.DataFrameModel):
    """raw.macro_series, key (series_id, period, released_on)."""

    @pa.check("value", name="value_finite", error="value must be a finite number")
    def _finite(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_finite())

    class Config:
        name = "raw.macro_series"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["series_id", "period", "released_on"]
