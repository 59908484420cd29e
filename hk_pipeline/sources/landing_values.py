"""A landing file's columns converted to their types, or a LandingValueError naming the line
(CSV; the 1-based data row for Parquet), the column and the value, and saying how to write it.

Types: str (text, empty -> NULL), float, int (whole number), date (YYYY-MM-DD), timestamp (ISO
8601 with a UTC offset, converted to Asia/Hong_Kong). CSV columns arrive as text and are parsed
(``_TEXT``); Parquet columns arrive typed and are checked and cast (``_TYPED``). Vectorised:
the first bad value of a column is found with a mask, not a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hk_pipeline.calendar import TZ
from hk_pipeline.sources.landing_errors import LandingValueError

_OFFSET = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_INT64_MAX = 2.0**63


def convert(
    path: Path, columns: dict[str, pa.ChunkedArray], lines: np.ndarray, spec: dict[str, str]
) -> pd.DataFrame:
    """The file's columns (text from a CSV, typed from a Parquet) as ``spec``'s types
    ({column: str/float/int/date/timestamp}); ``lines`` locates each row for the errors."""
    out = {}
    for name, col in columns.items():
        kind = spec[name]
        text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        converter = (_TEXT if text else _TYPED)[kind]
        out[name] = converter(path, name, col, lines)
    return pd.DataFrame(out)


def _fail(
    path: Path, column: str, lines: np.ndarray, bad: np.ndarray, values: np.ndarray, problem: str
) -> LandingValueError:
    i = int(np.flatnonzero(bad)[0])
    count = int(bad.sum())
    more = f" ({count - 1} more row(s) like it)" if count > 1 else ""
    shown = repr(values[i])
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return LandingValueError(path, f"{shown} {problem}{more}", line=int(lines[i]), column=column)


def _text_str(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    values = col.to_numpy(zero_copy_only=False).astype(object)
    values[values == ""] = None
    return values


def _text_float(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    empty = pc.equal(col, "")
    try:
        result = pc.cast(pc.if_else(empty, None, col), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        values = col.to_numpy(zero_copy_only=False)
        parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        result = parsed.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isnan(result) & (values != "")
        if bad.any():
            raise _fail(path, name, lines, bad, values, _NUMBER_HINT) from None
    nonfinite = np.isinf(result) | (np.isnan(result) & ~empty.to_numpy(zero_copy_only=False))
    if nonfinite.any():
        values = col.to_numpy(zero_copy_only=False)
        raise _fail(path, name, lines, nonfinite, values, _FINITE_HINT)
    return result


_NUMBER_HINT = (
    "is not a number: write digits with '.' as the decimal point and no thousands separator "
    "(e.g. 1234.5), or leave the field empty for no value"
)
_FINITE_HINT = "is not a finite number: leave the field empty for no value"


def _text_int(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    try:
        return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        # Empty or fractional values load as float (NaN for empty) and the validator
        # quarantines those rows; only text that is not a number at all fails the file.
        return _whole(path, name, _text_float(path, name, col, lines), lines, col)


def _whole(
    path: Path, name: str, values: np.ndarray, lines: np.ndarray, col: pa.ChunkedArray
) -> np.ndarray:
    big = np.abs(values) >= _INT64_MAX
    if big.any():
        raise _fail(
            path, name, lines, big, col.to_numpy(zero_copy_only=False), "is out of range (int64)"
        )
    if np.isnan(values).any() or (values != np.round(values)).any():
        return values
    return values.astype("int64")


def _text_date(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    values = col.to_numpy(zero_copy_only=False)
    s = pd.Series(values, dtype=object)
    parsed = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    bad = (values != "") & (parsed.isna().to_numpy() | ~s.str.match(_DATE_TEXT).to_numpy(bool))
    if bad.any():
        raise _fail(
            path, name, lines, bad, values, "is not a date: write YYYY-MM-DD (e.g. 2025-11-21)"
        )
    return np.array([None if pd.isna(v) else v.date() for v in parsed], dtype=object)


def _text_timestamp(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> pd.Series:
    values = col.to_numpy(zero_copy_only=False)
    empty = values == ""
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    bad = parsed.isna().to_numpy() & ~empty
    if bad.any():
        raise _fail(path, name, lines, bad, values, _TS_HINT)
    offset = pc.match_substring_regex(col, _OFFSET).to_numpy(zero_copy_only=False)
    naive = ~offset & ~empty
    if naive.any():
        raise _fail(path, name, lines, naive, values, "has no UTC offset: " + _TS_HINT)
    return _hkt(parsed)


_TS_HINT = "write an ISO 8601 timestamp with its UTC offset (e.g. 2025-11-21T09:30:00+08:00)"


def _hkt(s: pd.Series) -> pd.Series:
    return s.dt.tz_convert(TZ).astype(pd.DatetimeTZDtype("ns", TZ)).reset_index(drop=True)


def _typed_error(path: Path, name: str, col: pa.ChunkedArray, want: str) -> LandingValueError:
    return LandingValueError(
        path, f"stored as {col.type} in Parquet; store it as {want}", column=name
    )


def _typed_str(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    raise _typed_error(path, name, col, "text (string) so codes keep their leading zeros")


def _typed_float(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        raise _typed_error(path, name, col, "a number (double)")
    values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    inf = np.isinf(values)
    if inf.any():
        raise _fail(path, name, lines, inf, values, _FINITE_HINT)
    return values


def _typed_int(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    if pa.types.is_integer(col.type) and col.null_count == 0:
        return col.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return _whole(path, name, _typed_float(path, name, col, lines), lines, col)


def _typed_date(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    if not (pa.types.is_date(col.type)):
        raise _typed_error(path, name, col, "a date (date32)")
    return np.array(col.cast(pa.date32()).to_pylist(), dtype=object)


def _typed_timestamp(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> pd.Series:
    if not pa.types.is_timestamp(col.type) or col.type.tz is None:
        raise _typed_error(path, name, col, "a timestamp with a time zone")
    return _hkt(pd.Series(col.to_pandas()))


Converter = Callable[[Path, str, pa.ChunkedArray, np.ndarray], "np.ndarray | pd.Series"]
_TEXT: dict[str, Converter] = {
    "str": _text_str,
    "float": _text_float,
    "int": _text_int,
    "date": _text_date,
    "timestamp": _text_timestamp,
}
_TYPED: dict[str, Converter] = {
    "str": _typed_str,
    "float": _typed_float,
    "int": _typed_int,
    "date": _typed_date,
    "timestamp": _typed_timestamp,
}
