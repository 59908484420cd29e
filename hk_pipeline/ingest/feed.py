"""How one ref/raw table is fed: where its rows come from and how they are written."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from hk_pipeline.sources.base import MarketSource

Fetch = Callable[[MarketSource, date, str], pd.DataFrame]


@dataclass(frozen=True)
class TableFeed:
    """How one ref/raw table is fed: where rows come from and how they are written."""

    table: str  # schema.table
    fetch: Fetch
    description: str
    upsert_key: tuple[str, ...] | None = None  # None: replace the (date, snapshot) partition
    # what has versions (ref tables); used only for sources that only know the present
    entity_key: tuple[str, ...] | None = None
