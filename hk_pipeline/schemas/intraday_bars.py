"""raw.intraday_bars: 1-minute bars of shares and indices for one snapshot's part of the day.

About 0.9 M rows a day, so every rule here is a polars expression over whole columns.
"""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.columns import from_ddl
from hk_pipeline.schemas.quotes import (
    HKT_OFFSET_MINUTES,
    PRICE_ERROR,
    SNAPSHOTS,
    TICK_ERROR,
    high_low_ok,
    nonneg_finite,
    positive_finite,
    row_result,
    tick_ok,
)

BAR_SYMBOL = r"^(\d{5}|" + "|".join(INDEX_CODES) + r")$"
PRICES = ["open", "high", "low", "close"]
# Bar start, minutes after local midnight: midday 09:30-11:59; close 12:00 (half-day auction)
# or 13:00-15:59 and the 16:00 auction bar.
_SESSION = {"midday": (9 * 60 + 30, 11 * 60 + 59), "close": (12 * 60, 16 * 60)}
_MINUTES_PER_DAY = 24 * 60


@from_ddl(
    checks={
        "snapshot": {"isin": SNAPSHOTS},
        "symbol": {"str_matches": BAR_SYMBOL},
        "volume": {"ge": 0},
    },
    required=(*PRICES, "volume", "turnover"),
)
class IntradayBars(pa.DataFrameModel):
    """raw.intraday_bars, key (trade_date, snapshot, symbol, ts)."""

    @pa.check(*PRICES, name="price_positive", error=PRICE_ERROR)
    def _price_positive(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(positive_finite(pl.col(data.key)))

    @pa.check("turnover", name="turnover_nonneg", error="turnover must be >= 0 and finite")
    def _turnover(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(nonneg_finite(pl.col(data.key)))

    @pa.dataframe_check(name="price_on_tick", error=TICK_ERROR)
    def price_on_tick(cls, data: PolarsData) -> pl.LazyFrame:
        # Share bars only; index levels are not on the tick table (symbols failing the code
        # pattern are rejected by that check, so "not an index" means "a share" here).
        # One result column per price: the reason names only the prices off the table.
        index_row = pl.col("symbol").is_in(INDEX_CODES).fill_null(False)
        return data.lazyframe.select(
            [(index_row | tick_ok(pl.col(c))).fill_null(True).alias(c) for c in PRICES]
        )

    @pa.dataframe_check(name="high_ok", error="high below open/close/low")
    def high_ok(cls, data: PolarsData) -> pl.LazyFrame:
        ok, _ = high_low_ok(["open", "close"])
        return row_result(data, ok, PRICES)

    @pa.dataframe_check(name="low_ok", error="low above open/close")
    def low_ok(cls, data: PolarsData) -> pl.LazyFrame:
        _, ok = high_low_ok(["open", "close"])
        return row_result(data, ok, ["open", "low", "close"])

    @pa.dataframe_check(name="index_volume", error="index bar with volume or turnover (must be 0)")
    def index_volume(cls, data: PolarsData) -> pl.LazyFrame:
        ok = ~pl.col("symbol").is_in(INDEX_CODES) | (
            (pl.col("volume") == 0) & (pl.col("turnover") == 0)
        )
        return row_result(data, ok, ["symbol", "volume", "turnover"])

    @pa.dataframe_check(
        name="bar_in_session",
        error="bar start outside its trade_date/snapshot session "
        "(midday 09:30-11:59, close 12:00-16:00 HKT)",
    )
    def bar_in_session(cls, data: PolarsData) -> pl.LazyFrame:
        # Local day and minute by integer arithmetic on the instant: HKT is UTC+8 all year
        # (no daylight saving since 1979), and time-zone calendar lookups per row cost ~10x.
        utc_minute = pl.col("ts").dt.epoch("s") // 60
        local_minute = utc_minute + HKT_OFFSET_MINUTES
        day = (local_minute // _MINUTES_PER_DAY).cast(pl.Int32)
        minute = local_minute % _MINUTES_PER_DAY
        snapshot = pl.col("snapshot")
        lo = pl.when(snapshot == "midday").then(_SESSION["midday"][0])
        lo = lo.when(snapshot == "close").then(_SESSION["close"][0])
        hi = pl.when(snapshot == "midday").then(_SESSION["midday"][1])
        hi = hi.when(snapshot == "close").then(_SESSION["close"][1])
        # An unknown snapshot (lo NULL) is the vocabulary check's to report, not this one's.
        ok = lo.is_null() | (
            (day == pl.col("trade_date").cast(pl.Int32)) & (minute >= lo) & (minute <= hi)
        )
        return row_result(data, ok, ["trade_date", "snapshot", "ts"])

    class Config:
        name = "raw.intraday_bars"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "symbol", "ts"]
