"""raw.index_contributions: the index provider's own point contribution per constituent.

Only sources without weights fill it (the Hang Seng constituent feed); attribution uses it for
an index whose members lack issued shares, free-float or cap factor.
"""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.quotes import SHARE_CODE, SNAPSHOTS


class IndexContributions(pa.DataFrameModel):
    """raw.index_contributions, key (trade_date, snapshot, index_code, symbol)."""

    trade_date: pl.Date = pa.Field(description="Trading day (HKEX calendar, HKT).")
    snapshot: pl.String = pa.Field(
        isin=SNAPSHOTS, description="`midday` (as of 12:00 HKT) or `close` (as of 16:10 HKT)."
    )
    index_code: pl.String = pa.Field(
        isin=INDEX_CODES, description="Hang Seng index: `HSI`, `HSCEI` or `HSTECH`."
    )
    symbol: pl.String = pa.Field(
        str_matches=SHARE_CODE, description="HKEX stock code of the constituent, 5 digits."
    )
    contribution_points: pl.Float64 = pa.Field(
        nullable=True,
        description=(
            "Index points the constituent added to the day's move so far, as the feed publishes"
            " them; NULL where the feed shows a placeholder."
        ),
    )
    source: pl.String = pa.Field(description="Producer of the row: `live:<provider>`.")

    @pa.check("contribution_points", name="points_finite", error="points must be finite")
    def _finite(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_finite())

    class Config:
        name = "raw.index_contributions"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "index_code", "symbol"]
