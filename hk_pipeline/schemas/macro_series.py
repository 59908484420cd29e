"""raw.macro_series: macro releases, point in time (one row per release of a period)."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from hk_pipeline.schemas.quotes import TIMESTAMPTZ_KWARGS, Timestamptz

SERIES_IDS = ("unemployment_rate_sa", "pmi", "fx_reserves")


class MacroSeries(pa.DataFrameModel):
    """raw.macro_series, key (series_id, period, released_on)."""

    series_id: Series[str] = pa.Field(
        isin=SERIES_IDS, description="`unemployment_rate_sa`, `pmi` or `fx_reserves`."
    )
    period: Series[str] = pa.Field(
        str_matches=r"^\d{4}-(0[1-9]|1[0-2])$", description="Reference month, `YYYY-MM`."
    )
    value: Series[float] = pa.Field(description="Released value, in `unit`.")
    unit: Series[str] = pa.Field(description="Unit of `value` (e.g. `%`, `index`, `USD bn`).")
    released_on: Series[pa.DateTime] = pa.Field(description="Release date (HKT).")
    released_at: Series[Timestamptz] = pa.Field(
        nullable=True,
        dtype_kwargs=TIMESTAMPTZ_KWARGS,
        description="Release time (TIMESTAMPTZ); NULL when only the date is known.",
    )
    source: Series[str] = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check("value", name="value_finite", error="value must be a finite number")
    def _finite(cls, s: Series[float]) -> Series[bool]:
        return pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index)

    class Config:
        name = "raw.macro_series"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["series_id", "period", "released_on"]
