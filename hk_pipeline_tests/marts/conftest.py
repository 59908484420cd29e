"""A tiny hand-built warehouse whose mart figures are worked out by hand in the tests.

Trade date 2025-11-21 (a Friday), snapshot midday. Shares (ref.securities in force):

    symbol board  industry                   issued  prev   last   turnover  state
    00001  Main   Financials                  1,000  10.00  11.00    1,000   advancer +10%
    00002  Main   Financials                  2,000  20.00  19.00    3,000   decliner  -5%
    00003  Main   Information Technology        500  50.00  45.00    5,000   decliner -10%
    00004  Main   Information Technology        800   8.00   8.40    3,000   advancer  +5%
    00005  Main   Properties & Construction     100   5.00   4.95      500   decliner  -1%
    00006  Main   Healthcare                    400   7.00   7.00      200   flat
    00008  Main   Utilities                     900   (no row in raw.quotes)   untraded
    08001  GEM    Industrials                   300   1.00   NULL        0   untraded
    08002  GEM    Industrials                   600   NULL   2.00      800   listing day

Not in force on the day: 00007 (valid_to = trade date), 00009 (valid_from after it) - 00009
has a quote with the day's biggest turnover that must never show up.

HSI (prev close 1,000, level 940.05): 00001 IS*FAF*CF 500, 00002 1,000, 00003 500 ->
computed 1000 * 47000 / 50000 = 940, contributions +10, -20, -50. 00004 left HSI on the day.
HSTECH (prev close 5,000, level 4,964.29): 00003 100, 00004 1,000, 08001 1,000 ->
computed 5000 * 13900 / 14000. HSCEI has neither members nor a level.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

HKT = ZoneInfo("Asia/Hong_Kong")
D = date(2025, 11, 21)
PREV = date(2025, 11, 20)
NEXT = date(2025, 11, 24)

SECURITIES = [
    # symbol, name, board, industry, issued, listed_on, valid_from, valid_to
    ("00001", "Alpha Bank", "Main Board", "Financials", 1000, "2000-01-03", "2020-01-01", None),
    ("00002", "Beta Insurance", "Main Board", "Financials", 2000, "2000-01-03", "2020-01-01", None),
    (
        "00003",
        "Gamma Chips",
        "Main Board",
        "Information Technology",
        500,
        "2000-01-03",
        "2020-01-01",
        None,
    ),
    (
        "00004",
        "Delta Soft",
        "Main Board",
        "Information Technology",
        800,
        "2000-01-03",
        "2020-01-01",
        None,
    ),
    (
        "00005",
        "Epsilon Land",
        "Main Board",
        "Properties & Construction",
        100,
        "2000-01-03",
        "2020-01-01",
        None,
    ),
    ("00006", "Zeta Pharma", "Main Board", "Healthcare", 400, "2000-01-03", "2020-01-01", None),
    ("00007", "Eta Old", "Main Board", "Energy", 100, "2000-01-03", "2020-01-01", "2025-11-21"),
    ("00008", "Theta Power", "Main Board", "Utilities", 900, "2000-01-03", "2020-01-01", None),
    ("00009", "Iota Future", "Main Board", "Energy", 100, "2025-11-24", "2025-11-24", None),
    ("08001", "Kappa Tools", "GEM", "Industrials", 300, "2010-01-04", "2020-01-01", None),
    ("08002", "Lambda New", "GEM", "Industrials", 600, "2025-11-21", "2025-11-21", None),
    # an earlier version of 00001 with another name: must not double count
    (
        "00001",
        "Alpha Bank (old)",
        "Main Board",
        "Financials",
        900,
        "2000-01-03",
        "2010-01-01",
        "2020-01-01",
    ),
]

QUOTES = [
    # symbol, prev_close, last, turnover
    ("00001", 10.0, 11.0, 1000.0),
    ("00002", 20.0, 19.0, 3000.0),
    ("00003", 50.0, 45.0, 5000.0),
    ("00004", 8.0, 8.4, 3000.0),
    ("00005", 5.0, 4.95, 500.0),
    ("00006", 7.0, 7.0, 200.0),
    ("00007", 3.0, 3.3, 50.0),
    ("00009", 3.0, 4.0, 99999.0),
    ("08001", 1.0, None, 0.0),
    ("08002", None, 2.0, 800.0),
]

CONSTITUENTS = [
    # index, symbol, issued, faf, cf, valid_from, valid_to
    ("HSI", "00001", 1000, 0.5, 1.0, "2020-01-01", None),
    ("HSI", "00002", 2000, 1.0, 0.5, "2020-01-01", None),
    ("HSI", "00003", 500, 1.0, 1.0, "2020-01-01", None),
    ("HSI", "00004", 9999, 1.0, 1.0, "2020-01-01", "2025-11-21"),
    ("HSTECH", "00003", 100, 1.0, 1.0, "2020-01-01", None),
    ("HSTECH", "00004", 1000, 1.0, 1.0, "2020-01-01", None),
    ("HSTECH", "08001", 1000, 1.0, 1.0, "2020-01-01", None),
]

LEVELS = [
    # index, prev_close, last
    ("HSI", 1000.0, 940.05),
    ("HSTECH", 5000.0, 4964.29),
]


def hkt(d: date, hh: int, mm: int) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=HKT)


MACRO = [
    # series, period, value, unit, released_on, released_at
    ("unemployment_rate_sa", "2025-08", 3.7, "percent", "2025-09-18", None),
    ("unemployment_rate_sa", "2025-09", 3.9, "percent", "2025-10-17", None),
    # released on the trade date, time unknown: counts from the next trading day's open
    ("unemployment_rate_sa", "2025-10", 3.8, "percent", "2025-11-21", None),
    ("pmi", "2025-09", 50.4, "index", "2025-10-06", hkt(date(2025, 10, 6), 8, 30)),
    # a revision of September, released with October's figure
    ("pmi", "2025-09", 50.6, "index", "2025-11-05", hkt(date(2025, 11, 5), 8, 30)),
    ("pmi", "2025-10", 51.2, "index", "2025-11-05", hkt(date(2025, 11, 5), 8, 30)),
    # a later release that no earlier as_of may see
    ("pmi", "2025-11", 52.0, "index", "2025-12-03", hkt(date(2025, 12, 3), 8, 30)),
    ("fx_reserves", "2025-09", 424000.0, "USD million", "2025-10-07", None),
    # released at 16:30 on the trade date: after the close snapshot (16:10)
    (
        "fx_reserves",
        "2025-10",
        425500.0,
        "USD million",
        "2025-11-21",
        hkt(date(2025, 11, 21), 16, 30),
    ),
]


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    frame = frame.assign(source="sample", run_id="test", loaded_at=pd.Timestamp.now(tz="UTC"))
    view = f"_t_{table.replace('.', '_')}"
    con.register(view, frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
    con.unregister(view)


def _bars(d: date, snapshot: str, symbol: str, start: float, drift: float) -> list[tuple]:
    """One-minute bars: 09:30-11:59 for midday, 13:00-15:59 plus 16:00 for close."""
    if snapshot == "midday":
        times = [hkt(d, 9, 30) + timedelta(minutes=i) for i in range(150)]
    else:
        times = [hkt(d, 13, 0) + timedelta(minutes=i) for i in range(181)]
    rows, price = [], start
    for i, ts in enumerate(times):
        new = price * (1 + drift + (0.0004 if i % 7 == 0 else -0.0002))
        rows.append((d, snapshot, symbol, ts, price, max(price, new), min(price, new), new))
        price = new
    return rows


def write_marts(
    con: duckdb.DuckDBPyConnection, day: date = D, snapshots: tuple[str, ...] = ("midday", "close")
) -> None:
    """Materialise every mart for ``day``'s snapshots, as the mart assets do before the report
    (which reads the written marts, never their SQL)."""
    from hk_pipeline.marts.runner import MART_NAMES, materialize_mart

    for name in MART_NAMES:
        materialize_mart(con, name, [(day, s) for s in snapshots], run_id="test")


def populate(con: duckdb.DuckDBPyConnection, *, with_bars: bool = True) -> None:
    """Fill ref/raw tables of an empty warehouse with the data described above."""
    sec = pd.DataFrame(
        SECURITIES,
        columns=[
            "symbol",
            "name",
            "board",
            "industry",
            "issued_shares",
            "listed_on",
            "valid_from",
            "valid_to",
        ],
    )
    for col in ("listed_on", "valid_from", "valid_to"):
        sec[col] = pd.to_datetime(sec[col]).dt.date
    sec["board_lot"] = 100
    sec["currency"] = "HKD"
    _insert(con, "ref.securities", sec)

    cons = pd.DataFrame(
        CONSTITUENTS,
        columns=[
            "index_code",
            "symbol",
            "issued_shares",
            "faf",
            "cap_factor",
            "valid_from",
            "valid_to",
        ],
    )
    for col in ("valid_from", "valid_to"):
        cons[col] = pd.to_datetime(cons[col]).dt.date
    _insert(con, "ref.index_constituents", cons)

    for snapshot in ("midday", "close"):
        q = pd.DataFrame(QUOTES, columns=["symbol", "prev_close", "last", "turnover"])
        q["trade_date"] = D
        q["snapshot"] = snapshot
        q["volume"] = (q["turnover"] / q["last"].fillna(1)).round().astype("int64")
        q["open"] = q["high"] = q["low"] = q["last"]
        q["as_of"] = hkt(D, 12, 0) if snapshot == "midday" else hkt(D, 16, 10)
        _insert(con, "raw.quotes", q)
        lv = pd.DataFrame(LEVELS, columns=["index_code", "prev_close", "last"])
        lv["trade_date"] = D
        lv["snapshot"] = snapshot
        lv["open"] = lv["prev_close"]
        lv["high"] = lv[["prev_close", "last"]].max(axis=1)
        lv["low"] = lv[["prev_close", "last"]].min(axis=1)
        _insert(con, "raw.index_levels", lv)

    macro = pd.DataFrame(
        MACRO, columns=["series_id", "period", "value", "unit", "released_on", "released_at"]
    )
    macro["released_on"] = pd.to_datetime(macro["released_on"]).dt.date
    macro["released_at"] = pd.to_datetime(macro["released_at"], utc=True)
    _insert(con, "raw.macro_series", macro)

    if with_bars:
        rows = []
        for snapshot in ("midday", "close"):
            rows += _bars(D, snapshot, "HSI", 1000.0 if snapshot == "midday" else 945.0, -0.0004)
            rows += _bars(D, snapshot, "HSTECH", 5000.0 if snapshot == "midday" else 4970, -0.0001)
            rows += _bars(D, snapshot, "00001", 10.0, 0.0)
        bars = pd.DataFrame(
            rows, columns=["trade_date", "snapshot", "symbol", "ts", "open", "high", "low", "close"]
        )
        bars["volume"] = 0
        bars["turnover"] = 0.0
        _insert(con, "raw.intraday_bars", bars)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse file with the DDL of sql/ddl applied and the data above loaded."""
    from hk_pipeline_tests.lake_access import write_home

    con = write_home(tmp_path / "warehouse")
    populate(con)
    try:
        yield con
    finally:
        con.close()
