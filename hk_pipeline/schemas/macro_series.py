"""raw.macro_series: macro releases, point in time (one row per release of a period)."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.schemas.quotes import Timestamptz

SERIES_IDS = ("unemployment_rate_sa", "pmi", "fx_reserves")


class MacroSeries(pa.DataFrameModel):
    """raw.macro_series, key (series_id, period, released_on)."""

    series_id: pl.String = pa.Field(
        isin=SERIES_IDS, description="`unemployment_rate_sa`, `pmi` or `fx_reserves`."
    )
    period: pl.String = pa.Field(
        str_matches=r"^\d{4}-(0[1-9]|1[0-2])$", description="Reference month, `YYYY-MM`."
    )
    value: pl.Float64 = pa.Field(description="Released value, in `unit`.")
    unit: pl.String = pa.Field(description="Unit of `value` (e.g. `%`, `index`, `USD bn`).")
    released_on: pl.Date = pa.Field(description="Release date (HKT).")
    released_at: Timestamptz = pa.Field(
        nullable=True,
        description="Release time (TIMESTAMPTZ); NULL when only the date is known.",
    )
    source: pl.String = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check("value", name="value_finite", error="value must be a finite number")
    def _finite(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_finite())

    class Config:
        name = "raw.macro_series"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["series_id", "period", "released_on"]
