"""Effective dating for sources that only know the present: a new master closes the old one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from hk_pipeline.warehouse.writes import Supersede, close_superseded, upsert_rows
from hk_pipeline_tests.lake_access import write_home

NOV3, NOV20, NOV21, NOV24 = (
    date(2025, 11, 3),
    date(2025, 11, 20),
    date(2025, 11, 21),
    date(2025, 11, 24),
)
KEY = ["symbol", "valid_from"]


@pytest.fixture
def con(tmp_path: Path):
    c = write_home(tmp_path / "warehouse")
    yield c
    c.close()


def master(symbols: dict[str, int], valid_from: date, valid_to: date | None = None) -> pd.DataFrame:
    """A securities snapshot: symbol -> issued shares, all rows from ``valid_from``."""
    return pd.DataFrame(
        {
            "symbol": list(symbols),
            "name": [f"Co {s}" for s in symbols],
            "board": "Main Board",
            "industry": "Financials",
            "board_lot": 100,
            "issued_shares": list(symbols.values()),
            "currency": "HKD",
            "listed_on": None,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "source": "landing",
        }
    )


def load(con, frame: pd.DataFrame, trade_date: date, *, present: bool = True) -> None:
    """What the ref asset does for a present-only source: upsert and close, one transaction."""
    valid_from = frame["valid_from"].iloc[0]
    keys = frozenset((s,) for s in frame["symbol"]) if present else None
    upsert_rows(
        con,
        "ref.securities",
        frame,
        key=KEY,
        trade_date=trade_date,
        snapshot="close",
        run_id=f"run-{trade_date}",
        source="landing",
        supersede=Supersede(("symbol",), valid_from, keys),
    )


def rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT symbol, valid_from, valid_to, issued_shares FROM ref.securities ORDER BY 1, 2"
    ).fetchall()


def in_force(con: duckdb.DuckDBPyConnection, d: date) -> list[tuple]:
    return con.execute(
        """
        SELECT symbol, issued_shares FROM ref.securities
        WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) ORDER BY 1
        """,
        [d, d],
    ).fetchall()


def test_two_masters_leave_one_open_row_per_symbol(con) -> None:
    load(con, master({"00001": 100, "00002": 200, "00003": 300}, NOV3), NOV20)
    load(con, master({"00001": 110, "00002": 200, "00004": 400}, NOV21), NOV21)
    assert rows(con) == [
        ("00001", NOV3, NOV21, 100),
        ("00001", NOV21, None, 110),
        ("00002", NOV3, NOV21, 200),
        ("00002", NOV21, None, 200),
        ("00003", NOV3, NOV21, 300),  # absent from the full 2025-11-21 master: delisted
        ("00004", NOV21, None, 400),
    ]
    open_rows = con.execute(
        "SELECT symbol, count(*) FROM ref.securities WHERE valid_to IS NULL GROUP BY 1"
    ).fetchall()
    assert all(n == 1 for _, n in open_rows)
    assert in_force(con, NOV20) == [("00001", 100), ("00002", 200), ("00003", 300)]
    assert in_force(con, NOV24) == [("00001", 110), ("00002", 200), ("00004", 400)]


def test_backfilling_the_earlier_day_does_not_reopen_closed_rows(con) -> None:
    load(con, master({"00001": 100, "00002": 200, "00003": 300}, NOV3), NOV20)
    load(con, master({"00001": 110, "00002": 200, "00004": 400}, NOV21), NOV21)
    before = rows(con)
    # the source, knowing only that day, sends the 2025-11-03 master again with valid_to NULL
    load(con, master({"00001": 100, "00002": 200, "00003": 300}, NOV3), NOV20)
    assert rows(con) == before
    assert in_force(con, NOV24) == [("00001", 110), ("00002", 200), ("00004", 400)]


def test_a_master_loaded_out_of_order_ends_where_the_later_one_begins(con) -> None:
    load(con, master({"00001": 110}, NOV21), NOV21)
    load(con, master({"00001": 100}, NOV3), NOV20)  # the older file arrives later
    assert rows(con) == [("00001", NOV3, NOV21, 100), ("00001", NOV21, None, 110)]


def test_without_present_keys_absent_symbols_stay_open(con) -> None:
    load(con, master({"00001": 100, "00003": 300}, NOV3), NOV20)
    load(con, master({"00001": 110}, NOV21), NOV21, present=False)
    assert rows(con) == [
        ("00001", NOV3, NOV21, 100),
        ("00001", NOV21, None, 110),
        ("00003", NOV3, None, 300),
    ]


def test_a_quarantined_symbol_is_neither_superseded_nor_delisted(con) -> None:
    load(con, master({"00001": 100, "00002": 200}, NOV3), NOV20)
    # 00002's new row was rejected by validation: present in the snapshot, not upserted
    upsert_rows(
        con,
        "ref.securities",
        master({"00001": 110}, NOV21),
        key=KEY,
        trade_date=NOV21,
        snapshot="close",
        run_id="r",
        source="landing",
        supersede=Supersede(("symbol",), NOV21, frozenset({("00001",), ("00002",)})),
    )
    assert in_force(con, NOV24) == [("00001", 110), ("00002", 200)]


def test_sample_style_upsert_without_supersede_is_unchanged(con) -> None:
    upsert_rows(
        con,
        "ref.securities",
        master({"00001": 100}, NOV3, valid_to=NOV21),
        key=KEY,
        trade_date=NOV20,
        snapshot="close",
        run_id="r",
        source="sample",
    )
    upsert_rows(
        con,
        "ref.securities",
        master({"00001": 100, "00002": 5}, NOV3),  # the source says: open again
        key=KEY,
        trade_date=NOV20,
        snapshot="close",
        run_id="r",
        source="sample",
    )
    assert rows(con) == [("00001", NOV3, None, 100), ("00002", NOV3, None, 5)]


def test_close_superseded_reports_changes_and_checks_columns(con) -> None:
    load(con, master({"00001": 100, "00002": 200}, NOV3), NOV20)
    con.execute(
        "INSERT INTO ref.securities (symbol, valid_from, source, run_id, loaded_at)"
        " VALUES ('00001', DATE '2025-11-21', 'landing', 'r', now())"
    )
    assert close_superseded(con, "ref.securities", ["symbol"], NOV21, None) == 1
    assert close_superseded(con, "ref.securities", ["symbol"], NOV21, {("00001",)}) == 1
    with pytest.raises(ValueError, match="no_such_column"):
        close_superseded(con, "ref.securities", ["no_such_column"], NOV21)
