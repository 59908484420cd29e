"""ref.securities: every listed share, effective-dated by (symbol, valid_from)."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from hk_pipeline.schemas.quotes import SHARE_CODE, row_result

BOARDS = ("Main Board", "GEM")
HSICS_INDUSTRIES = (
    "Energy",
    "Materials",
    "Industrials",
    "Consumer Discretionary",
    "Consumer Staples",
    "Healthcare",
    "Telecommunications",
    "Utilities",
    "Financials",
    "Properties & Construction",
    "Information Technology",
    "Conglomerates",
)


def valid_range_ok(df: pd.DataFrame) -> pd.DataFrame:
    """valid_to (exclusive) after valid_from, or NULL for an open-ended row."""
    ok = df["valid_to"].isna() | (df["valid_to"] > df["valid_from"])
    return row_result(df, ok, ["valid_from", "valid_to"])


class Securities(pa.DataFrameModel):
    """ref.securities, key (symbol, valid_from)."""

    symbol: Series[str] = pa.Field(
        str_matches=SHARE_CODE, description="HKEX stock code, 5 digits with leading zeros."
    )
    name: Series[str] = pa.Field(description="Short name of the security (English).")
    board: Series[str] = pa.Field(isin=BOARDS, description="Listing board: `Main Board` or `GEM`.")
    industry: Series[str] = pa.Field(
        isin=HSICS_INDUSTRIES, description="Hang Seng Industry Classification (HSICS) industry."
    )
    board_lot: Series[np.int64] = pa.Field(gt=0, description="Shares per board lot (trading unit).")
    issued_shares: Series[np.int64] = pa.Field(gt=0, description="Shares in issue.")
    currency: Series[str] = pa.Field(
        str_matches=r"^[A-Z]{3}$", description="Trading currency, ISO 4217 (e.g. HKD)."
    )
    listed_on: Series[pa.DateTime] = pa.Field(
        nullable=True, description="Listing date; NULL where the source does not know it."
    )
    valid_from: Series[pa.DateTime] = pa.Field(description="First day the row is in force.")
    valid_to: Series[pa.DateTime] = pa.Field(
        nullable=True, description="Day the row stops being in force (exclusive); NULL = open."
    )
    source: Series[str] = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.dataframe_check(name="valid_range", error="valid_to not after valid_from")
    def _valid_range(cls, df: pd.DataFrame) -> pd.DataFrame:
        return valid_range_ok(df)

    class Config:
        name = "ref.securities"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["symbol", "valid_from"]
