"""Run a table's model over a frame and split it into rows to load and rows to quarantine.

The models are pandera polars models. This module converts the incoming frame (pandas, as the
sources return it, or polars) to the table's types column by column, so a value that does not
convert is blamed on its row instead of failing the column; judges the rows that converted
with the model (first all rules in one polars query built from pandera's own check code; only
if one fails, pandera's full run, lazy=True: every failure, not the first); and turns pandera's
failure cases (row, column, check) into one reason per rejected row. Failures that no row can
be blamed for (a missing column, a column that converts for no row) raise SchemaMismatchError:
nothing can load then.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from pandera.api.checks import Check
from pandera.api.polars.container import DataFrameSchema
from pandera.api.polars.model import DataFrameModel
from pandera.api.polars.types import PolarsData
from pandera.backends.polars.checks import PolarsCheckBackend
from pandera.constants import CHECK_OUTPUT_KEY
from pandera.errors import SchemaErrors

from hk_pipeline.schemas.index_constituents import IndexConstituents
from hk_pipeline.schemas.index_contributions import IndexContributions
from hk_pipeline.schemas.index_levels import IndexLevels
from hk_pipeline.schemas.intraday_bars import IntradayBars
from hk_pipeline.schemas.macro_series import MacroSeries
from hk_pipeline.schemas.quotes import HKT, Quotes
from hk_pipeline.schemas.securities import Securities

MODELS: dict[str, type[DataFrameModel]] = {
    "ref.securities": Securities,
    "ref.index_constituents": IndexConstituents,
    "raw.quotes": Quotes,
    "raw.index_levels": IndexLevels,
    "raw.intraday_bars": IntradayBars,
    "raw.macro_series": MacroSeries,
    "raw.index_contributions": IndexContributions,
}

# Tables whose every rejected row is critical (an index level is never quarantined quietly).
ALL_ROWS_CRITICAL = frozenset({"raw.index_levels"})
_UNIQUENESS_CHECKS = ("multiple_fields_uniqueness", "field_uniqueness", "unique")
# pandera's names of built-in checks -> what a reader of the quarantine should understand.
_PHRASES = (
    (r"^not_nullable$", "missing (NULL not allowed)"),
    (r"^str_matches\('(.*)'\)$", r"does not match pattern \1"),
    (r"^isin\((.*)\)$", r"not one of \1"),
    (r"^greater_than\((.*)\)$", r"must be > \1"),
    (r"^greater_than_or_equal_to\((.*)\)$", r"must be >= \1"),
)


class SchemaMismatchError(ValueError):
    """The frame as a whole does not fit the table's schema; no row can be loaded."""


@dataclass(frozen=True)
class SecuritiesMaster:
    """The symbols the securities master in force on ``trade_date`` lists, and where that
    master comes from (``origin``: its file, or the table it was read from).

    A row whose ``symbol`` is neither listed nor ``exempt`` (index codes in bars: they are
    not shares) is rejected: a share the master does not list has no name, board or
    industry for the marts to place it by, and would otherwise load without a word.
    """

    trade_date: date
    symbols: frozenset[str]
    origin: str
    exempt: frozenset[str] = frozenset()


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({"row_number": pd.Series(dtype="int64"), "record": [], "reason": []})


@dataclass
class ValidationOutcome:
    """Result of validating one frame: the valid rows in the table's types, rejected rows.

    ``frame`` is the validated polars frame; ``valid`` (pandas) and ``valid_arrow`` (Arrow,
    for the writer) are views of it.
    """

    table: str
    frame: pl.DataFrame
    rejected: pd.DataFrame = field(default_factory=_empty_rejected)
    failure_counts: dict[str, int] = field(default_factory=dict)

    @cached_property
    def valid(self) -> pd.DataFrame:
        """The valid rows as pandas (computed on first use): dates as datetime64[ns],
        TIMESTAMPTZ as datetime64[ns, Asia/Hong_Kong], integer columns with NULLs as Int64."""
        return _to_pandas(self.frame)

    @property
    def valid_arrow(self) -> pa.Table:
        """The valid rows as an Arrow table (no copy of numeric and temporal buffers): DATE
        date32, TIMESTAMPTZ timestamp[us, Asia/Hong_Kong], BIGINT int64, DOUBLE double."""
        return self.frame.to_arrow()

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    @property
    def n_rows(self) -> int:
        """Rows in the input frame (valid + rejected)."""
        return self.frame.height + len(self.rejected)

    @property
    def quarantine_table(self) -> str:
        return "quarantine." + self.table.split(".", 1)[-1]

    def sample(self, n: int = 10) -> list[dict]:
        """The first n rejected rows as {row_number, reason, record} for check metadata."""
        head = self.rejected.head(n)
        return [
            {"row_number": int(r), "reason": reason, "record": json.loads(rec)}
            for r, rec, reason in zip(
                head["row_number"], head["record"], head["reason"], strict=True
            )
        ]


@dataclass
class Verdict:
    """How the validation of a partition is reported: passed, severity OK/WARN/ERROR, message."""

    passed: bool
    severity: str
    message: str


def _mismatch(
    table: str, model: type[DataFrameModel], problems: Iterable[str]
) -> SchemaMismatchError:
    expected = ", ".join(model.to_schema().columns)
    return SchemaMismatchError(
        f"{table}: the frame does not fit the schema, so nothing can load: "
        f"{'; '.join(problems)}. The source must deliver the columns of docs/architecture.md "
        f"({expected}) with values convertible to their types."
    )


def _fmt(value: object) -> str:
    """A failing value as a reason shows it: dates ISO, inf/NaN spelled out, NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, pd.Timestamp) and value.tz is None and value == value.normalize():
        return value.date().isoformat()
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return str(value)


# --- input -> polars ------------------------------------------------------------------------


def _as_polars(df: pd.DataFrame | pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
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


def _prepare(
    table: str, model: type[DataFrameModel], raw: pl.DataFrame
) -> tuple[pl.DataFrame, list[pl.DataFrame], np.ndarray]:
    """The frame in the table's types, conversion failures (index, key, label), bad-row mask."""
    schema = model.to_schema()
    missing = [c for c in schema.columns if c not in raw.columns]
    if missing:
        raise _mismatch(table, model, [f"missing column(s) {', '.join(sorted(missing))}"])
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
                labels = [f"{key} ({_fmt(v)})" for v in s.gather(idx).to_list()]
                failures.append(_failures(idx, key, labels))
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
                f"e.g. {_fmt(values[0])})"
            )
            continue
        labels = [f"{key} ({_fmt(v)})" for v in values]
        failures.append(_failures(idx, key, labels))
        bad[idx] = True
    if whole:
        raise _mismatch(table, model, whole)
    return (raw.with_columns(converted) if converted else raw), failures, bad


# --- pandera ---------------------------------------------------------------------------------

# Key column types whose hash is equal exactly when the values are equal (no NaN or -0.0 as in
# floats, no nesting): for these, "no two row hashes are equal" proves the key unique.
_HASH_EXACT = (pl.Boolean, pl.Date, pl.Datetime, pl.Duration, pl.String, pl.Time)


@cache
def _schema_without_unique(model: type[DataFrameModel]) -> DataFrameSchema:
    """The model's schema minus its ``unique`` key, for frames proven unique already."""
    schema = copy.deepcopy(model.to_schema())
    schema.unique = None
    return schema


def _key_sets(schema: DataFrameSchema) -> list[list[str]]:
    """schema.unique as pandera reads it: one key (list of names) or a list of keys."""
    unique = schema.unique or []
    return [list(unique)] if all(isinstance(c, str) for c in unique) else [list(k) for k in unique]


def _surely_unique(frame: pl.DataFrame, key: list[str]) -> bool:
    """True if no two rows share ``key``; False if some may (pandera then decides exactly).

    pandera's uniqueness check (DataFrame.is_duplicated over the key, ~20 ms for 335k bars)
    is the costliest single rule. Equal keys hash equally, so sorting the 64-bit row hashes
    (numpy's SIMD sort) and finding no two equal proves the key unique in ~4 ms; a hash
    collision only sends the frame to the exact check.
    """
    cols = [c for c in key if c in frame.columns]
    dtypes = [frame.schema[c] for c in cols]
    if not cols or not all(d.is_integer() or isinstance(d, _HASH_EXACT) for d in dtypes):
        return False
    hashes = np.sort(frame.select(cols).hash_rows().to_numpy())
    return not bool((hashes[1:] == hashes[:-1]).any())


def _schema_for(model: type[DataFrameModel], frame: pl.DataFrame) -> DataFrameSchema:
    """The model's schema, without its uniqueness check when the frame is proven unique.

    Leaving out a check that would pass changes nothing pandera reports, so the failure
    cases (and the reasons built from them) are those of the full schema.
    """
    schema = model.to_schema()
    keys = _key_sets(schema)
    if keys and all(_surely_unique(frame, key) for key in keys):
        return _schema_without_unique(model)
    return schema


# --- fast path: all of a schema's rules in one polars query -----------------------------------
#
# pandera runs every rule as its own query (a collect per check, per nullable column, plus the
# frames it keeps for reporting): ~60 queries a partition, most of the cost on small frames.
# On clean data all that is needed is the verdict "nothing fails". `_all_pass` builds each
# rule's boolean column with pandera's own code (PolarsCheckBackend.apply: the model's check
# functions and pandera's built-in checks, pandera's fold of multi-column results), applies
# pandera's NULL rule, reduces every rule to one "all rows pass" flag and collects all flags at
# once. Only when a flag is False (or anything is outside what it mirrors) does pandera run in
# full, so the failure cases, and every reason built from them, are pandera's.


def _fast_path_applies(schema: DataFrameSchema, frame: pl.DataFrame) -> bool:
    """True if the schema uses only what `_all_pass` mirrors and the frame is in its types.

    Anything else (parsers, defaults, regex or optional columns, strict/ordered frames, a
    uniqueness rule not proven already, a dtype pandera would coerce) goes to pandera.
    """
    if (
        schema.unique
        or schema.dtype is not None
        or schema.parsers
        or schema.strict
        or schema.ordered
        or schema.add_missing_columns
        or schema.drop_invalid_rows
        or schema.unique_column_names
        or len(set(frame.columns)) != frame.width
    ):
        return False
    for name, col in schema.columns.items():
        if (
            col.regex
            or not col.required
            or col.unique
            or col.default is not None
            or col.parsers
            or col.drop_invalid_rows
            or col.dtype is None
            or frame.schema.get(name) != col.dtype.type
        ):
            return False
    return True


@dataclass(frozen=True)
class _Rule:
    """One check of a schema with the pandera backend that evaluates it.

    ``key`` is the column a column check runs on, "*" for a frame check (pandera's
    PolarsData key in both cases).
    """

    check: Check
    backend: PolarsCheckBackend
    key: str


_RULES: dict[int, tuple[DataFrameSchema, list[_Rule]]] = {}


def _backend(check: Check) -> PolarsCheckBackend:
    """pandera's backend for a check on a LazyFrame, built-in checks re-resolved first as
    Check.__call__ does. Any other backend (e.g. narwhals) is not mirrored: TypeError."""
    fn_name = getattr(check._check_fn, "__name__", None)
    if fn_name is not None and check.is_builtin_check(fn_name):
        check._check_fn = check.get_builtin_check_fn(fn_name)
    backend = check.get_backend(pl.LazyFrame())(check)
    if not isinstance(backend, PolarsCheckBackend):
        raise TypeError(f"not pandera's polars check backend: {type(backend).__name__}")
    return backend


def _rules(schema: DataFrameSchema) -> list[_Rule]:
    """The schema's column and frame checks in pandera's order, built once per schema object
    (the models' schemas are cached, so this runs once per table and process)."""
    cached = _RULES.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    rules = [
        _Rule(check, _backend(check), name)
        for name, col in schema.columns.items()
        for check in col.checks
    ] + [_Rule(check, _backend(check), "*") for check in schema.checks]
    _RULES[id(schema)] = (schema, rules)
    return rules


def _not_nullable_flags(schema: DataFrameSchema, lf: pl.LazyFrame) -> pl.LazyFrame:
    """One flag per non-nullable column: no NULL (nor NaN in a float column), as pandera's
    check_nullable judges."""
    dtypes = lf.collect_schema()
    flags = [pl.lit(True).alias("_nullable")]
    for name, col in schema.columns.items():
        if col.nullable:
            continue
        ok = pl.col(name).is_not_null()
        if dtypes[name] in (pl.Float32, pl.Float64):
            ok = ok & pl.col(name).is_not_nan()
        flags.append(ok.all().alias(name))
    return lf.select(flags)


def _rule_flags(schema: DataFrameSchema, lf: pl.LazyFrame) -> list[pl.LazyFrame] | None:
    """Queries of one row of flags, all True iff every rule passes; None if a check answers
    False outright. Each check's output is pandera's (PolarsCheckBackend.apply, multi-column
    results folded as pandera folds them), its NULLs judged as postprocess_lazyframe_output
    does: a pass with ignore_na, else a failure."""
    flags = [_not_nullable_flags(schema, lf)]
    for i, rule in enumerate(_rules(schema)):
        out = rule.backend.apply(PolarsData(lf, rule.key))
        if isinstance(out, bool):
            if not out:
                return None
            continue
        ok = pl.col(CHECK_OUTPUT_KEY)
        ok = (ok | ok.is_null()) if rule.check.ignore_na else ok.fill_null(False)
        flags.append(out.select(ok.all().alias(f"_{i}")))
    return flags


def _all_pass(schema: DataFrameSchema, frame: pl.DataFrame) -> bool:
    """True only if pandera's validate(frame) would report no failure and return frame as is.

    False means "ask pandera": a rule fails, or the schema or frame is outside what is
    mirrored here, or evaluating a rule raised (pandera reports that as a check error).
    """
    if not _fast_path_applies(schema, frame):
        return False
    try:
        flags = _rule_flags(schema, frame.lazy())
        if flags is None:
            return False
        results = pl.collect_all(flags)
    except Exception:  # pandera re-runs the rule and reports what went wrong
        return False
    return all(v is True for r in results for v in r.row(0))


# --- pandera failure cases -> reasons --------------------------------------------------------


def _failures(index: np.ndarray, key: str, labels: list[str]) -> pl.DataFrame:
    """Failures as (index: input row, key: what failure_counts counts, label: the reason)."""
    return pl.DataFrame(
        {"index": np.asarray(index, dtype=np.int64), "key": [key] * len(labels), "label": labels},
        schema={"index": pl.Int64, "key": pl.String, "label": pl.String},
    )


def _phrase(check: str) -> str:
    for pattern, phrase in _PHRASES:
        check = re.sub(pattern, phrase, check)
    return check


def _labels(
    model: type[DataFrameModel], fc: pl.DataFrame, checked: pl.DataFrame, rows: np.ndarray | None
) -> list[pl.DataFrame]:
    """pandera failure cases (index into `checked`) -> (input row, key, label) frames.

    Column checks: "column: check (value)". Frame rules: the rule re-runs on its failing rows
    and names the columns it returns False for: "rule (col=value, ...)". Duplicates: all rows
    of the key, "duplicate key (k1=.., k2=..)".
    """
    schema = model.to_schema()
    rules = {(c.error or c.name or str(c)): c for c in schema.checks}
    key_order = list(schema.unique or [])
    out: list[pl.DataFrame] = []

    def emit(local: np.ndarray, key: str, labels: list[str]) -> None:
        index = rows[local] if rows is not None else local
        out.append(_failures(index, key, labels))

    groups = fc.group_by(["schema_context", "column", "check"], maintain_order=True)
    for (context, column, check), g in groups:
        local = np.unique(g["index"].cast(pl.Int64).to_numpy())
        part = checked[local]
        if check in _UNIQUENESS_CHECKS:
            cols = [c for c in key_order if c in part.columns]
            labels = [
                "duplicate key ("
                + ", ".join(f"{c}={_fmt(v)}" for c, v in zip(cols, vals, strict=True))
                + ")"
                for vals in part.select(cols).iter_rows()
            ]
            emit(local, "duplicate key", labels)
        elif context == "DataFrameSchema" and check in rules:
            rule = rules[check]
            verdict = rule._check_fn(PolarsData(part.lazy(), "*"), **rule._check_kwargs)
            verdict = verdict.collect() if isinstance(verdict, pl.LazyFrame) else None
            if verdict is None or verdict.height != part.height:
                emit(local, str(check), [str(check)] * len(local))
                continue
            names = [c for c in verdict.columns if c in part.columns]
            values = part.select(names).rows()
            labels = []
            for flags, vals in zip(verdict.select(names).iter_rows(), values, strict=True):
                failing = [j for j, ok in enumerate(flags) if ok is False] or range(len(names))
                pairs = ", ".join(f"{names[j]}={_fmt(vals[j])}" for j in failing)
                labels.append(f"{check} ({pairs})")
            emit(local, str(check), labels)
        else:
            key = f"{column}: {_phrase(str(check))}"
            values = part[str(column)].to_list() if column in part.columns else [None] * len(local)
            emit(local, key, [f"{key} ({_fmt(v)})" for v in values])
    return out


def _json_value(v: object) -> object:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _records(raw: pl.DataFrame, rows: np.ndarray) -> list[str]:
    """JSON of each row as it came: NaN -> null, ±inf -> "inf"/"-inf", times ISO 8601."""
    return [
        json.dumps(
            {k: _json_value(v) for k, v in rec.items()}, ensure_ascii=False, separators=(",", ":")
        )
        for rec in raw[rows].iter_rows(named=True)
    ]


def _to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
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


# --- the runner -------------------------------------------------------------------------------


def _unlisted(frame: pl.DataFrame, master: SecuritiesMaster) -> list[pl.DataFrame]:
    """Failures of the rows whose symbol the master does not list (NULLs are the model's)."""
    if "symbol" not in frame.columns:
        return []
    symbol = frame["symbol"]
    if symbol.dtype != pl.String:
        symbol = symbol.cast(pl.String, strict=False)
    known = pl.Series(sorted(master.symbols | master.exempt), dtype=pl.String)
    idx = np.flatnonzero((symbol.is_not_null() & ~symbol.is_in(known)).to_numpy())
    if not len(idx):
        return []
    where = f"the securities master in force on {master.trade_date} ({master.origin})"
    labels = [f"symbol {v} is not in {where}" for v in symbol.gather(idx).to_list()]
    return [_failures(idx, "symbol: not in the securities master", labels)]


def validate_frame(
    table: str,
    df: pd.DataFrame | pl.DataFrame | pl.LazyFrame,
    *,
    master: SecuritiesMaster | None = None,
) -> ValidationOutcome:
    """Validate df (pandas or polars) against the table's model; split valid and rejected rows.

    Row failures are quarantined; all rows of a duplicated key are rejected (we cannot tell
    which one is right). With ``master``, a row whose symbol it does not list is rejected too
    (its reason joined to any other the row has). Raises SchemaMismatchError when the frame
    as a whole cannot fit.
    """
    try:
        model = MODELS[table]
    except KeyError:
        raise ValueError(
            f"no schema for table {table!r}; known tables: {', '.join(MODELS)}"
        ) from None
    raw = _as_polars(df)
    frame, failures, bad = _prepare(table, model, raw)

    # pandera judges the rows whose every value converted (the others are rejected already).
    rows = np.flatnonzero(~bad) if bad.any() else None
    checked = frame.filter(pl.Series(~bad)) if rows is not None else frame
    schema = _schema_for(model, checked)
    valid, fc = checked, None
    if not _all_pass(schema, checked):
        try:
            valid = schema.validate(checked, lazy=True)
        except SchemaErrors as err:
            fc = err.failure_cases
    if fc is not None:
        unplaced = fc.filter(pl.col("index").is_null())
        if unplaced.height:
            missing = unplaced.filter(pl.col("check") == "column_in_dataframe")
            if missing.height:
                cols = ", ".join(sorted(set(missing["failure_case"].cast(pl.String))))
                raise _mismatch(table, model, [f"missing column(s) {cols}"])
            # No row to blame (a check that cannot run on this frame at all).
            problems = [
                f"{c}: {k} ({_fmt(v)})"
                for c, k, v in unplaced.select("column", "check", "failure_case").iter_rows()
            ]
            raise _mismatch(table, model, problems[:5])
        failures += _labels(model, fc, checked, rows)
    if master is not None:
        failures += _unlisted(frame, master)
    for part in failures:
        bad[part["index"].to_numpy()] = True

    if not bad.any():
        return ValidationOutcome(table=table, frame=valid)
    # `valid` holds the rows pandera judged (all, or those that converted); drop the rejected.
    keep = ~bad if rows is None else ~bad[rows]
    valid = valid.filter(pl.Series(keep))

    labels = pl.concat(failures).unique(["index", "label"], maintain_order=True)
    counts = (
        labels.unique(["index", "key"], maintain_order=True)
        .group_by("key", maintain_order=True)
        .len()
        .sort("len", descending=True, maintain_order=True)
    )
    reasons = labels.group_by("index").agg(pl.col("label").str.join("; ")).sort("index")
    rows_out = reasons["index"].to_numpy()
    rejected = pd.DataFrame(
        {
            "row_number": rows_out,
            "record": _records(raw, rows_out),
            "reason": reasons["label"].to_numpy(),
        }
    )
    return ValidationOutcome(
        table=table,
        frame=valid,
        rejected=rejected,
        failure_counts=dict(counts.iter_rows()),
    )


def assess(
    outcome: ValidationOutcome,
    *,
    threshold: float,
    critical_symbols: set[str] | frozenset[str] = frozenset(),
) -> Verdict:
    """Judge an outcome: OK (nothing rejected), WARN (a few, none critical) or ERROR.

    critical_symbols holds the index constituents' codes and the index codes; a rejected row
    carrying one of them in `symbol` or `index_code` is an ERROR whatever its share.
    """
    n, k = outcome.n_rows, outcome.n_rejected
    where = outcome.quarantine_table
    if k == 0:
        return Verdict(True, "OK", f"{outcome.table}: all {n:,} rows valid")
    share = k / n
    critical: list[str] = []
    first = 0  # the rejected row the message quotes: the first critical one, else the first
    if outcome.table in ALL_ROWS_CRITICAL:
        critical = ["every index level is critical"]
    elif share <= threshold and critical_symbols:
        for i, rec in enumerate(outcome.rejected["record"]):
            row = json.loads(rec)
            for col in ("symbol", "index_code"):
                if str(row.get(col)) in critical_symbols:
                    first = first if critical else i
                    critical.append(str(row[col]))
    if share <= threshold and not critical:
        return Verdict(
            True,
            "WARN",
            f"{outcome.table}: {k:,} of {n:,} rows ({share:.2%}) quarantined, within the "
            f"threshold {threshold:.2%}; see {where}",
        )
    why = f"; critical rows rejected: {', '.join(sorted(set(critical)))}" if critical else ""
    # one reason in the message itself, so the refusal names the row (and, for landing rows,
    # its file and line) without a query of the quarantine
    example = " ".join(str(outcome.rejected["reason"].iloc[first]).split())
    example = example if len(example) <= 400 else example[:397] + "..."
    return Verdict(
        False,
        "ERROR",
        f"{outcome.table}: {share:.2%} of {n:,} rows failed validation (threshold "
        f"{threshold:.2%}){why}; partition left unchanged; see {where}; first: {example}",
    )


__all__ = [
    "MODELS",
    "SchemaMismatchError",
    "SecuritiesMaster",
    "ValidationOutcome",
    "Verdict",
    "assess",
    "validate_frame",
]
