"""Every fault names the file, and where it can, the line and the column."""

import os
import pickle
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.landing import (
    LandingEncodingError,
    LandingFileError,
    LandingHeaderError,
    LandingLayoutError,
    LandingMissingFileError,
    LandingRowError,
    LandingSource,
    LandingValueError,
)

from .conftest import write

D1, D2 = date(2025, 11, 20), date(2025, 11, 21)
QUOTES_HEADER = "symbol,prev_close,open,high,low,last,volume,turnover\n"


def quotes_file(root: Path, body: str, header: str = QUOTES_HEADER) -> Path:
    return write(root / "quotes" / "2025-11-21_close.csv", header + body)


def load_quotes(root: Path) -> pd.DataFrame:
    return LandingSource(root).quotes(D2, "close")


def test_missing_snapshot_file_names_the_path(landing: Path) -> None:
    (landing / "quotes" / "2025-11-21_close.csv").unlink()
    with pytest.raises(LandingMissingFileError) as err:
        load_quotes(landing)
    expected = landing / "quotes" / "2025-11-21_close.csv"
    assert str(expected) in str(err.value)
    assert err.value.paths == [expected]
    assert isinstance(err.value, SourceError)


def test_missing_master_names_the_path(tmp_path: Path) -> None:
    write(tmp_path / "securities" / "2025-12-01.csv", "symbol\n")
    with pytest.raises(LandingMissingFileError, match="no securities file in force on"):
        LandingSource(tmp_path).securities(D2)
    with pytest.raises(LandingMissingFileError) as err:
        LandingSource(tmp_path).securities(D2)
    assert err.value.paths == [tmp_path / "securities" / "2025-11-21.csv"]


def test_misnamed_file_is_hinted_when_missing(landing: Path) -> None:
    src = landing / "quotes" / "2025-11-21_close.csv"
    src.rename(landing / "quotes" / "2025-11-21-close.csv")
    with pytest.raises(LandingMissingFileError, match=r"do not parse: 2025-11-21-close\.csv"):
        load_quotes(landing)


def test_wrong_header_names_missing_and_unexpected(landing: Path) -> None:
    path = quotes_file(landing, "00700,1,1,1,1,1,1,1\n", header="symbol,prev_close,open,high,"
                       "low,close,volume,turnover,vwap\n")  # fmt: skip
    with pytest.raises(LandingHeaderError) as err:
        load_quotes(landing)
    msg = str(err.value)
    assert msg.startswith(f"{path}, line 1: missing column(s) 'last'; unexpected column(s) ")
    assert "'close', 'vwap'" in msg
    assert "header is symbol,prev_close,open,high,low,last,volume,turnover" in msg


def test_duplicate_and_empty_header(landing: Path) -> None:
    quotes_file(landing, "", header=QUOTES_HEADER.strip() + ",open\n")
    with pytest.raises(LandingHeaderError, match="duplicated column\\(s\\) 'open'"):
        load_quotes(landing)
    path = quotes_file(landing, "", header="")
    with pytest.raises(LandingHeaderError, match=f"^{path}, line 1: empty file"):
        load_quotes(landing)


def test_unparseable_number_names_line_and_column(landing: Path) -> None:
    path = quotes_file(landing, "00700,620,619,620,617.5,619.5,100,6e4\n"
                       "00005,112,111.9,112.1,111.5,\"1,234.5\",100,10000\n")  # fmt: skip
    with pytest.raises(LandingValueError) as err:
        load_quotes(landing)
    assert str(err.value) == (
        f"{path}, line 3, column 'last': '1,234.5' is not a number: write digits with '.' as "
        "the decimal point and no thousands separator (e.g. 1234.5), or leave the field empty "
        "for no value"
    )
    assert (err.value.line, err.value.column) == (3, "last")


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "NaN"])
def test_nan_and_inf_text_is_refused(landing: Path, text: str) -> None:
    quotes_file(landing, f"00700,620,619,620,617.5,{text},100,1000\n")
    with pytest.raises(LandingValueError, match=r"line 2, column 'last': .* (finite|not a number)"):
        load_quotes(landing)


def test_integer_column(landing: Path) -> None:
    path = quotes_file(landing, "00700,620,619,620,617.5,619.5,lots,1000\n")
    with pytest.raises(LandingValueError, match=f"^{path}, line 2, column 'volume': 'lots'"):
        load_quotes(landing)
    # an empty or fractional volume parses (as float) and is left to validation/quarantine
    quotes_file(landing, "00700,620,619,620,617.5,619.5,,1000\n00005,1,1,1,1,1,2.5,1\n")
    frame = load_quotes(landing)
    assert frame["volume"].dtype == "float64" and frame["volume"].isna().sum() == 1


def test_bad_date_and_timestamp(landing: Path) -> None:
    macro = landing / "macro_series" / "readings.csv"
    write(macro, "series_id,period,value,unit,released_on\npmi,2025-10,51.2,index,2025-02-30\n")
    with pytest.raises(LandingValueError) as err:
        LandingSource(landing).macro_series(pd.Timestamp("2026-01-01", tz="UTC"))
    assert str(err.value).startswith(
        f"{macro}, line 2, column 'released_on': '2025-02-30' is not a date: write YYYY-MM-DD"
    )
    bars = landing / "intraday_bars" / "2025-11-21_midday.csv"
    lines = bars.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace("+08:00", "")
    lines[10] = lines[10].replace("T10:15", "T25:15")
    write(bars, "\n".join(lines) + "\n")
    with pytest.raises(LandingValueError) as err:
        LandingSource(landing).intraday_bars(D2, "midday")
    assert f"{bars}, line 11, column 'ts': '2025-11-21T25:15:00+08:00'" in str(err.value)
    lines[10] = lines[10].replace("T25:15", "T10:15")
    write(bars, "\n".join(lines) + "\n")
    with pytest.raises(LandingValueError, match=r"line 6, column 'ts': .* has no UTC offset"):
        LandingSource(landing).intraday_bars(D2, "midday")


def test_wrong_encoding_names_byte_offset_line_and_column(landing: Path) -> None:
    path = landing / "securities" / "2025-11-21.csv"
    text = path.read_text(encoding="utf-8").replace("Youzan", "Youzan Café")
    write(path, text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xe9")
    with pytest.raises(LandingEncodingError) as err:
        LandingSource(landing).securities(D2)
    assert str(err.value) == (
        f"{path}, line 13, column 'name': not UTF-8: byte 0xE9 at byte offset {offset} cannot be "
        "decoded; save the file as UTF-8 (in Excel: 'CSV UTF-8')"
    )


def test_truncated_last_line(landing: Path) -> None:
    path = landing / "quotes" / "2025-11-21_close.csv"
    data = path.read_bytes()
    write(path, data[:-5])  # the last row "08083,0.169,,,,,0,0" loses ",0,0" and its newline
    with pytest.raises(LandingRowError) as err:
        load_quotes(landing)
    assert str(err.value) == (
        f"{path}, line 13, column 'volume': 6 of 8 fields; missing 'volume', 'turnover': the "
        "file looks truncated (was it still being written when it was read?)"
    )


def test_extra_field_and_unclosed_quote(landing: Path) -> None:
    path = quotes_file(landing, "00700,620,619,620,617.5,619.5,100,1000\n00005,1,1,1,1,1,1,1,9\n")
    with pytest.raises(LandingRowError, match=f"^{path}, line 3: 9 fields but the header has 8"):
        load_quotes(landing)
    quotes_file(landing, '00700,620,619,620,617.5,619.5,100,"1000\n')
    with pytest.raises(LandingRowError, match=r"line 2: unclosed quote"):
        load_quotes(landing)


def test_bad_file_names(landing: Path) -> None:
    bad = write(landing / "securities" / "2025-13-01.csv", "x\n")
    with pytest.raises(LandingLayoutError) as err:
        LandingSource(landing).securities(D2)
    assert str(err.value).startswith(
        f"{bad}: file name does not parse: expected securities/<YYYY-MM-DD>.csv"
    )
    bad.rename(landing / "securities" / ".2025-13-01.csv")  # hidden files are ignored
    assert len(LandingSource(landing).securities(D2)) == 12
    write(landing / "macro_series" / "readings.xlsx", b"PK")
    with pytest.raises(LandingLayoutError, match=r"macro_series/ holds only \.csv or \.parquet"):
        LandingSource(landing).macro_series(pd.Timestamp("2026-01-01", tz="UTC"))


def test_csv_and_parquet_of_same_stem(landing: Path) -> None:
    write(landing / "index_levels" / "2025-11-21_close.parquet", b"")
    with pytest.raises(LandingLayoutError, match=r"both 2025-11-21_close\.csv and .*parquet exist"):
        LandingSource(landing).index_levels(D2, "close")


def test_symlink_out_of_the_folder_is_refused(landing: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere.csv", QUOTES_HEADER)
    target = landing / "quotes" / "2025-11-21_close.csv"
    target.unlink()
    os.symlink(outside, target)
    with pytest.raises(LandingLayoutError) as err:
        load_quotes(landing)
    assert str(err.value).startswith(
        f"{target}: resolves to {outside}, outside the landing folder {landing.resolve()}"
    )
    os.symlink(tmp_path, landing / "macro_series" / "escape.csv")
    with pytest.raises(LandingLayoutError, match="outside the landing folder"):
        LandingSource(landing).macro_series(pd.Timestamp("2026-01-01", tz="UTC"))


def test_parquet_faults(landing: Path) -> None:
    path = landing / "quotes" / "2025-11-21_close.parquet"
    (landing / "quotes" / "2025-11-21_close.csv").unlink()
    write(path, b"not parquet at all")
    with pytest.raises(LandingFileError, match=f"^{path}: not a readable Parquet file"):
        load_quotes(landing)
    prices = {k: [1.0] for k in ["prev_close", "open", "high", "low", "last", "turnover"]}
    frame = pd.DataFrame({"symbol": [700], **prices, "volume": [1]})
    frame.to_parquet(path, index=False)
    with pytest.raises(LandingValueError) as err:
        load_quotes(landing)
    assert str(err.value) == (
        f"{path}, column 'symbol': stored as int64 in Parquet; store it as text (string) so "
        "codes keep their leading zeros"
    )
    frame.drop(columns="turnover").assign(symbol="00700").to_parquet(path, index=False)
    with pytest.raises(LandingHeaderError, match="missing column\\(s\\) 'turnover'"):
        load_quotes(landing)


def test_all_landing_errors_are_source_errors() -> None:
    for cls in (LandingEncodingError, LandingHeaderError, LandingLayoutError, LandingRowError,
                LandingValueError, LandingMissingFileError):  # fmt: skip
        assert issubclass(cls, SourceError)
    for cls in (LandingEncodingError, LandingHeaderError, LandingLayoutError, LandingRowError,
                LandingValueError):  # fmt: skip
        assert issubclass(cls, LandingFileError)


def test_errors_survive_pickling(landing: Path) -> None:
    """Dagster may carry an error across processes: it must come back with its message."""
    quotes_file(landing, "00700,620,619,620,617.5,x,100,1000\n")
    with pytest.raises(LandingValueError) as err:
        load_quotes(landing)
    back = pickle.loads(pickle.dumps(err.value))
    assert (str(back), back.line, back.column) == (str(err.value), 2, "last")
    missing = LandingMissingFileError("missing landing file x", [landing / "x"])
    assert pickle.loads(pickle.dumps(missing)).paths == [landing / "x"]
