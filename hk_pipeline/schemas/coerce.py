"""Coercion: a source's frame (pandas or polars) in the table's column types, value by value.

A value that does not convert is blamed on its row ("volume: not convertible to Int64 (lots)")
instead of failing its column; a float with a fraction in an integer column is rejected, not
truncated. Only a missing column, or a column that converts for no row, fails the frame as a
whole (SchemaMismatchError). Also the way back: a validated frame as pandas.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

from hk_pipeline.schemas.columns import HKT
from hk_pipeline.schemas.wording import failure_rows, fmt, mismatch


def as_polars(df: pd.DataFrame | pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The input as a polars frame: pandas NaN -> NULL (inf kept, to be rejected)."""
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    if isinstance(df, pl.DataFrame):
        return df
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas or polars DataFrame, got {type(df).__name__}")
    return pl.DataFrame([_column_from_pandas(s, str(name)) for name, s in df.items()])


def _first_present(s: pd.Series, values: np.ndarray, probe: int = 64) -> object:
    """The first value that is not missing (None, NaN, NaT, NA), or None if there is none.

    Looks at the first ``probe`` values one by one (the first is nearly always there), then
    lets pandas scan the rest: ~1 us instead of ~100 us of notna + first_valid_index.
    """
    for v in values[:probe]:
        if not (pd.api.types.is_scalar(v) and pd.isna(v)):  # what Series.notna calls missing
            return v
    rest = np.flatnonzero(s.notna().to_numpy()[probe:])
    return values[probe + rest[0]] if len(rest) else None


def _column_from_pandas(s: pd.Series, name: str) -> pl.Series:
    """One pandas column as polars. Object columns of str or of dates (what sources send)
    take a direct path, about twice as fast as via Arrow's generic inference; a column of
    mixed Python types becomes text, so its values are still judged row by row."""
    if s.dtype == object:
        values = s.to_numpy()
        first = _first_present(s, values)
        try:
            if isinstance(first, str):
                return pl.Series(name, values, dtype=pl.String)
            if isinstance(first, date) and not isinstance(first, datetime):
                return pl.from_arrow(pa.array(values, type=pa.date32(), from_pandas=True)).alias(
                    name
                )
        except (TypeError, ValueError, pa.ArrowException, pl.exceptions.PolarsError):
            pass
    elif isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_string(s.dtype.pyarrow_dtype):
        try:
            return _arrow_text(s, name)
        except (TypeError, ValueError, pa.ArrowException, pl.exceptions.PolarsError):
            pass
    try:
        return pl.from_pandas(s, nan_to_null=True).alias(name)
    except (TypeError, ValueError, pa.ArrowException, pl.exceptions.PolarsError):
        text = [None if _is_missing(v) else str(v) for v in s.tolist()]
        return pl.Series(name, text, dtype=pl.String)


def _arrow_text(s: pd.Series, name: str) -> pl.Series:
    """An Arrow-backed text column as polars: Arrow casts it to string_view, the layout of
    polars' String, ~4x faster than polars converting the plain string array itself (1.8 ms
    for a close snapshot's 335k bar symbols)."""
    return pl.Series(name, pa.chunked_array(pa.array(s)).cast(pa.string_view()))


def _is_missing(v: object) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _to_float(s: pl.Series) -> pl.Series:
    if s.dtype == pl.String:
        out = s.str.strip_chars().cast(pl.Float64, strict=False)
    else:
        out = s.cast(pl.Float64, strict=False)
    return out.fill_nan(None)


def _to_hkt(s: pl.Series, unit: str) -> pl.Series:
    """Datetime -> Datetime(unit, HKT): naive values are HKT, aware ones converted."""
    if s.dtype.time_zone is None:  # type: ignore[attr-defined]
        s = s.dt.replace_time_zone(HKT, ambiguous="earliest", non_existent="null")
    else:
        s = s.dt.convert_time_zone(HKT)
    return s.dt.cast_time_unit(unit)  # type: ignore[arg-type]


def _parse_datetime(s: pl.Series, unit: str) -> pl.Series:
    """Text -> Datetime(unit, HKT); values the inferred format misses are parsed one by one."""
    text = s.str.strip_chars()
    try:
        parsed = _to_hkt(text.str.to_datetime(time_unit=unit, strict=False), unit)  # type: ignore[arg-type]
    except pl.exceptions.PolarsError:
        parsed = pl.Series(s.name, [None] * len(s), dtype=pl.Datetime(unit, HKT))  # type: ignore[arg-type]
    left = np.flatnonzero((text.is_not_null() & parsed.is_null()).to_numpy())
    if len(left):  # e.g. naive and offset-aware text mixed in one column
        values = parsed.to_list()
        for i in left:
            try:
                ts = pd.Timestamp(text[int(i)])
            except (ValueError, TypeError, OverflowError):
                continue
            if ts is pd.NaT:
                continue
            ts = ts.tz_localize(HKT) if ts.tz is None else ts.tz_convert(HKT)
            values[i] = ts.to_pydatetime()
        parsed = pl.Series(s.name, values, dtype=pl.Datetime(unit, HKT))  # type: ignore[arg-type]
    return parsed


def _convert(s: pl.Series, target: Any) -> tuple[pl.Series, pl.Series | None]:
    """One column in its table type, NULL where a value does not convert.

    Returns (converted, non_whole): non_whole flags floats with a fraction in an integer
    column (casting would truncate 100.5 to 100 silently; they are rejected instead).
    """
    name, source = s.name, s.dtype
    if source == target:
        return (s.fill_nan(None) if target.is_float() else s), None
    if source == pl.Null:
        return s.cast(target), None
    if target.is_float():
        return _to_float(s), None
    if target.is_integer():
        if source.is_integer() or source == pl.Boolean:
            return s.cast(target, strict=False), None
        f = _to_float(s)
        non_whole = (f.is_finite() & (f != f.round())).fill_null(False)
        out = f.set(non_whole, None).cast(target, strict=False)
        if source == pl.String:  # exact for digits beyond float precision
            exact = s.str.strip_chars().cast(target, strict=False)
            out = exact.fill_null(out) if exact.null_count() < len(s) else out
        return out, non_whole
    if target == pl.String:
        return s.cast(pl.String, strict=False), None
    if target == pl.Date:
        if isinstance(source, pl.Datetime):
            if source.time_zone is not None:
                s = s.dt.convert_time_zone(HKT)
            return s.dt.date(), None
        if source == pl.String:
            text = s.str.strip_chars()
            out = text.str.to_date(strict=False)
            if out.null_count() > text.null_count():  # e.g. "2025-11-21 00:00"
                out = out.fill_null(_parse_datetime(text, "us").dt.date())
            return out, None
    if isinstance(target, pl.Datetime):
        unit = target.time_unit or "us"
        if isinstance(source, pl.Datetime):
            return _to_hkt(s, unit), None
        if source == pl.Date:
            return _to_hkt(s.cast(pl.Datetime(unit)), unit), None  # type: ignore[arg-type]
        if source == pl.String:
            return _parse_datetime(s, unit), None
    try:
        return s.cast(target, strict=False), None
    except pl.exceptions.PolarsError:
        return pl.Series(name, [None] * len(s), dtype=target), None


def _type_name(target: Any) -> str:
    """A column type as a reason names it: Int64, Date, Datetime(Asia/Hong_Kong)."""
    if isinstance(target, pl.Datetime) and target.time_zone:
        return f"Datetime({target.time_zone})"
    return str(target)


def _present(s: pl.Series) -> pl.Series:
    """Input values that are there (not NULL; NaN counts as missing)."""
    there = s.is_not_null()
    return there & ~s.is_nan().fill_null(False) if s.dtype.is_float() else there


def prepare(
    table: str, model: type[pa_pl.DataFrameModel], raw: pl.DataFrame
) -> tuple[pl.DataFrame, list[pl.DataFrame], np.ndarray]:
    """The frame in the table's types, conversion failures (index, key, label), bad-row mask."""
    schema = model.to_schema()
    missing = [c for c in schema.columns if c not in raw.columns]
    if missing:
        raise mismatch(table, model, [f"missing column(s) {', '.join(sorted(missing))}"])
    n = raw.height
    failures: list[pl.DataFrame] = []
    bad = np.zeros(n, dtype=bool)
    converted: list[pl.Series | pl.Expr] = []
    whole: list[str] = []
    for name, col in schema.columns.items():
        s = raw[name]
        target = col.dtype.type
        if s.dtype == target:
            # Already in the table's type: every value converts (NaN -> NULL in floats), so
            # skip the per-column checks below (~10 polars calls a column).
            if target.is_float():
                converted.append(pl.col(name).fill_nan(None))
            continue
        out, non_whole = _convert(s, target)
        converted.append(out.alias(name))
        failed = _present(s) & out.is_null()
        if non_whole is not None:
            if non_whole.any():
                idx = np.flatnonzero(non_whole.to_numpy())
                key = f"{name}: not a whole number"
                labels = [f"{key} ({fmt(v)})" for v in s.gather(idx).to_list()]
                failures.append(failure_rows(idx, key, labels))
                bad[idx] = True
            failed = failed & ~non_whole
        n_failed = int(failed.sum())
        if not n_failed:
            continue
        idx = np.flatnonzero(failed.to_numpy())
        values = s.gather(idx).to_list()
        key = f"{name}: not convertible to {_type_name(target)}"
        if n_failed == n:
            whole.append(
                f"column {name!r} converts for no row (not convertible to {_type_name(target)}, "
                f"e.g. {fmt(values[0])})"
            )
            continue
        labels = [f"{key} ({fmt(v)})" for v in values]
        failures.append(failure_rows(idx, key, labels))
        bad[idx] = True
    if whole:
        raise mismatch(table, model, whole)
    return (raw.with_columns(converted) if converted else raw), failures, bad


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """pandas view of a validated frame in the dtypes the pandas models produced."""
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            casts.append(pl.col(name).cast(pl.Datetime("ns")))
        elif isinstance(dtype, pl.Datetime):
            casts.append(pl.col(name).dt.cast_time_unit("ns"))
    out = frame.with_columns(casts).to_pandas() if casts else frame.to_pandas()
    for name, dtype in frame.schema.items():
        if dtype.is_integer() and frame[name].null_count():
            mapper = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}.get
            out[name] = frame[name].to_arrow().to_pandas(types_mapper=mapper)
    return out
