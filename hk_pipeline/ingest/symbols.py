"""The symbols a partition is judged by: the securities master its rows must be listed in,
and the symbols whose rejection refuses the partition whatever the rejected share."""

from datetime import date

import duckdb
import pandas as pd

from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.ingest.feed import TableFeed
from hk_pipeline.schemas.validate import SecuritiesMaster
from hk_pipeline.sources.base import MarketSource
from hk_pipeline.warehouse.rules import ensure_rules


def critical_symbols(
    con: duckdb.DuckDBPyConnection, trade_date: date, extra: pd.DataFrame | None = None
) -> set[str]:
    """Index codes plus the constituents in force on trade_date (and any in ``extra``).

    A rejected row about one of these fails the check whatever the rejected share: an index
    computed without a member, or a missing level, is wrong, not merely incomplete.
    """
    ensure_rules(con)  # a lake has them from its set-up; a bare in-memory warehouse may not
    rows = con.execute(
        """
        SELECT DISTINCT symbol FROM ref.index_constituents
        WHERE rules.in_force(valid_from, valid_to, ?)
        """,
        [trade_date],
    ).fetchall()
    out = {*INDEX_CODES, *(r[0] for r in rows)}
    if extra is not None and "symbol" in extra.columns:
        out.update(str(s) for s in extra["symbol"].dropna())
    return out


# Tables whose rows name shares: a symbol the securities master in force does not list is
# rejected (quarantined for quotes and bars; for constituents, critical, so refused).
MASTER_CHECKED = ("raw.quotes", "raw.intraday_bars", "ref.index_constituents")


def securities_master(
    spec: TableFeed, market: MarketSource, trade_date: date
) -> SecuritiesMaster | None:
    """The master ``spec.table``'s symbols are checked against, or None.

    Taken from the source (``listed_symbols``, the landing master file in force), not from
    ``ref.securities``: the check runs before any database is touched, and its reason can
    name the file. Sources without it are not checked: the sample market draws quotes from
    its own master, and the live HKEX list would be a second download per run.
    """

    listed = getattr(market, "listed_symbols", None)
    if spec.table not in MASTER_CHECKED or listed is None:
        return None
    master = listed(trade_date)
    # index codes in bars are the indices' own bars, not shares
    exempt = frozenset(INDEX_CODES) if spec.table == "raw.intraday_bars" else frozenset()
    return SecuritiesMaster(trade_date, master.symbols, str(master.path), exempt)
