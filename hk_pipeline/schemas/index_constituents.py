"""ref.index_constituents: index membership with the weighting inputs, effective-dated."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.columns import from_ddl
from hk_pipeline.schemas.quotes import SHARE_CODE
from hk_pipeline.schemas.securities import valid_range_ok

_NO_WEIGHTS = (
    "NULL where the feed publishes no weights (the Hang Seng feed does not; attribution "
    "then uses the feed's point contributions)."
)


@from_ddl(
    checks={
        "index_code": {"isin": INDEX_CODES},
        "symbol": {"str_matches": SHARE_CODE},
        "issued_shares": {"gt": 0},
    },
)
class IndexConstituents(pa.DataFrameModel):
    """ref.index_constituents, key (index_code, symbol, valid_from)."""

    @pa.check("faf", "cap_factor", name="factor_range", error="factor must be in (0, 1]")
    def _factor(cls, data: PolarsData) -> pl.LazyFrame:
        s = pl.col(data.key)
        return data.lazyframe.select((s > 0) & (s <= 1))

    @pa.dataframe_check(name="valid_range", error="valid_to not after valid_from")
    def valid_range(cls, data: PolarsData) -> pl.LazyFrame:
        return valid_range_ok(data)

    class Config:
        name = "ref.index_constituents"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["index_code", "symbol", "valid_from"]
