"""A week's backfill on the real sample source: 2025-11-17 to 2025-11-21, both snapshots.

Built once per session by ``hk-pipeline backfill --start 2025-11-17 --end 2025-11-21
--batch-days 3`` (conftest.py): two Dagster runs over partition ranges (three days, then two),
each asset looping over its run's partitions in order.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline_tests.end_to_end.conftest import (
    HSI_YAHOO_CSV,
    MART_TABLES,
    WEEK_END,
    WEEK_START,
    Built,
    pipeline_env,
)

DAYS = [WEEK_START + timedelta(days=i) for i in range((WEEK_END - WEEK_START).days + 1)]
PARTITIONS = [(d, s) for d in DAYS for s in ("midday", "close")]
RAW_TABLES = ("raw.quotes", "raw.index_levels", "raw.intraday_bars")


def test_the_week_is_five_trading_days() -> None:
    assert calendar.trading_days(WEEK_START, WEEK_END) == DAYS
    assert len(PARTITIONS) == 10


def test_backfill_ran_every_partition_in_ranged_runs(week_home: Built) -> None:
    import dagster as dg

    out = week_home.info["backfill_stdout"]
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split()[:4] for line in progress] == [
        ["[1/2]", "2025-11-17|midday..2025-11-19|close", "ok:", "6"],
        ["[2/2]", "2025-11-20|midday..2025-11-21|close", "ok:", "4"],
    ]
    with (
        pipeline_env(week_home.home),  # DAGSTER_HOME set, as the UI and the CLI have it
        dg.DagsterInstance.from_config(str(week_home.settings.dagster_home)) as instance,
    ):
        runs = instance.get_runs()
        assert all(r.is_success for r in runs)
        assert sorted(
            (
                r.tags["dagster/asset_partition_range_start"],
                r.tags["dagster/asset_partition_range_end"],
            )
            for r in runs
        ) == [
            ("2025-11-17|midday", "2025-11-19|close"),
            ("2025-11-20|midday", "2025-11-21|close"),
        ]
        assert len({r.tags.get("hk_pipeline/backfill") for r in runs}) == 1
        # Dagster records a materialisation of every asset for every partition of the week
        expected = sorted(f"{d.isoformat()}|{s}" for d, s in PARTITIONS)
        for table in (*RAW_TABLES, *MART_TABLES, "mart.market_report"):
            key = dg.AssetKey(table.split("."))
            done = instance.get_materialized_partitions(key)
            assert sorted(done) == expected, table


@pytest.mark.parametrize("table", MART_TABLES + RAW_TABLES)
def test_rows_for_every_partition_and_none_else(
    week_con: duckdb.DuckDBPyConnection, table: str
) -> None:
    rows = week_con.execute(
        f"SELECT DISTINCT trade_date, snapshot FROM {table} ORDER BY ALL"
    ).fetchall()
    assert sorted(rows) == sorted(PARTITIONS)


def test_breadth_total_is_the_shares_alive_each_day(week_con: duckdb.DuckDBPyConnection) -> None:
    from hk_pipeline.sample_market.source import SampleSource

    rows = week_con.execute(
        """
        SELECT b.trade_date, b.snapshot, b.total,
               (SELECT count(*) FROM ref.securities AS s
                WHERE s.valid_from <= b.trade_date
                  AND (s.valid_to IS NULL OR s.valid_to > b.trade_date)) AS alive,
               (SELECT count(*) FROM raw.quotes AS q
                WHERE q.trade_date = b.trade_date AND q.snapshot = b.snapshot) AS quoted
        FROM mart.market_breadth AS b
        WHERE b.universe = 'all' ORDER BY b.trade_date, b.snapshot
        """
    ).fetchall()
    assert len(rows) == 10
    for d, s, total, alive, quoted in rows:
        assert total == alive == quoted == len(SampleSource().securities(d)), (d, s)
    totals = {d: total for d, _, total, _, _ in rows}
    assert totals[WEEK_END] == 2726
    assert len(set(totals.values())) > 1  # listings and delistings during the week


def _yahoo_closes() -> dict[date, float]:
    frame = pd.read_csv(HSI_YAHOO_CSV, skiprows=3, header=None, usecols=[0, 1])
    frame.columns = ["date", "close"]
    return {date.fromisoformat(d): round(float(c), 2) for d, c in frame.itertuples(False)}


def test_close_snapshot_hsi_is_the_real_close(week_con: duckdb.DuckDBPyConnection) -> None:
    real = _yahoo_closes()
    rows = week_con.execute(
        """
        SELECT trade_date, last, prev_close FROM raw.index_levels
        WHERE index_code = 'HSI' AND snapshot = 'close' ORDER BY trade_date
        """
    ).fetchall()
    assert [r[0] for r in rows] == DAYS
    for d, last, prev in rows:
        assert last == real[d], d
        assert prev == real[calendar.previous_trading_day(d)], d


def test_midday_snapshot_continues_from_the_real_previous_close(
    week_con: duckdb.DuckDBPyConnection,
) -> None:
    real = _yahoo_closes()
    rows = week_con.execute(
        "SELECT trade_date, prev_close FROM raw.index_levels"
        " WHERE index_code = 'HSI' AND snapshot = 'midday' ORDER BY trade_date"
    ).fetchall()
    assert rows == [(d, real[calendar.previous_trading_day(d)]) for d in DAYS]


def test_bars_of_each_partition_lie_in_its_session(week_con: duckdb.DuckDBPyConnection) -> None:
    rows = week_con.execute(
        """
        SELECT trade_date, snapshot,
               min(strftime(timezone('Asia/Hong_Kong', ts), '%H:%M')),
               max(strftime(timezone('Asia/Hong_Kong', ts), '%H:%M')),
               count(DISTINCT ts),
               count(*) FILTER (WHERE timezone('Asia/Hong_Kong', ts)::DATE <> trade_date)
        FROM raw.intraday_bars GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == sorted(PARTITIONS)
    for d, snapshot, first, last, minutes, other_day in rows:
        if snapshot == "midday":
            assert (first, last, minutes) == ("09:30", "11:59", 150), d
        else:
            assert (first, last, minutes) == ("13:00", "16:00", 181), d
        assert other_day == 0


def test_each_bar_is_stored_once(week_con: duckdb.DuckDBPyConnection) -> None:
    dupes = week_con.execute(
        """
        SELECT count(*) FROM (
            SELECT trade_date, symbol, ts FROM raw.intraday_bars GROUP BY ALL HAVING count(*) > 1
        )
        """
    ).fetchone()[0]
    assert dupes == 0


def test_quotes_agree_with_the_bars_up_to_their_time(
    week_con: duckdb.DuckDBPyConnection,
) -> None:
    """For every share of every partition: open, high, low, last, volume, turnover of the
    quote are those of the day's bars up to the snapshot (close = both partitions' bars)."""
    rows = week_con.execute(
        """
        WITH bars AS (
            SELECT b.trade_date, s.snapshot, b.symbol,
                   arg_min(b.open, b.ts) AS open, max(b.high) AS high, min(b.low) AS low,
                   arg_max(b.close, b.ts) AS last, sum(b.volume) AS volume,
                   sum(b.turnover) AS turnover, count(*) AS n
            FROM raw.intraday_bars AS b
            JOIN (VALUES ('midday'), ('close')) AS s(snapshot)
              ON b.snapshot = s.snapshot OR (s.snapshot = 'close' AND b.snapshot = 'midday')
            WHERE b.symbol NOT IN ('HSI', 'HSCEI', 'HSTECH')
            GROUP BY ALL
        )
        SELECT q.trade_date, q.snapshot,
               count(*) AS quotes,
               count(b.symbol) AS with_bars,
               count(*) FILTER (WHERE q.last IS NOT NULL AND b.symbol IS NULL) AS traded_no_bars,
               count(*) FILTER (WHERE q.last IS NULL AND b.symbol IS NOT NULL) AS bars_no_trade,
               count(*) FILTER (WHERE b.symbol IS NOT NULL AND NOT (
                       abs(q.open - b.open) < 1e-9 AND abs(q.high - b.high) < 1e-9
                   AND abs(q.low - b.low) < 1e-9 AND abs(q.last - b.last) < 1e-9
                   AND q.volume = b.volume
                   AND abs(q.turnover - b.turnover) <= 1e-6 * greatest(q.turnover, 1)
               )) AS disagree,
               count(*) FILTER (WHERE b.symbol IS NULL AND q.volume <> 0) AS untraded_volume
        FROM raw.quotes AS q
        LEFT JOIN bars AS b USING (trade_date, snapshot, symbol)
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchdf()
    assert len(rows) == 10
    assert (rows["with_bars"] > 1000).all()
    for col in ("traded_no_bars", "bars_no_trade", "disagree", "untraded_volume"):
        assert (rows[col] == 0).all(), rows[["trade_date", "snapshot", col]]


def test_close_volume_is_both_partitions_bars(week_con: duckdb.DuckDBPyConnection) -> None:
    """The turnover leaders of 2025-11-21 spelled out: midday quote from the morning bars,
    close quote volume = morning + afternoon bars."""
    symbols = ["09988", "01810", "00700", "00981", "00005"]
    for symbol in symbols:
        bars = week_con.execute(
            """
            SELECT snapshot, ts, high, low, close, volume FROM raw.intraday_bars
            WHERE trade_date = ? AND symbol = ? ORDER BY ts
            """,
            [WEEK_END, symbol],
        ).fetchdf()
        quotes = (
            week_con.execute(
                "SELECT snapshot, high, low, last, volume FROM raw.quotes"
                " WHERE trade_date = ? AND symbol = ?",
                [WEEK_END, symbol],
            )
            .fetchdf()
            .set_index("snapshot")
        )
        morning = bars[bars["snapshot"] == "midday"]
        afternoon = bars[bars["snapshot"] == "close"]
        assert len(morning) == 150 and len(afternoon) == 181, symbol
        mid = quotes.loc["midday"]
        assert mid["high"] == morning["high"].max()
        assert mid["low"] == morning["low"].min()
        assert mid["volume"] == morning["volume"].sum()
        assert mid["last"] == morning["close"].iloc[-1]
        close = quotes.loc["close"]
        assert close["volume"] == morning["volume"].sum() + afternoon["volume"].sum()
        assert close["volume"] > mid["volume"]
        assert close["last"] == afternoon["close"].iloc[-1]
        assert close["high"] == bars["high"].max() and close["low"] == bars["low"].min()
