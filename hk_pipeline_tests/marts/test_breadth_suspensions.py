"""Suspensions in breadth: raw.quotes.trading_status keeps a suspended share in the universe,
counted as unchanged (it did not trade) and also in `suspended`; existing lakes get the column.
The hand-built warehouse of conftest.py: all = 2 up, 3 down, 3 unchanged, 1 listing day."""

from __future__ import annotations

from datetime import date

import pandas as pd

from hk_pipeline.marts.runner import compute_mart
from hk_pipeline.schemas.validate import validate_frame
from hk_pipeline.sources.hkex_quotations import to_quotes
from hk_pipeline.tables import table_ddl_texts
from hk_pipeline_tests.marts.conftest import D


def _all(con) -> pd.Series:
    frame = compute_mart(con, "market_breadth", D, "midday")
    return frame.set_index("universe").loc["all"]


def _status(con, symbol: str, status: str, **set_: object) -> None:
    extra = "".join(f", {col} = {val}" for col, val in set_.items())
    con.execute(
        f"UPDATE raw.quotes SET trading_status = ?{extra}"
        " WHERE trade_date = ? AND snapshot = 'midday' AND symbol = ?",
        [status, D, symbol],
    )


def test_suspended_share_counts_as_unchanged_and_apart(warehouse) -> None:
    before = _all(warehouse)
    assert (before.unchanged, before.suspended) == (3, 0)
    _status(warehouse, "08001", "suspended")  # no trade that day
    _status(warehouse, "00002", "halted")  # traded (a decliner) before its halt
    a = _all(warehouse)
    assert (a.advancers, a.decliners, a.unchanged, a.no_prev_close, a.total) == (2, 3, 3, 1, 9)
    assert (a.untraded, a.suspended) == (2, 2)


def test_suspended_without_previous_close_is_unchanged_not_listing_day(warehouse) -> None:
    # HKEX's quotations print no previous close for a TRADING SUSPENDED line
    _status(warehouse, "08001", "suspended", prev_close="NULL")
    a = _all(warehouse)
    assert (a.unchanged, a.no_prev_close, a.suspended, a.total) == (3, 1, 1, 9)
    # sector performance classifies the share the same way (its counts add up to breadth's)
    sectors = compute_mart(warehouse, "sector_performance", D, "midday")
    assert (sectors.unchanged.sum(), sectors.no_prev_close.sum()) == (3, 1)


def test_a_lake_made_before_the_column_gets_it(warehouse) -> None:
    rows = warehouse.execute("SELECT count(*) FROM raw.quotes").fetchone()[0]
    warehouse.execute("ALTER TABLE raw.quotes DROP COLUMN trading_status")
    # the file as ensure_lake_schema applies it (the other files: ~1 min on a DuckLake)
    warehouse.execute(table_ddl_texts()["raw.quotes"])
    got = warehouse.execute("SELECT count(*), count(trading_status) FROM raw.quotes").fetchone()
    assert got == (rows, 0)  # every row kept, as trading normally
    assert _all(warehouse).suspended == 0


def _quote(**over: object) -> dict:
    row = {
        "trade_date": date(2025, 11, 21),
        "snapshot": "close",
        "symbol": "00291",
        "prev_close": 10.0,
        "open": None,
        "high": None,
        "low": None,
        "last": None,
        "volume": 0,
        "turnover": 0.0,
        "as_of": pd.Timestamp("2025-11-21 16:10", tz="Asia/Hong_Kong"),
        "source": "test",
        "trading_status": "suspended",
    }
    return row | over


def test_validation_refuses_a_traded_suspended_share_and_unknown_status() -> None:
    frame = pd.DataFrame(
        [
            _quote(),
            _quote(symbol="00292", last=10.0, high=10.0, low=10.0, volume=1000, turnover=1e4),
            _quote(symbol="00293", trading_status="frozen"),
            _quote(symbol="00294", trading_status=None, last=10.0, high=10.0, low=10.0),
        ]
    )
    out = validate_frame("raw.quotes", frame)
    assert out.frame["symbol"].to_list() == ["00291", "00294"]
    reasons = " ".join(out.rejected["reason"])
    assert "trading_status must be NULL, 'suspended' or 'halted'" in reasons
    assert "trading_status=suspended" in reasons and "trading_status=frozen" in reasons


def test_hkex_markers_become_trading_status() -> None:
    parsed = pd.DataFrame(
        [
            {"symbol": "00291", "currency": None, "trading_status": "TRADING SUSPENDED"},
            {"symbol": "01137", "currency": None, "trading_status": "TRADING HALTED"},
            {
                "symbol": "00700",
                "currency": "HKD",
                "trading_status": None,
                "PRV.CLO.": 521.0,
                "HIGH": 523.0,
                "SHARES TRADED": 100.0,
                "CLOSING": 515.0,
                "LOW": 510.0,
                "TURNOVER ($)": 51500.0,
            },
        ]
    )
    frame = to_quotes(parsed, date(2025, 11, 21))
    assert frame.set_index("symbol")["trading_status"].to_dict() == {
        "00291": "suspended",
        "01137": "halted",
        "00700": None,
    }
    out = validate_frame("raw.quotes", frame)
    assert len(out.frame) == 3 and (out.rejected is None or out.rejected.empty)
