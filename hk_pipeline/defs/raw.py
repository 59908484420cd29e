"""Raw market tables, one partition per (trading day, snapshot), plus the macro series."""

from __future__ import annotations

import dagster as dg

from hk_pipeline import calendar
from hk_pipeline.defs.ingest import TableSpec, make_ingest_asset
from hk_pipeline.defs.ref import REF_KEYS

QUOTES = TableSpec(
    table="raw.quotes",
    fetch=lambda src, d, snapshot: src.quotes(d, snapshot),
    description=(
        "One row per listed share as of the snapshot: previous close, open, high, low, last"
        " (NULL if untraded), cumulative volume and turnover (HKD). Replaced per partition."
    ),
)
INDEX_LEVELS = TableSpec(
    table="raw.index_levels",
    fetch=lambda src, d, snapshot: src.index_levels(d, snapshot),
    description="Official HSI, HSCEI and HSTECH levels as of the snapshot. Replaced per partition.",
)
INTRADAY_BARS = TableSpec(
    table="raw.intraday_bars",
    fetch=lambda src, d, snapshot: src.intraday_bars(d, snapshot),
    description=(
        "1-minute bars of shares and indices: the midday partition holds 09:30-11:59, the close"
        " partition the afternoon and the closing-auction bar, so each bar is stored once."
    ),
)
MACRO_SERIES = TableSpec(
    table="raw.macro_series",
    fetch=lambda src, d, snapshot: src.macro_series(calendar.snapshot_time(d, snapshot)),
    description=(
        "Monthly macro readings (unemployment rate, PMI, FX reserves) released by the snapshot"
        " time; point in time, upserted by (series_id, period, released_on)."
    ),
    upsert_key=("series_id", "period", "released_on"),
)

quotes = make_ingest_asset(QUOTES, deps=REF_KEYS)
index_levels = make_ingest_asset(INDEX_LEVELS, deps=[])
intraday_bars = make_ingest_asset(INTRADAY_BARS, deps=[])
macro_series = make_ingest_asset(MACRO_SERIES, deps=[])

RAW_ASSETS: list[dg.AssetsDefinition] = [quotes, index_levels, intraday_bars, macro_series]
