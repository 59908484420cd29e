"""Tests of the table models and validate_frame/assess, on small frames built by hand."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from hk_pipeline.schemas import (
    MODELS,
    SchemaMismatchError,
    ValidationOutcome,
    assess,
    validate_frame,
)
from hk_pipeline.tables import table_ddl_texts


def quotes(n: int = 4) -> pd.DataFrame:
    """n valid raw.quotes rows, as a source might deliver them (strings, float volume)."""
    return pd.DataFrame(
        {
            "trade_date": ["2025-11-21"] * n,
            "snapshot": ["midday"] * n,
            "symbol": [f"{i:05d}" for i in range(1, n + 1)],
            "prev_close": [10.0] * n,
            "open": [10.02] * n,
            "high": [10.5] * n,
            "low": [9.9] * n,
            "last": [10.2] * n,
            "volume": [100.0] * n,
            "turnover": [1020.0] * n,
            "as_of": ["2025-11-21 12:00"] * n,
            "source": ["sample"] * n,
        }
    )


def bars() -> pd.DataFrame:
    """Two share bars and one index bar of the midday session."""
    return pd.DataFrame(
        {
            "trade_date": pd.to_datetime(["2025-11-21"] * 3),
            "snapshot": ["midday"] * 3,
            "symbol": ["00700", "00700", "HSI"],
            "ts": pd.to_datetime(["2025-11-21 09:30", "2025-11-21 09:31", "2025-11-21 09:30"]),
            "open": [600.0, 600.5, 25000.37],
            "high": [601.0, 601.0, 25010.11],
            "low": [599.5, 600.0, 24990.02],
            "close": [600.5, 600.0, 25001.5],
            "volume": [1000, 2000, 0],
            "turnover": [600500.0, 1201000.0, 0.0],
            "source": ["sample"] * 3,
        }
    )


def index_levels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trade_date": ["2025-11-21"] * 3,
            "snapshot": ["close"] * 3,
            "index_code": ["HSI", "HSCEI", "HSTECH"],
            "prev_close": [25835.57, 9120.5, 5600.1],
            "open": [25500.0, 9000.0, 5500.0],
            "high": [25600.0, 9050.0, 5550.0],
            "low": [25200.0, 8900.0, 5400.0],
            "last": [25220.02, 8910.0, 5420.0],
            "as_of": pd.to_datetime(["2025-11-21 08:10"] * 3).tz_localize("UTC"),
            "source": ["sample"] * 3,
        }
    )


def reason_of(outcome: ValidationOutcome, row: int) -> str:
    rej = outcome.rejected.set_index("row_number")
    return str(rej.loc[row, "reason"])


def test_valid_frame_passes_untouched_and_is_coerced() -> None:
    df = quotes()
    out = validate_frame("raw.quotes", df)
    assert out.n_rejected == 0
    assert out.n_rows == len(df) == len(out.valid)
    assert out.failure_counts == {}
    assert out.valid["volume"].dtype == np.dtype("int64")
    assert out.valid["volume"].tolist() == [100] * 4
    assert out.valid["trade_date"].dtype == np.dtype("datetime64[ns]")
    assert str(out.valid["as_of"].dt.tz) == "Asia/Hong_Kong"
    assert out.valid["symbol"].tolist() == df["symbol"].tolist()
    assert list(out.rejected.columns) == ["row_number", "record", "reason"]


def test_negative_price_rejected_rest_valid() -> None:
    df = quotes()
    df.loc[2, "low"] = -9.9
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [2]
    assert "low: price must be a positive, finite number (-9.9)" in reason_of(out, 2)
    assert len(out.valid) == 3
    assert out.valid["symbol"].tolist() == ["00001", "00002", "00004"]
    assert out.failure_counts["low: price must be a positive, finite number"] == 1


def test_duplicate_key_rejects_every_copy() -> None:
    df = quotes()
    df.loc[3, "symbol"] = "00001"
    out = validate_frame("raw.quotes", df)
    assert sorted(out.rejected["row_number"]) == [0, 3]
    for row in (0, 3):
        assert "duplicate key (trade_date=2025-11-21, snapshot=midday, symbol=00001)" in (
            reason_of(out, row)
        )
    assert out.valid["symbol"].tolist() == ["00002", "00003"]
    assert out.failure_counts == {"duplicate key": 2}


def test_price_off_tick_table_rejected() -> None:
    df = quotes()
    df.loc[1, "prev_close"] = 10.01  # 10.00-20.00 trades in 0.02 steps
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [1]
    assert "prev_close: price off the HKEX tick table (10.01)" in reason_of(out, 1)


def test_high_below_low_rejected() -> None:
    df = quotes()
    df.loc[0, "high"] = 9.8
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [0]
    assert "high below" in reason_of(out, 0)
    assert "high=9.8" in reason_of(out, 0)


def test_untraded_share_valid_only_without_volume() -> None:
    df = quotes()
    df.loc[[0, 1], ["open", "high", "low", "last"]] = np.nan
    df.loc[0, ["volume", "turnover"]] = 0.0
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [1]
    assert "untraded" in reason_of(out, 1)
    assert out.valid["symbol"].tolist() == ["00001", "00003", "00004"]
    assert pd.isna(out.valid.loc[0, "last"])


def test_missing_column_raises_naming_it() -> None:
    df = quotes().drop(columns=["turnover"])
    with pytest.raises(SchemaMismatchError, match=r"raw\.quotes.*turnover"):
        validate_frame("raw.quotes", df)


def test_column_that_converts_for_no_row_raises() -> None:
    df = quotes()
    df["volume"] = "lots"
    with pytest.raises(SchemaMismatchError, match="volume"):
        validate_frame("raw.quotes", df)


def test_nan_and_inf_prices_rejected_with_valid_json_record() -> None:
    df = quotes()
    df.loc[0, "prev_close"] = np.inf  # NaN is allowed: a listing day
    df.loc[1, "last"] = np.inf
    df.loc[2, "open"] = -np.inf
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [0, 1, 2]
    assert "prev_close" in reason_of(out, 0)
    assert "last: price must be a positive, finite number (inf)" in reason_of(out, 1)

    def strict(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    records = [json.loads(r, parse_constant=strict) for r in out.rejected["record"]]
    assert records[0]["prev_close"] == "inf"
    assert records[1]["last"] == "inf"
    assert records[2]["open"] == "-inf"
    assert records[1]["symbol"] == "00002"
    sample = out.sample(2)
    assert [s["row_number"] for s in sample] == [0, 1]
    assert sample[1]["record"]["symbol"] == "00002" and "reason" in sample[1]


def test_non_integral_volume_rejected_not_truncated() -> None:
    df = quotes()
    df.loc[0, "volume"] = 100.5
    out = validate_frame("raw.quotes", df)
    assert "volume: not a whole number (100.5)" in reason_of(out, 0)
    assert len(out.valid) == 3


def test_assess_ok_warn_error() -> None:
    ok = validate_frame("raw.quotes", quotes(10))
    assert assess(ok, threshold=0.01).severity == "OK"

    df = quotes(200)
    df.loc[5, "last"] = -1.0  # 0.5 % of rows
    out = validate_frame("raw.quotes", df)
    warn = assess(out, threshold=0.01)
    assert (warn.passed, warn.severity) == (True, "WARN")

    error = assess(out, threshold=0.001)
    assert (error.passed, error.severity) == (False, "ERROR")
    assert "0.50% of 200 rows failed validation (threshold 0.10%)" in error.message
    assert "quarantine.quotes" in error.message

    critical = assess(out, threshold=0.01, critical_symbols={"00006", "HSI"})
    assert (critical.passed, critical.severity) == (False, "ERROR")
    assert "00006" in critical.message


def test_index_levels_rejection_is_always_error() -> None:
    df = index_levels()
    assert validate_frame("raw.index_levels", df).n_rejected == 0
    df.loc[2, "low"] = 5600.0  # above open and last
    out = validate_frame("raw.index_levels", df)
    assert out.rejected["row_number"].tolist() == [2]
    verdict = assess(out, threshold=0.5)
    assert verdict.severity == "ERROR"


def test_bars_ticks_apply_to_shares_not_indices() -> None:
    df = bars()
    out = validate_frame("raw.intraday_bars", df)
    assert out.n_rejected == 0, out.rejected["reason"].tolist()
    assert out.valid["ts"].dt.tz is not None
    df.loc[0, "close"] = 600.3  # 200-500 band is 0.20, 500-1000 is 0.50
    df.loc[1, "high"] = 599.0
    out = validate_frame("raw.intraday_bars", df)
    assert out.rejected["row_number"].tolist() == [0, 1]
    assert "price off the HKEX tick table (close=600.3)" in reason_of(out, 0)
    assert "high below open/close/low" in reason_of(out, 1)


def test_bars_outside_session_rejected() -> None:
    df = bars()
    df.loc[0, "ts"] = pd.Timestamp("2025-11-21 13:00")
    out = validate_frame("raw.intraday_bars", df)
    assert out.rejected["row_number"].tolist() == [0]
    assert "outside" in reason_of(out, 0)


def test_reference_tables() -> None:
    sec = pd.DataFrame(
        {
            "symbol": ["00700", "00005"],
            "name": ["TENCENT", "HSBC HOLDINGS"],
            "board": ["Main Board", "Main Board"],
            "industry": ["Information Technology", "Banks"],
            "board_lot": [100, 400],
            "issued_shares": [9_100_000_000, 17_000_000_000],
            "currency": ["HKD", "HKD"],
            "listed_on": ["2004-06-16", None],
            "valid_from": ["2023-07-03", "2023-07-03"],
            "valid_to": [None, "2023-01-01"],
            "source": ["sample", "sample"],
        }
    )
    out = validate_frame("ref.securities", sec)
    assert out.rejected["row_number"].tolist() == [1]
    assert "industry" in reason_of(out, 1) and "valid_to not after valid_from" in reason_of(out, 1)

    cons = pd.DataFrame(
        {
            "index_code": ["HSI", "HSI"],
            "symbol": ["00700", "00005"],
            "issued_shares": [9_100_000_000, 17_000_000_000],
            "faf": [0.7, 1.2],
            "cap_factor": [0.8, 1.0],
            "valid_from": ["2025-09-08", "2025-09-08"],
            "valid_to": [None, None],
            "source": ["sample", "sample"],
        }
    )
    out = validate_frame("ref.index_constituents", cons)
    assert out.rejected["row_number"].tolist() == [1]
    assert "faf: factor must be in (0, 1] (1.2)" in reason_of(out, 1)


def test_macro_series() -> None:
    df = pd.DataFrame(
        {
            "series_id": ["pmi", "pmi", "gdp"],
            "period": ["2025-10", "2025-13", "2025-10"],
            "value": [50.1, 49.0, 1.0],
            "unit": ["index", "index", "%"],
            "released_on": ["2025-11-05", "2025-12-03", "2025-11-05"],
            "released_at": [None, "2025-12-03 08:30", None],
            "source": ["sample"] * 3,
        }
    )
    out = validate_frame("raw.macro_series", df)
    assert out.rejected["row_number"].tolist() == [1, 2]
    assert "period" in reason_of(out, 1) and "series_id" in reason_of(out, 2)


def test_models_cover_the_tables_and_describe_every_column() -> None:
    assert set(MODELS) == {
        "ref.securities",
        "ref.index_constituents",
        "raw.quotes",
        "raw.index_levels",
        "raw.intraday_bars",
        "raw.macro_series",
        "raw.index_contributions",
    }
    for table, model in MODELS.items():
        schema = model.to_schema()
        assert "source" in schema.columns, table
        assert {"run_id", "loaded_at"}.isdisjoint(schema.columns), table
        for name, col in schema.columns.items():
            assert col.description, f"{table}.{name} has no description"


# --- polars backend: types, inputs, nullable columns of the live sources -----------------------

# DuckDB column type -> the Arrow type valid_arrow must carry for it.
ARROW_OF_DUCKDB = {
    "DATE": pa.date32(),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="Asia/Hong_Kong"),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.large_string(),
}


def securities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["00700", "00005"],
            "name": ["TENCENT", "HSBC HOLDINGS"],
            "board": ["Main Board", "Main Board"],
            "industry": ["Information Technology", "Financials"],
            "board_lot": [100, 400],
            "issued_shares": [9_100_000_000, 17_000_000_000],
            "currency": ["HKD", "HKD"],
            "listed_on": ["2004-06-16", None],
            "valid_from": ["2023-07-03", "2023-07-03"],
            "valid_to": [None, None],
            "source": ["sample", "sample"],
        }
    )


def constituents() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index_code": ["HSI", "HSI"],
            "symbol": ["00700", "00005"],
            "issued_shares": [9_100_000_000, 17_000_000_000],
            "faf": [0.7, 1.0],
            "cap_factor": [0.8, 1.0],
            "valid_from": ["2025-09-08", "2025-09-08"],
            "valid_to": [None, None],
            "source": ["sample", "sample"],
        }
    )


def macro() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": ["pmi", "fx_reserves"],
            "period": ["2025-10", "2025-10"],
            "value": [50.1, 430.2],
            "unit": ["index", "USD bn"],
            "released_on": ["2025-11-05", "2025-11-07"],
            "released_at": [None, "2025-11-07 16:30"],
            "source": ["sample"] * 2,
        }
    )


VALID_FRAMES = {
    "ref.securities": securities,
    "ref.index_constituents": constituents,
    "raw.quotes": quotes,
    "raw.index_levels": index_levels,
    "raw.intraday_bars": bars,
    "raw.macro_series": macro,
}


def duckdb_types(table: str) -> dict[str, str]:
    con = duckdb.connect()
    con.execute(table_ddl_texts()[table])
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}


@pytest.mark.parametrize("table", sorted(VALID_FRAMES))
def test_valid_arrow_types_match_the_duckdb_columns(table: str) -> None:
    out = validate_frame(table, VALID_FRAMES[table]())
    assert out.n_rejected == 0, out.rejected["reason"].tolist()
    arrow = out.valid_arrow
    assert isinstance(arrow, pa.Table) and arrow.num_rows == out.n_rows
    types = duckdb_types(table)
    for name in MODELS[table].to_schema().columns:
        assert arrow.schema.field(name).type == ARROW_OF_DUCKDB[types[name]], (table, name)
    # and it inserts as it is (by name), no pandas round trip
    con = duckdb.connect()
    con.execute(table_ddl_texts()[table])
    con.register("rows", arrow)
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT *, 'r' AS run_id, now() AS loaded_at FROM rows"
    )
    assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (arrow.num_rows,)


def bad_quotes() -> pd.DataFrame:
    df = quotes(6)
    df.loc[1, "low"] = -9.9
    df.loc[2, "volume"] = 100.5
    df.loc[3, "symbol"] = "00001"
    df.loc[4, "prev_close"] = np.inf
    return df


def test_pandas_and_polars_input_give_the_same_outcome() -> None:
    df = bad_quotes()
    from_pandas = validate_frame("raw.quotes", df)
    from_polars = validate_frame("raw.quotes", pl.from_pandas(df))
    assert from_pandas.rejected["row_number"].tolist() == [0, 1, 2, 3, 4]
    pd.testing.assert_frame_equal(from_pandas.rejected, from_polars.rejected)
    assert from_pandas.failure_counts == from_polars.failure_counts
    pd.testing.assert_frame_equal(from_pandas.valid, from_polars.valid)
    assert from_pandas.valid_arrow.equals(from_polars.valid_arrow)
    assert from_polars.valid["symbol"].tolist() == ["00006"]


def test_polars_nan_is_null_and_inf_is_rejected() -> None:
    df = pl.from_pandas(quotes()).with_columns(
        pl.Series("prev_close", [float("nan"), float("inf"), 10.0, 10.0])
    )
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [1]
    assert "prev_close: price must be a positive, finite number (inf)" in reason_of(out, 1)
    assert out.frame["prev_close"].null_count() == 1  # NaN (listing day) stored as NULL


def test_timestamptz_naive_is_hkt_aware_is_converted() -> None:
    q = validate_frame("raw.quotes", quotes())  # "2025-11-21 12:00", naive
    assert q.frame["as_of"].dtype == pl.Datetime("us", "Asia/Hong_Kong")
    assert q.frame["as_of"][0] == datetime(2025, 11, 21, 12, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))
    lv = validate_frame("raw.index_levels", index_levels())  # 08:10 UTC
    assert lv.valid["as_of"].dt.strftime("%H:%M").tolist() == ["16:10"] * 3
    assert lv.frame["trade_date"].dtype == pl.Date


def test_value_not_convertible_is_blamed_on_its_row() -> None:
    df = quotes()
    df["volume"] = pd.Series([100, "lots", 100.0, None], dtype=object)
    df["trade_date"] = ["2025-11-21", "2025-11-21", "someday", "2025-11-21"]
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [1, 2, 3]
    assert "volume: not convertible to Int64 (lots)" in reason_of(out, 1)
    assert "trade_date: not convertible to Date (someday)" in reason_of(out, 2)
    assert "volume: missing (NULL not allowed) (NULL)" in reason_of(out, 3)
    assert out.valid["volume"].tolist() == [100]


def test_live_sources_nullable_columns() -> None:
    sec = securities()
    sec["industry"] = [None, "Financials"]
    sec["issued_shares"] = [None, 17_000_000_000]
    out = validate_frame("ref.securities", sec)
    assert out.n_rejected == 0, out.rejected["reason"].tolist()
    assert out.valid["issued_shares"].dtype == pd.Int64Dtype()  # no float round trip
    assert out.valid["issued_shares"].tolist() == [pd.NA, 17_000_000_000]
    assert out.valid_arrow.schema.field("issued_shares").type == pa.int64()

    cons = constituents()
    cons[["issued_shares", "faf", "cap_factor"]] = None
    out = validate_frame("ref.index_constituents", cons)
    assert out.n_rejected == 0, out.rejected["reason"].tolist()
    cons.loc[1, "faf"] = 0.0  # a published factor is still checked
    out = validate_frame("ref.index_constituents", cons)
    assert out.rejected["row_number"].tolist() == [1]
    assert "faf: factor must be in (0, 1] (0.0)" in reason_of(out, 1)

    q = quotes()
    q.loc[0, "prev_close"] = None  # listing day
    assert validate_frame("raw.quotes", q).n_rejected == 0

    nullable = {
        "ref.securities": {"industry", "issued_shares"},
        "ref.index_constituents": {"issued_shares", "faf", "cap_factor"},
        "raw.quotes": {"prev_close"},
    }
    for table, names in nullable.items():
        columns = MODELS[table].to_schema().columns
        for name in names:
            assert columns[name].nullable, (table, name)
            assert "NULL" in (columns[name].description or ""), (table, name)


def test_bars_in_session_by_local_time_and_day() -> None:
    df = bars()
    df["ts"] = df["ts"].dt.tz_localize("Asia/Hong_Kong").dt.tz_convert("UTC")  # same instants
    assert validate_frame("raw.intraday_bars", df).n_rejected == 0
    df = bars()
    df.loc[1, "ts"] = pd.Timestamp("2025-11-22 09:31")  # right time, wrong day
    df.loc[2, "ts"] = pd.Timestamp("2025-11-21 12:00")  # close session's half-day bar at midday
    out = validate_frame("raw.intraday_bars", df)
    assert out.rejected["row_number"].tolist() == [1, 2]
    df = bars()
    df["snapshot"] = "close"
    df["ts"] = pd.to_datetime(["2025-11-21 16:00", "2025-11-21 12:00", "2025-11-21 13:00"])
    assert validate_frame("raw.intraday_bars", df).n_rejected == 0


def test_index_bars_must_have_no_volume_and_symbols_in_reason() -> None:
    df = bars()
    df.loc[2, "volume"] = 5
    out = validate_frame("raw.intraday_bars", df)
    assert out.rejected["row_number"].tolist() == [2]
    assert (
        "index bar with volume or turnover (must be 0) (symbol=HSI, volume=5, turnover=0.0)"
        in reason_of(out, 2)
    )


def test_column_schema_feeds_dagster() -> None:
    """What hk_pipeline.defs.ingest.column_schema reads: name, dtype text, description."""
    columns = MODELS["raw.intraday_bars"].to_schema().columns
    assert {n: str(c.dtype) for n, c in columns.items() if n in ("trade_date", "ts", "volume")} == {
        "trade_date": "Date",
        "ts": "Datetime(time_unit='us', time_zone='Asia/Hong_Kong')",
        "volume": "Int64",
    }


def _failing_frames() -> list[tuple[str, pd.DataFrame]]:
    """Frames with rejections of every kind, with and without a duplicated key."""
    dup_bars = pd.concat([bars(), bars().iloc[[0]]], ignore_index=True)
    dup_bars.loc[1, "high"] = 599.0
    off_bars = bars()
    off_bars.loc[0, "close"] = 600.3
    off_bars.loc[1, "volume"] = None
    off_bars.loc[2, "symbol"] = "HSX"
    no_dup = bad_quotes()
    no_dup.loc[3, "symbol"] = "00004"
    return [
        ("raw.quotes", bad_quotes()),
        ("raw.quotes", no_dup),
        ("raw.intraday_bars", dup_bars),
        ("raw.intraday_bars", off_bars),
        *[(table, make()) for table, make in VALID_FRAMES.items()],
    ]


def test_proven_unique_frames_skip_the_key_check_with_the_same_outcome(monkeypatch) -> None:
    """A frame whose row hashes differ skips pandera's uniqueness check; reasons, their order
    and failure counts are those of the full check."""
    from hk_pipeline.schemas import validate

    for table, df in _failing_frames():
        fast = validate_frame(table, df.copy())
        with monkeypatch.context() as m:
            m.setattr(validate, "_surely_unique", lambda frame, key: False)
            full = validate_frame(table, df.copy())
        pd.testing.assert_frame_equal(fast.rejected, full.rejected)
        assert list(fast.failure_counts.items()) == list(full.failure_counts.items())
        assert fast.frame.equals(full.frame), table


def test_surely_unique_proves_only_what_holds() -> None:
    from hk_pipeline.schemas.validate import _surely_unique

    day = datetime(2025, 11, 21).date()
    frame = pl.DataFrame(
        {"d": [day] * 3, "s": ["a", "b", "a"], "n": [1, 2, 3], "x": [1.0, 2.0, 1.0]}
    )
    assert _surely_unique(frame, ["d", "s", "n"])
    assert not _surely_unique(frame, ["d", "s"])  # rows 0 and 2
    assert not _surely_unique(frame, ["x"])  # floats (NaN, -0.0) are left to pandera
    assert not _surely_unique(pl.DataFrame({"s": [None, None]}, schema={"s": pl.String}), ["s"])
    assert _surely_unique(frame.head(0), ["d", "s"])


def test_input_frame_index_and_columns_are_left_alone() -> None:
    df = quotes()
    df.index = pd.Index([10, 11, 12, 13])
    df.loc[11, "low"] = -9.9
    out = validate_frame("raw.quotes", df)
    assert out.rejected["row_number"].tolist() == [1]  # positions, not index labels
    assert df.index.tolist() == [10, 11, 12, 13]
    assert df["low"].tolist() == [9.9, -9.9, 9.9, 9.9]


# --- fast path: every rule in one polars query, pandera only when something fails ------------


def _pandera_only(monkeypatch: pytest.MonkeyPatch, table: str, df: object) -> ValidationOutcome:
    """validate_frame with the fast path off: pandera validates every frame in full."""
    from hk_pipeline.schemas import validate

    with monkeypatch.context() as m:
        m.setattr(validate, "_all_pass", lambda schema, frame: False)
        return validate_frame(table, df)


def _assert_same_outcome(fast: ValidationOutcome, full: ValidationOutcome) -> None:
    pd.testing.assert_frame_equal(fast.rejected, full.rejected)
    assert list(fast.failure_counts.items()) == list(full.failure_counts.items())
    assert fast.frame.schema == full.frame.schema
    assert fast.frame.equals(full.frame)


def _checked(table: str, df: pd.DataFrame) -> tuple[object, pl.DataFrame]:
    """The schema pandera would run and the frame it would judge (every value converted)."""
    from hk_pipeline.schemas import coerce, validate

    model = MODELS[table]
    frame, _, bad = coerce.prepare(table, model, coerce.as_polars(df))
    checked = frame.filter(pl.Series(~bad))
    return validate._schema_for(model, checked), checked


def _pandera_rejects(schema: object, frame: pl.DataFrame) -> bool:
    from pandera.errors import SchemaErrors

    try:
        schema.validate(frame, lazy=True)  # type: ignore[attr-defined]
    except SchemaErrors:
        return True
    return False


def _defects() -> list[tuple[str, str, pd.DataFrame]]:
    """(label, table, frame): one kind of bad row each, every kind of rule of the models."""

    def edit(make, table: str, label: str, **cells: object) -> tuple[str, str, pd.DataFrame]:
        df = make()
        for col, value in cells.items():
            df[col] = df[col].astype(object)
            df.loc[0, col] = value
        return label, table, df

    q, b, lv = "raw.quotes", "raw.intraday_bars", "raw.index_levels"
    return [
        edit(quotes, q, "null in non-nullable", symbol=None),
        edit(quotes, q, "NaN in non-nullable float", turnover=np.nan),
        edit(quotes, q, "bad category", snapshot="noon"),
        edit(quotes, q, "pattern", symbol="0700"),
        edit(quotes, q, "out of range (ge)", volume=-1),
        edit(quotes, q, "inf price", prev_close=np.inf),
        edit(quotes, q, "off tick", last=10.201),
        edit(quotes, q, "high below low", high=9.0),
        edit(quotes, q, "untraded with volume", last=None, high=None, low=None, open=None),
        edit(quotes, q, "duplicate key", symbol="00002"),
        edit(quotes, q, "wrong dtype (text in a number)", volume="lots"),
        edit(quotes, q, "not a whole number", volume=1.5),
        edit(bars, b, "bar outside session", ts=pd.Timestamp("2025-11-21 13:30")),
        edit(bars, b, "index bar with volume", volume=5, symbol="HSI"),
        edit(bars, b, "bar off tick", close=600.3),
        edit(index_levels, lv, "level not positive", last=-1.0),
        edit(index_levels, lv, "bad index code", index_code="HSX"),
        edit(securities, "ref.securities", "not gt 0", board_lot=0),
        edit(securities, "ref.securities", "valid_to before valid_from", valid_to="2020-01-01"),
        edit(securities, "ref.securities", "bad industry", industry="Astrology"),
        edit(constituents, "ref.index_constituents", "factor > 1", faf=1.5),
        edit(macro, "raw.macro_series", "bad period", period="2025-13"),
        edit(macro, "raw.macro_series", "inf value", value=np.inf),
    ]


@pytest.mark.parametrize(("label", "table", "df"), _defects(), ids=[d[0] for d in _defects()])
def test_fast_path_outcome_equals_pandera_on_bad_rows(
    monkeypatch: pytest.MonkeyPatch, label: str, table: str, df: pd.DataFrame
) -> None:
    fast = validate_frame(table, df.copy())
    full = _pandera_only(monkeypatch, table, df.copy())
    assert fast.n_rejected >= 1, label
    _assert_same_outcome(fast, full)


@pytest.mark.parametrize(("label", "table", "df"), _defects(), ids=[d[0] for d in _defects()])
def test_fast_path_never_accepts_what_pandera_rejects(
    label: str, table: str, df: pd.DataFrame
) -> None:
    """The fast path's verdict on the frame pandera judges is pandera's verdict."""
    from hk_pipeline.schemas.validate import _all_pass

    schema, checked = _checked(table, df)
    assert _all_pass(schema, checked) is not _pandera_rejects(schema, checked), label


@pytest.mark.parametrize("table", sorted(VALID_FRAMES))
def test_fast_path_accepts_clean_frames_as_pandera_does(
    monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    from hk_pipeline.schemas.validate import _all_pass

    schema, checked = _checked(table, VALID_FRAMES[table]())
    assert _all_pass(schema, checked)
    assert not _pandera_rejects(schema, checked)
    _assert_same_outcome(
        validate_frame(table, VALID_FRAMES[table]()),
        _pandera_only(monkeypatch, table, VALID_FRAMES[table]()),
    )


@pytest.fixture(scope="module")
def sample_day() -> dict[str, pd.DataFrame]:
    """Every table's frame of one sample partition, as the ingest assets fetch them."""
    from hk_pipeline.defs.raw import INDEX_LEVELS, INTRADAY_BARS, MACRO_SERIES, QUOTES
    from hk_pipeline.defs.ref import INDEX_CONSTITUENTS, SECURITIES
    from hk_pipeline.sample_market.source import SampleSource

    src, day = SampleSource(), datetime(2024, 11, 4).date()
    specs = [QUOTES, INDEX_LEVELS, INTRADAY_BARS, MACRO_SERIES, SECURITIES, INDEX_CONSTITUENTS]
    return {spec.table: spec.fetch(src, day, "midday") for spec in specs}


def test_fast_path_equals_pandera_on_sample_partition(
    monkeypatch: pytest.MonkeyPatch, sample_day: dict[str, pd.DataFrame]
) -> None:
    """Clean sample frames, then the same frames with bad rows of several kinds."""
    for table, df in sample_day.items():
        fast = validate_frame(table, df)
        assert fast.n_rejected == 0, (table, fast.sample(3))
        _assert_same_outcome(fast, _pandera_only(monkeypatch, table, df))

    bars_df = sample_day["raw.intraday_bars"].copy()
    for col in ("open", "volume", "symbol"):
        bars_df[col] = bars_df[col].astype(object)
    bars_df.loc[5, "open"] = None  # null
    bars_df.loc[6, "volume"] = -3  # out of range
    bars_df.loc[7, "symbol"] = "HSX"  # bad code
    bars_df.loc[8, "open"] = 1e9  # off tick, above high
    bars_df.loc[9, "volume"] = "many"  # not convertible
    bars_df = pd.concat([bars_df, bars_df.iloc[[10]]], ignore_index=True)  # duplicate key
    fast = validate_frame("raw.intraday_bars", bars_df)
    full = _pandera_only(monkeypatch, "raw.intraday_bars", bars_df)
    assert set(fast.rejected["row_number"]) == {5, 6, 7, 8, 9, 10, len(bars_df) - 1}
    _assert_same_outcome(fast, full)


def test_fast_path_leaves_failing_or_unmirrored_checks_to_pandera() -> None:
    """A check that raises, answers False outright, or a schema setting the fast path does
    not mirror: the verdict is "ask pandera", never "passes"."""
    import pandera.polars as pa_pl

    from hk_pipeline.schemas.validate import _all_pass

    frame = pl.DataFrame({"x": [1, 2, 3]})

    def boom(data):
        raise RuntimeError("rule cannot run")

    def schema(**kw: object) -> pa_pl.DataFrameSchema:
        return pa_pl.DataFrameSchema({"x": pa_pl.Column(pl.Int64)}, **kw)

    assert _all_pass(schema(), frame)
    assert not _all_pass(schema(checks=[pa_pl.Check(boom)]), frame)
    assert not _all_pass(schema(checks=[pa_pl.Check(lambda data: False)]), frame)
    assert _all_pass(schema(checks=[pa_pl.Check(lambda data: True)]), frame)
    assert not _all_pass(schema(strict=True), frame.with_columns(y=pl.lit(1)))
    assert not _all_pass(schema(unique=["x"]), frame)
    assert not _all_pass(schema(), frame.cast({"x": pl.Int32}))  # pandera would coerce
    nullable = pa_pl.DataFrameSchema({"x": pa_pl.Column(pl.Float64, nullable=True)})
    assert _all_pass(nullable, pl.DataFrame({"x": [1.0, None]}))
    assert not _all_pass(schema(), pl.DataFrame({"x": [1, None]}))
    assert not _all_pass(
        pa_pl.DataFrameSchema({"x": pa_pl.Column(pl.Float64)}), pl.DataFrame({"x": [float("nan")]})
    )
    # NULL check outputs: a pass with ignore_na (pandera's default), else a failure
    null_out = pa_pl.Check(lambda data: data.lazyframe.select(pl.lit(None, pl.Boolean)))
    strict_null = pa_pl.Check(
        lambda data: data.lazyframe.select(pl.lit(None, pl.Boolean)), ignore_na=False
    )
    assert _all_pass(schema(checks=[null_out]), frame)
    assert not _all_pass(schema(checks=[strict_null]), frame)


def test_tick_rule_is_the_spread_table_of_hk_pipeline_ticks() -> None:
    """quotes.tick_ok (a polars expression) judges every price as ticks.on_tick does."""
    from hk_pipeline.schemas.quotes import tick_ok
    from hk_pipeline.ticks import SPREAD_TABLE, on_tick

    rng = np.random.default_rng(7)
    bounds = np.array([b for b, _ in SPREAD_TABLE])
    prices = np.concatenate(
        [np.round(rng.uniform(0, 12_000, 200_000), d) for d in (1, 2, 3)]
        + [
            rng.uniform(0, 1, 50_000),
            bounds,
            np.nextafter(bounds, 0),
            np.nextafter(bounds, np.inf),
            bounds + 0.001,
            [0.0, -1.0, 1e-300, 9995.0, 10_000.0, 1e300, np.inf, -np.inf, np.nan],
        ]
    )
    valid = np.isfinite(prices) & (prices > 0)
    expected = np.ones(len(prices), dtype=bool)
    expected[valid] = on_tick(prices[valid])
    got = pl.DataFrame({"p": prices}).select(tick_ok(pl.col("p"))).to_series()
    assert got.null_count() == 0
    assert (got.to_numpy() == expected).all()
    assert expected.sum() > 1000 and (~expected).sum() > 1000
    nulls = pl.DataFrame({"p": [None, 10.0]}, schema={"p": pl.Float64})
    assert nulls.select(tick_ok(pl.col("p"))).to_series().to_list() == [True, True]
