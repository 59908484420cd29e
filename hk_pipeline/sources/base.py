"""The contract every source meets. The asset, not the source, decides where rows go."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

import pandas as pd


class SourceError(RuntimeError):
    """A source could not deliver what was asked; the message says which provider and why."""


class MarketSource(Protocol):
    """One provider of the market's tables. Every row carries `source` = `name`.

    Frames carry the columns of the matching table in sql/ddl/ minus `run_id` and
    `loaded_at`, which the warehouse adds.
    """

    name: str

    def securities(self, trade_date: date) -> pd.DataFrame:
        """ref.securities rows in force on trade_date (effective-dated)."""
        ...

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        """ref.index_constituents rows in force on trade_date (effective-dated)."""
        ...

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """raw.quotes rows: one per listed share, as of the snapshot."""
        ...

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """raw.index_levels rows: HSI, HSCEI, HSTECH as of the snapshot."""
        ...

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """raw.intraday_bars rows: the 1-minute bars of that snapshot's part of the day."""
        ...

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        """raw.macro_series rows released by as_of (point in time)."""
        ...
