"""Raw market tables, one partition per (trading day, snapshot), plus the macro series."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.defs.ingest import TableSpec, make_ingest_asset, make_ingest_multi_asset
from hk_pipeline.defs.ref import REF_KEYS
from hk_pipeline.tables import source_columns

if TYPE_CHECKING:
    from hk_pipeline.sources.base import MarketSource


def fetch_contributions(src: MarketSource, trade_date: date, snapshot: str) -> pd.DataFrame:
    """The feed's point contributions (sources without weights), else an empty frame.

    Only a source with an ``index_contributions(trade_date)`` method has them (the live Hang
    Seng feed); for the others the partition is written empty, which is what they mean: the
    attribution mart uses the formula there.
    """
    fetch = getattr(src, "index_contributions", None)
    if fetch is None:
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in source_columns("raw.index_contributions")}
        )
    feed = fetch(trade_date)
    return pd.DataFrame(
        {
            "trade_date": trade_date,
            "snapshot": snapshot,
            "index_code": feed["index_code"].to_numpy(),
            "symbol": feed["symbol"].to_numpy(),
            "contribution_points": feed["contribution_points"].to_numpy(dtype="float64"),
            "source": feed["source"].to_numpy(),
        },
        columns=source_columns("raw.index_contributions"),
    )


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

INDEX_CONTRIBUTIONS = TableSpec(
    table="raw.index_contributions",
    fetch=fetch_contributions,
    description=(
        "Index points each constituent added to its index's move, as published by a feed that"
        " has no weights (live Hang Seng feed); empty for sources with weights. Replaced per"
        " partition."
    ),
)

# Quotes, index levels and bars come from the same simulated (or fetched) day: one step
# loads the three per partition, so a batch of days simulates each day once, not thrice.
market_tables = make_ingest_multi_asset(
    "raw_market", [QUOTES, INDEX_LEVELS, INTRADAY_BARS], deps={QUOTES.table: REF_KEYS}
)
macro_series = make_ingest_asset(MACRO_SERIES, deps=[])
index_contributions = make_ingest_asset(INDEX_CONTRIBUTIONS, deps=[])

RAW_ASSETS: list[dg.AssetsDefinition] = [market_tables, macro_series, index_contributions]
RAW_KEYS: list[dg.AssetKey] = [k for a in RAW_ASSETS for k in a.keys]
