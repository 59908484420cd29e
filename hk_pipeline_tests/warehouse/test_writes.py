"""Partition replacement and upserts: idempotent, by name, atomic."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from hk_pipeline.calendar import TZ
from hk_pipeline.warehouse import writes as writes_module
from hk_pipeline.warehouse.catalog import list_tables, table_columns, table_comment
from hk_pipeline.warehouse.writes import replace_partition, upsert_rows
from hk_pipeline_tests.lake_access import read_home, write_home

D1 = date(2025, 11, 21)
D0 = date(2025, 11, 20)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "warehouse.duckdb"


@pytest.fixture
def con(db_path: Path):
    c = write_home(db_path)
    yield c
    c.close()


def quotes(symbols: list[str], trade_date: date = D1, snapshot: str = "midday") -> pd.DataFrame:
    n = len(symbols)
    return pd.DataFrame(
        {
            "trade_date": [trade_date] * n,
            "snapshot": [snapshot] * n,
            "symbol": symbols,
            "prev_close": [100.0 + i for i in range(n)],
            "open": [101.0 + i for i in range(n)],
            "high": [102.0 + i for i in range(n)],
            "low": [99.0 + i for i in range(n)],
            "last": [100.5 + i for i in range(n)],
            "volume": [1000 * (i + 1) for i in range(n)],
            "turnover": [1.0e5 * (i + 1) for i in range(n)],
            "as_of": [datetime(2025, 11, 21, 12, 0, tzinfo=TZ)] * n,
        }
    )


def write(con, df: pd.DataFrame, *, trade_date=D1, snapshot="midday", run_id="r1", rejected=None):
    return replace_partition(
        con,
        "raw.quotes",
        df,
        trade_date=trade_date,
        snapshot=snapshot,
        run_id=run_id,
        source="sample",
        rejected=rejected,
    )


def count(con, table: str, where: str = "true", params: list | None = None) -> int:
    return con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params or []).fetchall()[0][0]


def partition_rows(con, trade_date=D1, snapshot="midday") -> list[tuple]:
    return con.execute(
        "SELECT symbol, last, volume, run_id FROM raw.quotes"
        " WHERE trade_date = ? AND snapshot = ? ORDER BY symbol",
        [trade_date, snapshot],
    ).fetchall()


def test_connect_applies_ddl_with_comments(con) -> None:
    tables = list_tables(con)
    for t in ("ref.securities", "raw.quotes", "raw.intraday_bars", "quarantine.quotes"):
        assert t in tables
    assert table_columns(con, "raw.quotes")[:3] == ["trade_date", "snapshot", "symbol"]
    # trading_status came later: added last, so new and upgraded lakes share one column order
    assert table_columns(con, "raw.quotes")[-4:] == [
        "source",
        "run_id",
        "loaded_at",
        "trading_status",
    ]
    assert table_comment(con, "raw.quotes")
    uncommented = con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns()"
        " WHERE schema_name IN ('ref', 'raw', 'quarantine') AND comment IS NULL"
    ).fetchall()
    assert uncommented == []


def test_connect_is_idempotent(db_path: Path) -> None:
    write_home(db_path).close()
    c = write_home(db_path)
    assert "raw.quotes" in list_tables(c)
    c.close()


def test_rerun_same_partition_leaves_same_counts(con) -> None:
    assert write(con, quotes(["00005", "00700", "01810"])) == 3
    assert write(con, quotes(["00005", "00700", "01810"]), run_id="r2") == 3
    rows = partition_rows(con)
    assert len(rows) == 3
    assert {r[3] for r in rows} == {"r2"}
    loaded = con.execute("SELECT DISTINCT source FROM raw.quotes").fetchall()
    assert loaded == [("sample",)]


def test_reordered_columns_land_by_name(con) -> None:
    df = quotes(["00700"])
    reordered = df[list(reversed(df.columns))]
    write(con, reordered)
    got = con.execute(
        "SELECT symbol, prev_close, open, high, low, last, volume, turnover FROM raw.quotes"
    ).fetchall()
    assert got == [("00700", 100.0, 101.0, 102.0, 99.0, 100.5, 1000, 1.0e5)]


def test_partition_columns_filled_when_absent(con) -> None:
    df = quotes(["00700"]).drop(columns=["trade_date", "snapshot"])
    write(con, df, trade_date=D0, snapshot="close")
    assert con.execute("SELECT trade_date, snapshot FROM raw.quotes").fetchall() == [(D0, "close")]


def test_rows_of_another_partition_are_refused(con) -> None:
    write(con, quotes(["00005"]))
    with pytest.raises(ValueError, match="do not belong to partition"):
        write(con, quotes(["00700"], trade_date=D0))
    assert [r[0] for r in partition_rows(con)] == ["00005"]


def test_unknown_column_rolls_back_and_keeps_previous_partition(con) -> None:
    write(con, quotes(["00005", "00700"]))
    bad = quotes(["09999"]).assign(not_a_column=1)
    with pytest.raises(duckdb.Error):
        write(con, bad, run_id="r2")
    rows = partition_rows(con)
    assert [r[0] for r in rows] == ["00005", "00700"]
    assert {r[3] for r in rows} == {"r1"}
    # the connection is usable again (no transaction left open)
    assert write(con, quotes(["00388"]), run_id="r3") == 1


def test_failure_after_delete_keeps_previous_partition(con, monkeypatch) -> None:
    write(
        con,
        quotes(["00005", "00700"]),
        rejected=pd.DataFrame({"row_number": [7], "record": ['{"x": 1}'], "reason": ["bad"]}),
    )

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash between delete and insert")

    monkeypatch.setattr(writes_module, "_write_quarantine", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write(con, quotes(["00388"]), run_id="r2")
    assert [r[0] for r in partition_rows(con)] == ["00005", "00700"]
    assert count(con, "quarantine.quotes") == 1


def test_other_partitions_untouched(con) -> None:
    write(con, quotes(["00005"], D0, "close"), trade_date=D0, snapshot="close")
    write(con, quotes(["00005", "00700"], D1, "close"), snapshot="close")
    write(con, quotes(["00005"]))
    write(con, quotes(["00700", "01810", "09988"]), run_id="r2")
    assert count(con, "raw.quotes", "trade_date = ? AND snapshot = 'close'", [D0]) == 1
    assert count(con, "raw.quotes", "trade_date = ? AND snapshot = 'close'", [D1]) == 2
    assert count(con, "raw.quotes", "trade_date = ? AND snapshot = 'midday'", [D1]) == 3


def test_rejected_rows_quarantined_and_replaced_on_rerun(con) -> None:
    rejected = pd.DataFrame(
        {
            "row_number": [3, 9],
            "record": [{"symbol": "7OO", "last": -1}, '{"symbol": null}'],
            "reason": ["symbol: not 5 digits", "symbol: null"],
        }
    )
    write(con, quotes(["00005"]), rejected=rejected)
    write(con, quotes(["00005"], D0), trade_date=D0, rejected=rejected.iloc[:1])
    got = con.execute(
        "SELECT row_number, record, reason, source, run_id, snapshot FROM quarantine.quotes"
        " WHERE trade_date = ? ORDER BY row_number",
        [D1],
    ).fetchall()
    assert got[0][0] == 3 and got[0][2] == "symbol: not 5 digits"
    assert '"7OO"' in got[0][1]
    assert got[1][1:] == ('{"symbol": null}', "symbol: null", "sample", "r1", "midday")

    write(con, quotes(["00005"]), run_id="r2", rejected=rejected.iloc[1:])
    assert count(con, "quarantine.quotes", "trade_date = ?", [D1]) == 1
    write(con, quotes(["00005"]), run_id="r3")
    assert count(con, "quarantine.quotes", "trade_date = ?", [D1]) == 0
    assert count(con, "quarantine.quotes", "trade_date = ?", [D0]) == 1


def test_no_registered_views_left_behind(con) -> None:
    write(
        con,
        quotes(["00005"]),
        rejected=pd.DataFrame({"row_number": [1], "record": ["{}"], "reason": ["x"]}),
    )
    left = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE view_name LIKE '_hk_%'"
    ).fetchall()
    assert left == []


def securities(names: dict[str, str], valid_from: date = date(2025, 1, 1)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": list(names),
            "name": list(names.values()),
            "board": ["Main Board"] * len(names),
            "industry": ["Financials"] * len(names),
            "board_lot": [400] * len(names),
            "issued_shares": [17_000_000_000] * len(names),
            "currency": ["HKD"] * len(names),
            "listed_on": [date(1986, 1, 1)] * len(names),
            "valid_from": [valid_from] * len(names),
            "valid_to": [None] * len(names),
        }
    )


def upsert(con, df: pd.DataFrame, run_id: str = "r1", rejected=None) -> int:
    return upsert_rows(
        con,
        "ref.securities",
        df,
        key=["symbol", "valid_from"],
        trade_date=D1,
        snapshot="midday",
        run_id=run_id,
        source="sample",
        rejected=rejected,
    )


def test_upsert_twice_leaves_one_copy(con) -> None:
    upsert(con, securities({"00005": "HSBC", "00700": "TENCENT"}))
    upsert(con, securities({"00005": "HSBC HOLDINGS"}), run_id="r2")
    got = con.execute("SELECT symbol, name, run_id FROM ref.securities ORDER BY symbol").fetchall()
    assert got == [("00005", "HSBC HOLDINGS", "r2"), ("00700", "TENCENT", "r1")]
    # a new version (different valid_from) is added, not replaced
    upsert(con, securities({"00005": "HSBC NEW"}, valid_from=date(2025, 6, 1)), run_id="r3")
    assert count(con, "ref.securities", "symbol = '00005'") == 2


def test_upsert_keys_compare_in_table_types(con) -> None:
    upsert(con, securities({"00005": "HSBC"}))
    as_strings = securities({"00005": "HSBC 2"}).assign(valid_from="2025-01-01")
    upsert(con, as_strings, run_id="r2")
    assert con.execute("SELECT name FROM ref.securities").fetchall() == [("HSBC 2",)]


def test_upsert_failure_rolls_back(con) -> None:
    upsert(con, securities({"00005": "HSBC"}))
    with pytest.raises(duckdb.Error):
        upsert(con, securities({"00005": "BROKEN"}).assign(bogus=1), run_id="r2")
    assert con.execute("SELECT name FROM ref.securities").fetchall() == [("HSBC",)]
    assert list_tables(con).count("ref.securities") == 1


def test_upsert_quarantine(con) -> None:
    rej = pd.DataFrame({"row_number": [0], "record": ["{}"], "reason": ["no symbol"]})
    upsert(con, securities({"00005": "HSBC"}), rejected=rej)
    upsert(con, securities({"00005": "HSBC"}), rejected=rej, run_id="r2")
    assert con.execute("SELECT run_id FROM quarantine.securities").fetchall() == [("r2",)]


def test_read_only_connect_cannot_write(db_path: Path) -> None:
    c = write_home(db_path)
    write(c, quotes(["00005"]))
    c.close()
    ro = read_home(db_path)
    assert count(ro, "raw.quotes") == 1
    with pytest.raises(duckdb.Error):
        ro.execute("DELETE FROM raw.quotes")
    ro.close()


def test_read_only_connect_missing_lake(tmp_path: Path) -> None:
    from hk_pipeline.warehouse.readers import ReaderError

    with pytest.raises(ReaderError, match="run the pipeline first"):
        read_home(tmp_path / "nope")
    assert not (tmp_path / "nope" / "catalog.sqlite").exists()


def test_write_to_unknown_table_is_refused(con) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        replace_partition(
            con,
            "raw.nope",
            quotes(["1"]),
            trade_date=D1,
            snapshot="midday",
            run_id="r",
            source="sample",
        )
    with pytest.raises(ValueError, match="snapshot"):
        write(con, quotes(["00005"]), snapshot="evening")
