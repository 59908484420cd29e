"""ref.index_constituents: index membership with the weighting inputs, effective-dated."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from hk_pipeline.schemas.quotes import INDEX_CODES, SHARE_CODE
from hk_pipeline.schemas.securities import valid_range_ok


class IndexConstituents(pa.DataFrameModel):
    """ref.index_constituents, key (index_code, symbol, valid_from)."""

    index_code: Series[str] = pa.Field(
        isin=INDEX_CODES, description="Hang Seng index: `HSI`, `HSCEI` or `HSTECH`."
    )
    symbol: Series[str] = pa.Field(
        str_matches=SHARE_CODE, description="HKEX stock code of the constituent, 5 digits."
    )
    issued_shares: Series[np.int64] = pa.Field(
        gt=0, description="Issued shares the index uses for the constituent."
    )
    faf: Series[float] = pa.Field(description="Free-float-adjusted factor, in (0, 1].")
    cap_factor: Series[float] = pa.Field(description="Capping factor, in (0, 1].")
    valid_from: Series[pa.DateTime] = pa.Field(description="First day the row is in force.")
    valid_to: Series[pa.DateTime] = pa.Field(
        nullable=True, description="Day the row stops being in force (exclusive); NULL = open."
    )
    source: Series[str] = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.check("faf", "cap_factor", name="factor_range", error="factor must be in (0, 1]")
    def _factor(cls, s: Series[float]) -> Series[bool]:
        return (s > 0) & (s <= 1)

    @pa.dataframe_check(name="valid_range", error="valid_to not after valid_from")
    def _valid_range(cls, df: pd.DataFrame) -> pd.DataFrame:
        return valid_range_ok(df)

    class Config:
        name = "ref.index_constituents"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["index_code", "symbol", "valid_from"]
