"""raw.index_contributions: the index provider's own point contribution per constituent.

Only sources without weights fill it (the Hang Seng constituent feed); attribution uses it for
an index whose members lack issued shares, free-float or cap factor.
"""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.columns import from_ddl
from hk_pipeline.schemas.quotes import SHARE_CODE, SNAPSHOTS


@from_ddl(
    checks={
        "snapshot": {"isin": SNAPSHOTS},
        "index_code": {"isin": INDEX_CODES},
        "symbol": {"str_matches": SHARE_CODE},
    },
)
class IndexContributions(pa.DataFrameModel):
    """raw.index_contributions, key (trade_date, snapshot, index_code, symbol)."""

    @pa.check("contribution_points", name="points_finite", error="points must be finite")
    def _finite(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_finite())

    class Config:
        name = "raw.index_contributions"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "index_code", "symbol"]
