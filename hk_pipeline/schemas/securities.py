"""ref.securities: every listed share, effective-dated by (symbol, valid_from)."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.schemas.quotes import SHARE_CODE, row_result

BOARDS = ("Main Board", "GEM")
from hk_pipeline.industries import HSICS_INDUSTRIES  # noqa: E402


def valid_range_ok(data: PolarsData) -> pl.LazyFrame:
    """valid_to (exclusive) after valid_from, or NULL for an open-ended row."""
    ok = pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("valid_from"))
    return row_result(data, ok, ["valid_from", "valid_to"])


class Securities(pa.DataFrameModel):
    """ref.securities, key (symbol, valid_from)."""

    symbol: pl.String = pa.Field(
        str_matches=SHARE_CODE, description="HKEX stock code, 5 digits with leading zeros."
    )
    name: pl.String = pa.Field(description="Short name of the security (English).")
    board: pl.String = pa.Field(isin=BOARDS, description="Listing board: `Main Board` or `GEM`.")
    industry: pl.String = pa.Field(
        isin=HSICS_INDUSTRIES,
        nullable=True,
        description="Hang Seng Industry Classification (HSICS) industry; NULL where the source "
        "does not classify the share (the HKEX list does not), shown as 'Unclassified' in marts.",
    )
    board_lot: pl.Int32 = pa.Field(gt=0, description="Shares per board lot (trading unit).")
    issued_shares: pl.Int64 = pa.Field(
        gt=0,
        nullable=True,
        description="Shares in issue; NULL where the source does not publish the count "
        "(the HKEX list does not).",
    )
    currency: pl.String = pa.Field(
        str_matches=r"^[A-Z]{3}$", description="Trading currency, ISO 4217 (e.g. HKD)."
    )
    listed_on: pl.Date = pa.Field(
        nullable=True, description="Listing date; NULL where the source does not know it."
    )
    valid_from: pl.Date = pa.Field(description="First day the row is in force.")
    valid_to: pl.Date = pa.Field(
        nullable=True, description="Day the row stops being in force (exclusive); NULL = open."
    )
    source: pl.String = pa.Field(
        description="Producer of the row: `sample`, `landing` or `live:<provider>`."
    )

    @pa.dataframe_check(name="valid_range", error="valid_to not after valid_from")
    def valid_range(cls, data: PolarsData) -> pl.LazyFrame:
        return valid_range_ok(data)

    class Config:
        name = "ref.securities"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["symbol", "valid_from"]
