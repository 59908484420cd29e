"""mart.top_movers keeps the raw ranking and marks what a market review would print: the
movers above the HKD 10 million liquidity floor (issue 15)."""

from __future__ import annotations

import duckdb

from hk_pipeline.marts import compute_mart
from hk_pipeline_tests.marts.conftest import D


def _add_penny_gainers(con: duckdb.DuckDBPyConnection, n: int) -> None:
    """n illiquid shares (turnover HKD 1,000) up 20% to 20% + n bp: they fill the raw top 20."""
    con.execute(
        """
        INSERT INTO ref.securities
        SELECT s.* REPLACE (printf('%05d', 50000 + i) AS symbol)
        FROM ref.securities AS s, range(?) AS t(i) WHERE s.symbol = '00001'
        """,
        [n],
    )
    con.execute(
        """
        INSERT INTO raw.quotes
        SELECT q.* REPLACE (
            printf('%05d', 50000 + i) AS symbol, 1.0 AS prev_close, 1.2 + i / 10000 AS last,
            1000.0 AS turnover
        )
        FROM raw.quotes AS q, range(?) AS t(i) WHERE q.symbol = '00001' AND q.snapshot = 'midday'
        """,
        [n],
    )


def test_liquid_movers_are_ranked_apart_and_the_raw_list_stays(warehouse) -> None:
    warehouse.execute("UPDATE raw.quotes SET turnover = 25e6 WHERE symbol IN ('00001', '00003')")
    _add_penny_gainers(warehouse, 25)
    movers = compute_mart(warehouse, "top_movers", D, "midday")
    gainers = movers[movers["direction"] == "gainer"].set_index("symbol")
    # The raw top 20 is all penny shares; 00001 (+10%, HKD 25 million) ranks 26th among all
    # gainers and is kept as the first liquid one; 00004 (+5%, HKD 3,000) is in neither list.
    raw = gainers[gainers["rank"] <= 20]
    assert len(raw) == 20 and not raw["liquid"].any() and raw["liquid_rank"].isna().all()
    assert gainers.loc["00001", "rank"] == 26
    assert bool(gainers.loc["00001", "liquid"]) and gainers.loc["00001", "liquid_rank"] == 1
    assert "00004" not in gainers.index
    assert len(gainers) == 21
    losers = movers[movers["direction"] == "loser"].set_index("symbol")
    assert losers["rank"].tolist() == [1, 2, 3]  # all three losers, as before
    assert losers.loc["00003", "liquid_rank"] == 1 and losers["liquid"].sum() == 1


def test_floor_is_inclusive_at_ten_million(warehouse) -> None:
    warehouse.execute("UPDATE raw.quotes SET turnover = 1e7 WHERE symbol = '00002'")
    warehouse.execute("UPDATE raw.quotes SET turnover = 9999999.99 WHERE symbol = '00005'")
    losers = compute_mart(warehouse, "top_movers", D, "midday").set_index("symbol")
    assert bool(losers.loc["00002", "liquid"]) and not bool(losers.loc["00005", "liquid"])
