"""The live source: real providers over HTTP, composed into one MarketSource.

- ref.securities: HKEX list of securities (xlsx) - today only;
- ref.index_constituents: Hang Seng Indexes feed - today only (plus ``index_contributions``,
  the feed's point contributions, which attribution uses since the feed has no weights);
- raw.quotes: Eastmoney push2 for today (either snapshot); for the close of an earlier day,
  HKEX daily quotations (about a year back; the file has no opening price);
- raw.index_levels: Eastmoney push2 - today only;
- raw.intraday_bars: Yahoo chart API, index bars only - the last ~7 days;
- raw.macro_series: HKMA, C&SD and data/pmi_hk.csv - any as_of (HKMA and C&SD release dates
  are estimated, see their modules).

A date a provider cannot serve is refused before any request, with a ``SourceError`` naming the
provider and the window it can serve. Every row's ``source`` is ``live:<provider>``. ``today``
is injectable (tests, and runs that must pin the day); by default it is today in HKT.
Network faults surface as ``ProviderUnreachable`` / ``ProviderError`` (both ``SourceError``).
``replay.py`` records what this source fetches for a snapshot and serves it back offline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import httpx
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sources import (
    censtatd,
    eastmoney,
    hkex_quotations,
    hkex_securities,
    hkma,
    hsi_constituents,
    pmi,
    yahoo,
)
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.censtatd import Censtatd
from hk_pipeline.sources.eastmoney import Eastmoney
from hk_pipeline.sources.hkex_quotations import HkexQuotations
from hk_pipeline.sources.hkex_securities import Enrichment, HkexSecurities, reference_enrichment
from hk_pipeline.sources.hkma import Hkma
from hk_pipeline.sources.hsi_constituents import HsiConstituents
from hk_pipeline.sources.http import DEFAULT_MIN_INTERVAL, HttpClient, RetryPolicy
from hk_pipeline.sources.pmi import Pmi
from hk_pipeline.sources.yahoo import Yahoo
from hk_pipeline.tables import source_columns

NAME = "live"


def require_present(provider: str, host: str, trade_date: date, today: date) -> None:
    """Refuse any day but today for a feed that only shows the present."""
    if trade_date != today:
        raise SourceError(
            f"{provider}: {host} serves only the present (today, {today}), not {trade_date};"
            " a live backfill of an earlier day is impossible - load it from the landing zone"
        )


class LiveSource:
    """MarketSource over the live providers (see the module docstring for what each serves)."""

    name = NAME
    # The lists are today's only: the ref assets close superseded versions themselves.
    knows_valid_to = False

    def __init__(
        self,
        *,
        today: date | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        policy: RetryPolicy | None = None,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        enrichment: Enrichment | None = None,
        pmi_path: Path = pmi.CSV_PATH,
    ) -> None:
        self.today = today or datetime.now(calendar.TZ).date()

        def client(provider: str) -> HttpClient:
            return HttpClient(
                provider,
                transport=transport,
                sleep=sleep,
                clock=clock,
                policy=policy,
                min_interval=min_interval,
            )

        self._enrichment = enrichment
        self.hkex_securities = HkexSecurities(client(hkex_securities.PROVIDER), enrichment)
        self.eastmoney = Eastmoney(client(eastmoney.PROVIDER))
        self.hkex_quotations = HkexQuotations(client(hkex_quotations.PROVIDER))
        self.yahoo = Yahoo(client(yahoo.PROVIDER))
        self.hsi = HsiConstituents(client(hsi_constituents.PROVIDER))
        self.hkma = Hkma(client(hkma.PROVIDER))
        self.censtatd = Censtatd(client(censtatd.PROVIDER))
        self.pmi = Pmi(pmi_path)

    def _issued_shares(self) -> dict[str, int]:
        if self._enrichment is None:
            self._enrichment = reference_enrichment()
        return dict(self._enrichment.issued_shares)

    def securities(self, trade_date: date) -> pd.DataFrame:
        require_present(hkex_securities.PROVIDER, hkex_securities.HOST, trade_date, self.today)
        return self.hkex_securities.fetch(trade_date)

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        return self.index_contributions_and_members(trade_date).members

    def index_contributions(self, trade_date: date) -> pd.DataFrame:
        """The feed's own point contributions per member (what attribution uses live)."""
        return self.index_contributions_and_members(trade_date).contributions

    def index_contributions_and_members(self, trade_date: date) -> hsi_constituents.Constituents:
        require_present(hsi_constituents.PROVIDER, hsi_constituents.HOST, trade_date, self.today)
        self.hsi.issued_shares = self._issued_shares()
        return self.hsi.fetch(trade_date)

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        if trade_date == self.today:
            return self.eastmoney.quotes(trade_date, snapshot)
        if snapshot != "close":
            require_present(eastmoney.PROVIDER, eastmoney.HOST, trade_date, self.today)
        return self.hkex_quotations.close_quotes(trade_date, self.today)

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        require_present(eastmoney.PROVIDER, eastmoney.HOST, trade_date, self.today)
        return self.eastmoney.index_levels(trade_date, snapshot)

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        return self.yahoo.intraday_bars(trade_date, snapshot, self.today)

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        frames = [
            self.hkma.macro_series(as_of, self.today),
            self.censtatd.macro_series(as_of, self.today),
            self.pmi.macro_series(as_of),
        ]
        return pd.concat(frames, ignore_index=True)[source_columns("raw.macro_series")]
