"""Reading every kind from the example folder gives the canonical frames."""

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.schemas.validate import validate_frame
from hk_pipeline.sources.landing import LandingSource, row_origins

from .conftest import write

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

D1, D2 = date(2025, 11, 20), date(2025, 11, 21)
HKT_NS = pd.DatetimeTZDtype("ns", calendar.TZ)
OBJ = np.dtype(object)


def dtypes(frame: pd.DataFrame) -> dict[str, object]:
    return dict(frame.dtypes)


def test_securities_canonical_and_effective_dated(fixture_root: Path) -> None:
    src = LandingSource(fixture_root)
    first = src.securities(D1)
    assert list(first.columns) == [
        "symbol", "name", "board", "industry", "board_lot", "issued_shares", "currency",
        "listed_on", "valid_from", "valid_to", "source",
    ]  # fmt: skip
    assert dtypes(first)["board_lot"] == np.int64
    assert dtypes(first)["issued_shares"] == np.int64
    assert len(first) == 12
    assert {"00700", "09988", "00005", "08083"} <= set(first["symbol"])  # leading zeros kept
    assert (first["valid_from"] == date(2025, 11, 3)).all()
    assert (first["valid_to"] == D2).all()  # the next master takes over on 2025-11-21
    assert first["listed_on"].isna().all()
    assert (first["source"] == "landing").all()
    hsbc = first.set_index("symbol").loc["00005"]
    assert hsbc["issued_shares"] == 17_450_000_000
    second = src.securities(D2)
    assert (second["valid_from"] == D2).all() and second["valid_to"].isna().all()
    assert second.set_index("symbol").loc["00005", "issued_shares"] == 17_390_000_000
    assert src.securities(date(2026, 1, 5))["valid_from"].iloc[0] == D2


def test_index_constituents(fixture_root: Path) -> None:
    frame = LandingSource(fixture_root).index_constituents(D2)
    assert list(frame.columns) == [
        "index_code", "symbol", "issued_shares", "faf", "cap_factor", "valid_from", "valid_to",
        "source",
    ]  # fmt: skip
    assert frame.groupby("index_code").size().to_dict() == {"HSCEI": 5, "HSI": 8, "HSTECH": 4}
    assert frame["faf"].dtype == np.float64 and frame["issued_shares"].dtype == np.int64
    assert (frame["valid_from"] == date(2025, 9, 8)).all() and frame["valid_to"].isna().all()


def test_quotes_untraded_share_and_dtypes(fixture_root: Path) -> None:
    frame = LandingSource(fixture_root).quotes(D2, "midday")
    assert list(frame.columns) == [
        "trade_date", "snapshot", "symbol", "prev_close", "open", "high", "low", "last",
        "volume", "turnover", "as_of", "source",
    ]  # fmt: skip
    assert dtypes(frame) == {
        "trade_date": OBJ, "snapshot": OBJ, "symbol": OBJ, "prev_close": np.float64,
        "open": np.float64, "high": np.float64, "low": np.float64, "last": np.float64,
        "volume": np.int64, "turnover": np.float64, "as_of": HKT_NS, "source": OBJ,
    }  # fmt: skip
    assert len(frame) == 12
    assert (frame["trade_date"] == D2).all() and (frame["snapshot"] == "midday").all()
    assert frame["as_of"].iloc[0] == pd.Timestamp("2025-11-21 12:00", tz=calendar.TZ)
    row = frame.set_index("symbol").loc["08083"]
    assert np.isnan(row["last"]) and np.isnan(row["open"]) and row["volume"] == 0
    assert row["prev_close"] == 0.169
    tencent = frame.set_index("symbol").loc["00700"]
    assert (tencent["open"], tencent["last"], tencent["volume"]) == (618.0, 615.5, 6_000_000)
    close = LandingSource(fixture_root).quotes(D2, "close")
    assert close["as_of"].iloc[0] == pd.Timestamp("2025-11-21 16:10", tz=calendar.TZ)


def test_index_levels(fixture_root: Path) -> None:
    frame = LandingSource(fixture_root).index_levels(D1, "close")
    assert list(frame["index_code"]) == ["HSI", "HSCEI", "HSTECH"]
    assert frame["as_of"].dtype == HKT_NS
    assert frame.set_index("index_code").loc["HSI", "prev_close"] == 25830.65


def test_intraday_bars_present_and_absent(fixture_root: Path) -> None:
    src = LandingSource(fixture_root)
    bars = src.intraday_bars(D2, "midday")
    assert src.has_intraday_bars(D2, "midday")
    assert len(bars) == 11 * 4 + 3 * 4
    assert bars["ts"].dtype == HKT_NS and bars["volume"].dtype == np.int64
    assert bars["ts"].iloc[0] == pd.Timestamp("2025-11-21 09:30", tz=calendar.TZ)
    index_rows = bars[bars["symbol"] == "HSI"]
    assert (index_rows["volume"] == 0).all()
    # quotes at midday are the bars' cumulative figures
    q = src.quotes(D2, "midday").set_index("symbol")
    g = bars[bars["symbol"] == "00700"]
    assert q.loc["00700", "high"] == g["high"].max()
    assert q.loc["00700", "volume"] == g["volume"].sum()

    empty = src.intraday_bars(D2, "close")
    assert not src.has_intraday_bars(D2, "close")
    assert empty.empty and list(empty.columns) == list(bars.columns)
    assert dict(empty.dtypes) == dict(bars.dtypes)


def test_macro_series_point_in_time(fixture_root: Path) -> None:
    src = LandingSource(fixture_root)
    close = src.macro_series(calendar.snapshot_time(D2, "close"))
    assert len(close) == 7  # the 2025-12-05 fx_reserves release is not known yet
    assert close["released_at"].dtype == HKT_NS
    assert close["released_at"].isna().sum() == 2  # pmi: released_on only
    assert close["released_on"].iloc[0] == date(2025, 9, 16)
    # known by released_at, not released_on: 16:30 on 2025-11-18 is after 12:00
    before = src.macro_series(datetime(2025, 11, 18, 12, 0, tzinfo=calendar.TZ))
    assert set(before["period"][before["series_id"] == "unemployment_rate_sa"]) == {
        "2025-08", "2025-09",
    }  # fmt: skip
    naive = src.macro_series(datetime(2025, 11, 18, 12, 0))  # naive = HKT
    assert len(naive) == len(before)


@pytest.mark.parametrize("snapshot", ["midday", "close"])
@pytest.mark.parametrize("day", [D1, D2])
def test_fixture_passes_validation(fixture_root: Path, day: date, snapshot: str) -> None:
    src = LandingSource(fixture_root)
    frames = {
        "ref.securities": src.securities(day),
        "ref.index_constituents": src.index_constituents(day),
        "raw.quotes": src.quotes(day, snapshot),
        "raw.index_levels": src.index_levels(day, snapshot),
        "raw.intraday_bars": src.intraday_bars(day, snapshot),
        "raw.macro_series": src.macro_series(calendar.snapshot_time(day, snapshot)),
    }
    for table, frame in frames.items():
        assert validate_frame(table, frame).n_rejected == 0, table


def test_row_origins_cite_file_and_line(landing: Path) -> None:
    path = landing / "quotes" / "2025-11-21_midday.csv"
    text = path.read_text(encoding="utf-8").replace("\n00005,", "\n\n00005,", 1)
    path.write_text(text, encoding="utf-8")  # a blank line shifts the lines below it
    frame = LandingSource(landing).quotes(D2, "midday")
    origins = row_origins(frame)
    assert origins is not None
    assert origins.of(0) == (path, 2)
    assert origins.cite(1) == f"{path}:4"
    assert list(origins.frame()["line"])[-1] == 14
    # macro rows keep their origin after the point-in-time filter
    macro = LandingSource(landing).macro_series(datetime(2025, 11, 1, tzinfo=calendar.TZ))
    macro_origin = row_origins(macro)
    assert macro_origin is not None and list(macro_origin.line) == [2, 3, 5, 7]


def test_parquet_same_as_csv(landing: Path) -> None:
    csv_path = landing / "quotes" / "2025-11-20_close.csv"
    expected = LandingSource(landing).quotes(D1, "close")
    raw = pd.read_csv(csv_path, dtype={"symbol": str})
    raw.to_parquet(csv_path.with_suffix(".parquet"), index=False)
    csv_path.unlink()
    got = LandingSource(landing).quotes(D1, "close")
    pd.testing.assert_frame_equal(got, expected)


def test_csv_with_bom_crlf_quotes_and_optional_column(landing: Path) -> None:
    path = landing / "securities" / "2025-11-03.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows[0] += ",listed_on"
    rows[1:] = [r + ",2004-06-16" for r in rows[1:]]
    rows[1] = rows[1].replace("CLP Holdings", '"CLP Holdings, Ltd"')
    write(path, b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8") + b"\r\n")
    frame = LandingSource(landing).securities(D1)
    assert frame["name"].iloc[0] == "CLP Holdings, Ltd"
    assert frame["listed_on"].iloc[0] == date(2004, 6, 16)
    assert frame["symbol"].iloc[0] == "00002"


def test_each_file_read_once_and_recorded(landing: Path) -> None:
    src = LandingSource(landing)
    src.quotes(D2, "midday")
    first = src.quotes(D2, "midday")
    first.loc[0, "last"] = -1.0  # callers get copies
    assert src.quotes(D2, "midday").loc[0, "last"] != -1.0
    loaded = src.loaded_files()
    assert [f.kind for f in loaded] == ["quotes"] and len(loaded[0].sha256) == 64
