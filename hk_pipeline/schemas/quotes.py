"""raw.quotes: one row per listed share as of a snapshot, plus the price rules shared by
raw.index_levels and raw.intraday_bars (vocabularies, finite/positive, tick table, high/low).

Models use pandera's polars backend: every check is a polars expression over the whole
column (no Python per row). Column checks return a one-column LazyFrame of booleans; frame
checks return one boolean column per column the rule is about (`row_result`), which
`wording.py` uses to name the failing values in a quarantine reason (so each frame check's
method is named as the check: wording.py finds it by the check's name).
"""

from typing import ClassVar

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from hk_pipeline.schemas.columns import from_ddl
from hk_pipeline.ticks import SPREAD_TABLE

HKT_OFFSET_MINUTES = 8 * 60  # UTC+8 all year: no daylight saving in Hong Kong since 1979
SHARE_CODE = r"^\d{5}$"
SNAPSHOTS = ("midday", "close")
# raw.quotes.trading_status: NULL (trading normally) or one of these. Halted may follow trades
# earlier in the day; suspended means no trade at all (HKEX prints TRADING SUSPENDED / HALTED).
TRADING_STATUSES = ("suspended", "halted")

PRICE_ERROR = "price must be a positive, finite number"
TICK_ERROR = "price off the HKEX tick table"


def positive_finite(e: pl.Expr) -> pl.Expr:
    """True where a value is > 0 and finite (inf passes a plain `> 0`); NULL stays NULL."""
    return e.is_finite() & (e > 0)


def nonneg_finite(e: pl.Expr) -> pl.Expr:
    """True where a value is >= 0 and finite; NULL stays NULL."""
    return e.is_finite() & (e >= 0)


# The spread table as polars literals, and `hk_pipeline.ticks.on_tick`'s default tolerance.
_TICK_BOUNDS = pl.Series("bound", [bound for bound, _ in SPREAD_TABLE], dtype=pl.Float64)
_TICK_SIZES = pl.Series("tick", [tick for _, tick in SPREAD_TABLE], dtype=pl.Float64)
_TICK_TOLERANCE = 1e-6


def tick_ok(e: pl.Expr) -> pl.Expr:
    """True where a price lies on the HKEX spread table (`hk_pipeline.ticks.on_tick`).

    Non-positive, non-finite and NULL prices pass here: the positive/finite check (or the
    nullable rule) reports them, and one reason per fault keeps the quarantine readable.
    The same arithmetic as `on_tick` (band by binary search over the upper bounds, price /
    tick within the tolerance of a whole number) as a polars expression: no Python per
    batch, so it runs in parallel with the other rules (a numpy callback took ~4x longer
    over a close snapshot's bars). The tests pin it to `on_tick`.
    """
    price = e.cast(pl.Float64)
    band = pl.lit(_TICK_BOUNDS).search_sorted(price, side="left").clip(0, len(_TICK_SIZES) - 1)
    ratio = price / pl.lit(_TICK_SIZES).gather(band)
    judged = (price.is_finite() & (price > 0)).fill_null(False)
    return ~judged | ((ratio - ratio.round()).abs() < _TICK_TOLERANCE)


def row_result(data: PolarsData, ok: pl.Expr, columns: list[str]) -> pl.LazyFrame:
    """Result of a row rule about `columns`: one boolean column per rule column.

    pandera ANDs the columns into the row's verdict; wording.py re-runs the rule on the
    failing rows and names the False columns with their values in the reason, e.g.
    "high below open/last/low (open=10.0, high=9.8, low=9.9, last=10.2)". A NULL verdict
    fails (as in the pandas models' `fillna(False)`).
    """
    verdict = ok.fill_null(False)
    return data.lazyframe.select([verdict.alias(c) for c in columns])


def high_low_ok(others: list[str], high: str = "high", low: str = "low") -> tuple[pl.Expr, pl.Expr]:
    """(high >= max(others, low), low <= min(others)) per row, nulls ignored."""
    top = pl.max_horizontal(*others, low)
    bottom = pl.min_horizontal(*others)
    high_ok = pl.col(high).is_null() | top.is_null() | (pl.col(high) >= top)
    low_ok = pl.col(low).is_null() | bottom.is_null() | (pl.col(low) <= bottom)
    return high_ok, low_ok


@from_ddl(
    checks={
        "snapshot": {"isin": SNAPSHOTS},
        "symbol": {"str_matches": SHARE_CODE},
        "volume": {"ge": 0},
    },
    required=("volume", "turnover", "as_of"),
    # trading_status is not a field: validation demands every field of a model, and sources
    # that do not report suspensions (landing files without the column, quote lists) must
    # still load, as trading normally. When a frame has the column, trading_status_ok checks it.
    left_out=("trading_status",),
)
class Quotes(pa.DataFrameModel):
    """raw.quotes, key (trade_date, snapshot, symbol): cumulative day figures up to the snapshot."""

    @pa.check("prev_close", "open", "high", "low", "last", name="price_positive", error=PRICE_ERROR)
    def _price_positive(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(positive_finite(pl.col(data.key)))

    @pa.check("prev_close", "open", "high", "low", "last", name="price_on_tick", error=TICK_ERROR)
    def _price_on_tick(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(tick_ok(pl.col(data.key)))

    @pa.check("turnover", name="turnover_nonneg", error="turnover must be >= 0 and finite")
    def _turnover(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(nonneg_finite(pl.col(data.key)))

    @pa.dataframe_check(name="high_ok", error="high below open/last/low")
    def high_ok(cls, data: PolarsData) -> pl.LazyFrame:
        ok, _ = high_low_ok(["open", "last"])
        return row_result(data, ok, ["open", "high", "low", "last"])

    @pa.dataframe_check(name="low_ok", error="low above open/last")
    def low_ok(cls, data: PolarsData) -> pl.LazyFrame:
        _, ok = high_low_ok(["open", "last"])
        return row_result(data, ok, ["open", "low", "last"])

    @pa.dataframe_check(name="untraded_volume", error="untraded (last is NULL) but volume > 0")
    def untraded_volume(cls, data: PolarsData) -> pl.LazyFrame:
        ok = pl.col("last").is_not_null() | (pl.col("volume") == 0)
        return row_result(data, ok, ["last", "volume"])

    @pa.dataframe_check(
        name="trading_status_ok",
        error="trading_status must be NULL, 'suspended' or 'halted', and a suspended share"
        " has no trade (last NULL, volume 0, turnover 0)",
    )
    def trading_status_ok(cls, data: PolarsData) -> pl.LazyFrame:
        columns = ["last", "volume", "turnover"]
        if "trading_status" not in data.lazyframe.collect_schema().names():
            return row_result(data, pl.lit(True), columns)
        status = pl.col("trading_status")
        untraded = pl.col("last").is_null() & (pl.col("volume") == 0) & (pl.col("turnover") == 0)
        ok = status.is_null() | (
            status.is_in(TRADING_STATUSES) & ((status != "suspended") | untraded)
        )
        return row_result(data, ok, ["trading_status", *columns])

    class Config:
        name = "raw.quotes"
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = ["trade_date", "snapshot", "symbol"]
