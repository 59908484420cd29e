"""ref.securities: every listed share, effective-dated by (symbol, valid_from)."""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.schemas.columns import from_ddl
from hk_pipeline.schemas.quotes import SHARE_CODE, row_result

BOARDS = ("Main Board", "GEM")
from hk_pipeline.industries import HSICS_INDUSTRIES  # noqa: E402


def valid_range_ok(data: PolarsData) -> pl.LazyFrame:
    """valid_to (exclusive) after valid_from, or NULL for an open-ended row."""
    ok = pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("valid_from"))
    return row_result(data, ok, ["valid_from", "valid_to"])


@from_ddl(
    checks={
        "symbol": {"str_matches": SHARE_CODE},
        "board": {"isin": BOARDS},
        "industry": {"isin": HSICS_INDUSTRIES},
        "board_lot": {"gt": 0},
        "issued_shares": {"gt": 0},
        "currency": {"str_matches": r"^[A-Z]{3}$"},
    },
    required=("name", "board", "board_lot", "currency"),
)
class Securities(pa.DataFrameModel):
    """ref.securities, key (symbol, valid_from)."""

    @pa.dataframe_check(name="valid_range", error="valid_to not after valid_from")
    def valid_range(cls, data: PolarsData) -> pl.LazyFrame:
        return valid_range_ok(data)

    class Config:
        name = "ref.securities"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["symbol", "valid_from"]
