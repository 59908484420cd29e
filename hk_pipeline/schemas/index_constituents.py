"""ref.index_constituents: index membership with the weighting inputs, effective-dated."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.quotes import SHARE_CODE
from hk_pipeline.schemas.securities import valid_range_ok

_NO_WEIGHTS = (
    "NULL where the feed publishes no weights (the Hang Seng feed does not; attribution "
    "then uses the feed's point contributions)."
)


class IndexConstituents(pa.DataFrameModel):
    """ref.index_constituents, key (index_code, symbol, valid_from)."""

    index_code: pl.String = pa.Field(
        isin=INDEX_CODES, description="Hang Seng index: `HSI`, `HSCEI` or `HSTECH`."
    )
    symbol: pl.String = pa.Field(
        str_matches=SHARE_CODE, description="HKEX stock code of the constituent, 5 digits."
    )
    issued_shares: pl.Int64 = pa.Field(
        gt=0,
        nullable=True,
        description="Issued shares the index uses for the constituent; " + _NO_WEIGHTS,
    )
    faf: pl.Float64 = pa.Field(
        nullable=True, description="Free-float-adjusted factor, in (0, 1]; " + _NO_WEIGHTS
    )
    cap_factor: pl.Float64 = pa.Field(
        nullable=True, description="Capping factor, in (0, 1]; " + _NO_WEIGHTS
    )
    valid_from: pl.Date = pa.Field(description="First day the row is in force.")
    valid_to: pl.Date = pa.Field(
        nullable=True, description="Day the row stops being in force (exclusive); NULL = open."
    )
    source: pl.String = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

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
