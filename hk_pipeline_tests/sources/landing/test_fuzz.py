"""Property: any bytes in a landing file give a canonical frame or a LandingFileError.

Hypothesis builds CSVs from valid rows and then damages them (headers, values, NaN/inf
text, truncation, other encodings, random bytes). Each test counts the cases it tried and
what they ended in, and asserts enough ran; ~200 examples each, well under 20 s in all.
"""

import os
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hk_pipeline import calendar
from hk_pipeline.sources.landing import LandingFileError, LandingSource

D2 = date(2025, 11, 21)
QUOTES = ["symbol", "prev_close", "open", "high", "low", "last", "volume", "turnover"]
MACRO = ["series_id", "period", "value", "unit", "released_on", "released_at"]
SETTINGS = settings(
    max_examples=int(os.environ.get("LANDING_FUZZ_EXAMPLES", "200")),
    deadline=None,
    derandomize="LANDING_FUZZ_EXAMPLES" not in os.environ,  # CI: the same cases every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: f"{x:g}"),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "Infinity", "1,5", "1e400", "--1", " 7 "]),
    st.text(max_size=6),
)
codes = st.one_of(st.sampled_from(["00700", "09988", "00005"]), st.text(max_size=6))
damage = st.sampled_from(["none", "header", "truncate", "latin1", "utf16", "extra", "blank"])


def render(header: list[str], rows: list[list[str]]) -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v

    return "\n".join(",".join(cell(v) for v in r) for r in [header, *rows]) + "\n"


def damaged(text: str, how: str, cut: int) -> bytes:
    data = text.encode("utf-8")
    if how == "truncate":
        return data[: max(0, len(data) - cut)]
    if how == "latin1":
        return text.encode("latin-1", "replace") + b"\xe9\n"
    if how == "utf16":
        return text.encode("utf-16")
    if how == "extra":
        return data + b"1,2,3,4,5,6,7,8,9\n"
    if how == "blank":
        return data.replace(b"\n", b"\n\n", 1)
    return data


def expect_canonical(frame: pd.DataFrame, columns: list[str], ints: set[str]) -> None:
    assert list(frame.columns) == columns
    for col in columns:
        dtype = frame[col].dtype
        if col in ints:
            assert dtype in (np.int64, np.float64), (col, dtype)
        elif col in {"as_of", "released_at"}:
            assert str(dtype) == "datetime64[ns, Asia/Hong_Kong]", (col, dtype)
        elif col in {"prev_close", "open", "high", "low", "last", "turnover", "value"}:
            assert dtype == np.float64 and np.isfinite(frame[col].dropna()).all(), col
        else:
            assert dtype == np.dtype(object), (col, dtype)


def run_case(
    tally: Counter, path: Path, data: bytes, load: Callable[[], pd.DataFrame], check
) -> None:
    path.write_bytes(data)
    try:
        frame = load()
    except LandingFileError as exc:
        assert str(path) in str(exc)
        tally[type(exc).__name__] += 1
        return
    check(frame)
    tally["frame"] += 1


def test_fuzz_quotes(tmp_path: Path) -> None:
    tally: Counter = Counter()
    root = tmp_path / "landing"
    (root / "quotes").mkdir(parents=True)
    path = root / "quotes" / "2025-11-21_close.csv"
    columns = ["trade_date", "snapshot", *QUOTES, "as_of", "source"]

    @SETTINGS
    @given(
        rows=st.lists(st.tuples(codes, *[numbers] * 7).map(list), max_size=8),
        header=st.permutations(QUOTES),
        how=damage,
        cut=st.integers(1, 40),
        rename=st.sampled_from(["", "close", "Last", "vwap"]),
    )
    def case(rows: list[list[str]], header: list[str], how: str, cut: int, rename: str) -> None:
        hdr = list(header)
        if how == "header" and rename:
            hdr[hdr.index("last")] = rename
        text = render(hdr, rows)
        run_case(
            tally,
            path,
            damaged(text, how, cut),
            lambda: LandingSource(root).quotes(D2, "close"),
            lambda f: expect_canonical(f, columns, {"volume"}),
        )

    case()
    print(tally)
    assert sum(tally.values()) >= 150, tally
    assert tally["frame"] > 0 and len(tally) >= 3, tally


def test_fuzz_macro_dates_and_timestamps(tmp_path: Path) -> None:
    tally: Counter = Counter()
    root = tmp_path / "landing"
    (root / "macro_series").mkdir(parents=True)
    path = root / "macro_series" / "readings.csv"
    as_of = calendar.snapshot_time(D2, "close")
    stamps = st.one_of(
        st.datetimes(timezones=st.just(calendar.TZ)).map(lambda d: d.isoformat()),
        st.datetimes().map(lambda d: d.isoformat()),  # naive: refused
        st.dates().map(str),
        st.sampled_from(["", "2025-02-30", "2025-11-21T25:00+08:00", "yesterday"]),
    )
    row = st.tuples(
        st.sampled_from(["pmi", "fx_reserves", ""]),
        st.sampled_from(["2025-10", "2025-13", ""]),
        numbers,
        st.just("index"),
        stamps,
        stamps,
    ).map(list)

    @SETTINGS
    @given(rows=st.lists(row, max_size=6), how=damage, cut=st.integers(1, 30))
    def case(rows: list[list[str]], how: str, cut: int) -> None:
        run_case(
            tally,
            path,
            damaged(render(MACRO, rows), how, cut),
            lambda: LandingSource(root).macro_series(as_of),
            lambda f: expect_canonical(f, [*MACRO, "source"], set()),
        )

    case()
    print(tally)
    assert sum(tally.values()) >= 150, tally
    assert tally["LandingValueError"] > 0, tally


def test_fuzz_random_bytes(tmp_path: Path) -> None:
    tally: Counter = Counter()
    root = tmp_path / "landing"
    (root / "index_levels").mkdir(parents=True)
    header = b"index_code,prev_close,open,high,low,last\n"
    columns = ["trade_date", "snapshot", "index_code", "prev_close", "open", "high", "low"]
    columns += ["last", "as_of", "source"]

    @SETTINGS
    @given(
        body=st.binary(max_size=300),
        with_header=st.booleans(),
        parquet=st.booleans(),
    )
    def case(body: bytes, with_header: bool, parquet: bool) -> None:
        for old in root.joinpath("index_levels").iterdir():
            old.unlink()
        path = root / "index_levels" / f"2025-11-21_close.{'parquet' if parquet else 'csv'}"
        run_case(
            tally,
            path,
            (header if with_header else b"") + body,
            lambda: LandingSource(root).index_levels(D2, "close"),
            lambda f: expect_canonical(f, columns, set()),
        )

    case()
    print(tally)
    assert sum(tally.values()) >= 150, tally
