"""Mart SQL on the hand-built warehouse of conftest.py: every figure worked out by hand."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from hk_pipeline.marts import MART_NAMES, compute_mart, mart_sql, write_mart
from hk_pipeline.marts.runner import mart_description, sql_parameters
from hk_pipeline_tests.marts.conftest import NEXT, D, hkt


def by(frame: pd.DataFrame, key: str) -> dict[str, pd.Series]:
    return {row[key]: row for _, row in frame.iterrows()}


def test_every_mart_has_a_header_and_binds_partition_parameters() -> None:
    for name in MART_NAMES:
        sql = mart_sql(name)
        assert sql.startswith(f"-- mart.{name}: ")
        for line in ("grain:", "key:", "time column:", "partition key:"):
            assert line in sql, (name, line)
        # the partitions computed at once: the i-th of each list making the i-th
        assert {"trade_dates", "snapshots"} <= set(sql_parameters(sql))
        assert "CREATE" not in sql.upper().split("\n", 1)[1].replace("--", "")
        assert mart_description(name)


def test_marts_carry_the_partition(warehouse: duckdb.DuckDBPyConnection) -> None:
    for name in MART_NAMES:
        frame = compute_mart(warehouse, name, D, "close")
        assert len(frame), name
        assert set(pd.to_datetime(frame["trade_date"]).dt.date) == {D}
        assert set(frame["snapshot"]) == {"close"}


def test_breadth_counts_untraded_as_unchanged_and_listing_day_apart(warehouse) -> None:
    rows = by(compute_mart(warehouse, "market_breadth", D, "midday"), "universe")
    assert list(rows) == ["all", "main_board", "gem", "HSI", "HSCEI", "HSTECH"]
    a = rows["all"]
    assert (a.advancers, a.decliners, a.unchanged, a.no_prev_close, a.total) == (2, 3, 3, 1, 9)
    assert (a.untraded, a.no_quote, a.suspended) == (2, 1, 0)  # 08001 (no trade), 00008 (no row)
    assert a.ad_ratio == pytest.approx(2 / 3)
    assert (a.up_turnover, a.down_turnover, a.total_turnover) == (4000.0, 8500.0, 13500.0)
    mb, gem = rows["main_board"], rows["gem"]
    assert (mb.advancers, mb.decliners, mb.unchanged, mb.total) == (2, 3, 2, 7)
    assert (gem.advancers, gem.decliners, gem.unchanged, gem.no_prev_close, gem.total) == (
        0,
        0,
        1,
        1,
        2,
    )
    assert pd.isna(gem.ad_ratio)  # no decliners: NULL, not a division by zero
    hsi = rows["HSI"]  # 00004 left HSI on the day (valid_to exclusive)
    assert (hsi.advancers, hsi.decliners, hsi.unchanged, hsi.total) == (1, 2, 0, 3)
    hscei = rows["HSCEI"]
    assert hscei.total == 0 and pd.isna(hscei.ad_ratio) and hscei.total_turnover == 0
    tech = rows["HSTECH"]
    assert (tech.advancers, tech.decliners, tech.unchanged, tech.untraded) == (1, 1, 1, 1)


def test_index_moves_reconcile_with_the_formula(warehouse) -> None:
    rows = by(compute_mart(warehouse, "index_moves", D, "midday"), "index_code")
    assert list(rows) == ["HSI", "HSTECH"]
    hsi = rows["HSI"]
    assert hsi.level == 940.05 and hsi.prev_close == 1000.0
    assert hsi.change_points == pytest.approx(-59.95)
    assert hsi.change_pct == pytest.approx(-5.995)
    assert hsi.computed_level == pytest.approx(940.0)
    assert hsi.diff_bp == pytest.approx((940.05 / 940 - 1) * 1e4)
    assert (hsi.constituents, hsi.constituents_priced, hsi.constituents_untraded) == (3, 3, 0)
    tech = rows["HSTECH"]
    assert tech.computed_level == pytest.approx(5000 * 13900 / 14000)
    assert tech.constituents_untraded == 1


def test_attribution_adds_up_to_the_computed_change(warehouse) -> None:
    attr = compute_mart(warehouse, "index_attribution", D, "midday")
    hsi = attr[attr["index_code"] == "HSI"].set_index("symbol")
    assert hsi["weight"].to_dict() == pytest.approx({"00001": 0.1, "00002": 0.4, "00003": 0.5})
    assert hsi["contribution_points"].to_dict() == pytest.approx(
        {"00001": 10.0, "00002": -20.0, "00003": -50.0}
    )
    assert hsi.loc["00003", "drag_rank"] == 1 and hsi.loc["00001", "lift_rank"] == 1
    assert hsi.loc["00003", "name"] == "Gamma Chips"
    moves = by(compute_mart(warehouse, "index_moves", D, "midday"), "index_code")
    for code, group in attr.groupby("index_code"):
        change = moves[code].computed_level - moves[code].prev_close
        assert group["contribution_points"].sum() == pytest.approx(change, abs=1e-9)
        assert group["weight"].sum() == pytest.approx(1.0)
    tech = attr[attr["index_code"] == "HSTECH"].set_index("symbol")
    assert not tech.loc["08001", "traded"] and tech.loc["08001", "contribution_points"] == 0


def test_sector_performance_is_cap_weighted_and_adds_up(warehouse) -> None:
    sectors = compute_mart(warehouse, "sector_performance", D, "midday")
    rows = by(sectors, "industry")
    it = rows["Information Technology"]
    assert it.change_pct == pytest.approx((29220 / 31400 - 1) * 100)
    assert rows["Financials"].change_pct == pytest.approx(-2.0)
    assert it.turnover_share_pct == pytest.approx(8000 / 13500 * 100)
    assert pd.isna(rows["Utilities"].change_pct)  # its only share has no quote
    assert list(sectors.sort_values("rank")["industry"]) == [
        "Healthcare",
        "Industrials",
        "Properties & Construction",
        "Financials",
        "Information Technology",
        "Utilities",
    ]
    assert "Energy" not in rows  # 00007 and 00009 are not in force on the day
    assert sectors["total"].sum() == 9
    assert sectors["turnover_share_pct"].sum() == pytest.approx(100.0)


def test_top_turnover_ties_by_symbol_and_only_shares_in_force(warehouse) -> None:
    top = compute_mart(warehouse, "top_turnover", D, "midday")
    assert list(top["symbol"]) == ["00003", "00002", "00004", "00001", "08002", "00005", "00006"]
    assert list(top["rank"]) == list(range(1, 8))
    assert top.loc[top["symbol"] == "00005", "change_pct"].item() == pytest.approx(-1.0)
    assert pd.isna(top.loc[top["symbol"] == "08002", "change_pct"].item())


def test_top_movers_only_traded_shares_with_a_previous_close(warehouse) -> None:
    movers = compute_mart(warehouse, "top_movers", D, "midday")
    gainers = movers[movers["direction"] == "gainer"].sort_values("rank")
    losers = movers[movers["direction"] == "loser"].sort_values("rank")
    assert list(gainers["symbol"]) == ["00001", "00004"]
    assert list(losers["symbol"]) == ["00003", "00002", "00005"]
    assert list(losers["rank"]) == [1, 2, 3]


def _macro(con, trade_date: date, snapshot: str, as_of: datetime | None = None) -> dict:
    return by(compute_mart(con, "macro_asof", trade_date, snapshot, as_of=as_of), "series_id")


def test_macro_release_without_time_counts_from_next_trading_day(warehouse) -> None:
    for snapshot in ("midday", "close"):
        un = _macro(warehouse, D, snapshot)["unemployment_rate_sa"]
        assert (un.period, un.value, un.previous_value) == ("2025-09", 3.9, 3.7)
        assert un.change == pytest.approx(0.2)
    # released Friday 2025-11-21 with no time: seen from Monday 2025-11-24 09:30
    monday = _macro(warehouse, NEXT, "midday")["unemployment_rate_sa"]
    assert (monday.period, monday.value, monday.previous_value) == ("2025-10", 3.8, 3.9)
    assert monday.change == pytest.approx(-0.1)
    assert monday.effective_at == pd.Timestamp(hkt(NEXT, 9, 30))
    before_open = _macro(warehouse, NEXT, "midday", as_of=hkt(NEXT, 9, 29))
    assert before_open["unemployment_rate_sa"].period == "2025-09"


def test_macro_never_sees_a_later_release(warehouse) -> None:
    pmi = _macro(warehouse, D, "close")["pmi"]
    assert (pmi.period, pmi.value) == ("2025-10", 51.2)
    assert pmi.previous_value == 50.6  # September as revised on 2025-11-05
    assert pmi.change == pytest.approx(0.6)
    early = _macro(warehouse, date(2025, 11, 4), "close")["pmi"]
    assert (early.period, early.value) == ("2025-09", 50.4)  # before the revision
    assert pd.isna(early.previous_value) and pd.isna(early.change)
    # an instant known release: HKMA at 16:30 on D is after the close snapshot (16:10)
    assert _macro(warehouse, D, "close")["fx_reserves"].period == "2025-09"
    after = _macro(warehouse, D, "close", as_of=hkt(D, 16, 30))["fx_reserves"]
    assert (after.period, after.change) == ("2025-10", 1500.0)


def test_compute_mart_rejects_bad_arguments(warehouse) -> None:
    with pytest.raises(ValueError, match="unknown mart"):
        compute_mart(warehouse, "nope", D, "midday")
    with pytest.raises(ValueError, match="snapshot"):
        compute_mart(warehouse, "market_breadth", D, "evening")
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_mart(warehouse, "macro_asof", D, "close", as_of=datetime(2025, 11, 21, 16))


def test_write_mart_replaces_one_partition(warehouse) -> None:
    con = warehouse
    for snapshot in ("midday", "close"):
        frame = compute_mart(con, "market_breadth", D, snapshot)
        assert (
            write_mart(con, "market_breadth", frame, trade_date=D, snapshot=snapshot, run_id="r1")
            == 6
        )
    frame = compute_mart(con, "market_breadth", D, "midday")
    write_mart(con, "market_breadth", frame, trade_date=D, snapshot="midday", run_id="r2")
    counts = con.execute(
        "SELECT snapshot, run_id, count(*) FROM mart.market_breadth GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert counts == [("close", "r1", 6), ("midday", "r2", 6)]
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE table_name = 'market_breadth'"
        ).fetchall()
    )
    assert types["trade_date"] == "DATE" and types["loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    comment = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name = 'mart' "
        "AND table_name = 'market_breadth'"
    ).fetchall()[0][0]
    assert comment.startswith("advancers, decliners and unchanged")
    with pytest.raises(ValueError, match="do not belong"):
        write_mart(con, "market_breadth", frame, trade_date=NEXT, snapshot="midday", run_id="r3")
    assert con.execute("SELECT count(*) FROM mart.market_breadth").fetchall()[0][0] == 12


def test_write_mart_rolls_back_on_failure(warehouse) -> None:
    con = warehouse
    frame = compute_mart(con, "top_turnover", D, "midday")
    write_mart(con, "top_turnover", frame, trade_date=D, snapshot="midday", run_id="r1")
    broken = frame.assign(turnover="not a number")
    with pytest.raises(duckdb.Error):
        write_mart(con, "top_turnover", broken, trade_date=D, snapshot="midday", run_id="r2")
    rows = con.execute("SELECT DISTINCT run_id, count(*) OVER () FROM mart.top_turnover")
    assert rows.fetchall() == [("r1", 7)]
    # an empty frame empties the partition
    write_mart(con, "top_turnover", frame.iloc[0:0], trade_date=D, snapshot="midday", run_id="r3")
    assert con.execute("SELECT count(*) FROM mart.top_turnover").fetchall()[0][0] == 0


class _Recorder:
    """A connection that records its statements (DuckDB's own objects take no attributes)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        self.statements.append(" ".join(sql.split()))
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)

    def catalogue_writes(self) -> list[str]:
        return [s for s in self.statements if s.startswith(("CREATE", "COMMENT"))]


def _comments(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, dict[str, str]]:
    table = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name = 'mart' AND table_name = ?",
        [name],
    ).fetchall()[0][0]
    columns = con.execute(
        "SELECT column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = 'mart' AND table_name = ?",
        [name],
    ).fetchall()
    return table, dict(columns)


def _another_connection(con):
    """A second connection to the same lake (a cursor starts without ``USE lake``)."""
    other = con.cursor()
    other.execute("USE lake")
    return other


def test_write_mart_sets_the_table_up_once_per_connection(warehouse) -> None:
    frame = compute_mart(warehouse, "market_breadth", D, "midday")
    run = _Recorder(warehouse)
    # the lake's set-up created and commented every mart table: nothing left to do here
    write_mart(run, "market_breadth", frame, trade_date=D, snapshot="midday", run_id="r1")
    assert run.catalogue_writes() == []
    table, columns = _comments(warehouse, "market_breadth")
    assert table and all(columns.values())
    run.statements.clear()
    write_mart(run, "market_breadth", frame, trade_date=D, snapshot="midday", run_id="r2")
    assert run.catalogue_writes() == []
    # the next run's connection finds table and comments in place: nothing to (re)write
    next_run = _Recorder(_another_connection(warehouse))
    write_mart(next_run, "market_breadth", frame, trade_date=D, snapshot="midday", run_id="r3")
    assert next_run.catalogue_writes() == []
    assert _comments(warehouse, "market_breadth") == (table, columns)


def test_a_new_connection_restores_edited_comments(warehouse) -> None:
    frame = compute_mart(warehouse, "top_movers", D, "midday")
    write_mart(warehouse, "top_movers", frame, trade_date=D, snapshot="midday", run_id="r1")
    expected = _comments(warehouse, "top_movers")
    warehouse.execute("COMMENT ON TABLE mart.top_movers IS 'edited'")
    warehouse.execute("COMMENT ON COLUMN mart.top_movers.symbol IS 'edited'")
    write_mart(
        _another_connection(warehouse),
        "top_movers",
        frame,
        trade_date=D,
        snapshot="midday",
        run_id="r2",
    )
    assert _comments(warehouse, "top_movers") == expected


def test_write_mart_recreates_a_dropped_table(warehouse) -> None:
    con = warehouse
    frame = compute_mart(con, "market_breadth", D, "midday")
    write_mart(con, "market_breadth", frame, trade_date=D, snapshot="midday", run_id="r1")
    expected = _comments(con, "market_breadth")
    con.execute("DROP TABLE mart.market_breadth")  # what the stale-table error tells users to do
    assert write_mart(con, "market_breadth", frame, trade_date=D, snapshot="midday", run_id="r2")
    rows = con.execute("SELECT run_id, count(*) FROM mart.market_breadth GROUP BY ALL")
    assert rows.fetchall() == [("r2", 6)]
    assert _comments(con, "market_breadth") == expected


def test_a_stale_mart_table_is_refused_on_every_connection(warehouse) -> None:
    con = warehouse
    frame = compute_mart(con, "top_turnover", D, "midday")
    write_mart(con, "top_turnover", frame, trade_date=D, snapshot="midday", run_id="r1")
    # as if the table was created before the SQL gained this column
    con.execute("ALTER TABLE mart.top_turnover DROP COLUMN turnover")
    for connection in (con, _another_connection(con)):
        with pytest.raises(ValueError, match=r"no column\(s\) \['turnover'\].*DROP TABLE"):
            write_mart(
                connection, "top_turnover", frame, trade_date=D, snapshot="midday", run_id="r"
            )
    assert con.execute("SELECT DISTINCT run_id FROM mart.top_turnover").fetchall() == [("r1",)]


def test_a_rolled_back_creation_is_redone(warehouse) -> None:
    con = warehouse
    frame = compute_mart(con, "top_turnover", D, "midday")
    broken = frame.assign(turnover="not a number")
    write_mart(con, "top_turnover", frame, trade_date=D, snapshot="midday", run_id="r1")
    con.execute("DROP TABLE mart.top_turnover")
    with pytest.raises(duckdb.Error):  # re-creates the table, then fails: all rolled back
        write_mart(con, "top_turnover", broken, trade_date=D, snapshot="midday", run_id="r2")
    exists = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'top_turnover'"
    assert con.execute(exists).fetchall() == [(0,)]
    assert write_mart(con, "top_turnover", frame, trade_date=D, snapshot="midday", run_id="r3")
    assert con.execute("SELECT DISTINCT run_id FROM mart.top_turnover").fetchall() == [("r3",)]


def test_write_mart_checks_arguments_whether_or_not_the_table_exists(warehouse) -> None:
    empty = compute_mart(warehouse, "macro_asof", D, "midday").iloc[0:0]
    for _ in range(2):  # creates the table, then finds it
        write_mart(warehouse, "macro_asof", empty, trade_date=D, snapshot="midday", run_id="r")
        with pytest.raises(ValueError, match="snapshot"):
            write_mart(warehouse, "macro_asof", empty, trade_date=D, snapshot="evening", run_id="r")
        saturday = date(2025, 11, 22)  # macro_asof binds $as_of, the snapshot's instant
        with pytest.raises(ValueError, match="not an HKEX trading day"):
            write_mart(
                warehouse, "macro_asof", empty, trade_date=saturday, snapshot="close", run_id="r"
            )


def test_mart_sql_reads_an_edited_file_again(tmp_path, monkeypatch) -> None:
    from hk_pipeline.marts import runner

    text = (runner.MARTS_DIR / "mart.top_movers.sql").read_text(encoding="utf-8")
    copy = tmp_path / "mart.top_movers.sql"
    copy.write_text(text, encoding="utf-8")
    monkeypatch.setattr(runner, "MARTS_DIR", tmp_path)
    assert mart_sql("top_movers") == text.strip().rstrip(";").rstrip()
    copy.write_text(text + "\n-- edited\n", encoding="utf-8")
    assert mart_sql("top_movers").endswith("-- edited")
    copy.unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        mart_sql("top_movers")
