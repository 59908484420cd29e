"""Run a table's model over a frame and split it into rows to load and rows to quarantine.

The models are pandera polars models, run through pandera's public API only
(``pandera.polars``). Three steps, one module each: coerce.py converts the incoming frame
(pandas, as the sources return it, or polars) to the table's types column by column, so a value
that does not convert is blamed on its row; this module judges the rows that converted with the
model (first every check's verdict at once, ``Check.__call__``'s ``check_passed``; only if one
fails, pandera's lazy validation, ``schema.validate(frame, lazy=True)``: every failure, not the
first, in ``SchemaErrors.failure_cases``); wording.py turns those failure cases (row, column,
check) into one reason per rejected row. Failures that no row can be blamed for (a missing
column, a column that converts for no row) raise SchemaMismatchError: nothing can load then.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property

import numpy as np
import pandas as pd
import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
from pandera.errors import SchemaErrors

from hk_pipeline.schemas.coerce import as_polars, prepare, to_pandas
from hk_pipeline.schemas.index_constituents import IndexConstituents
from hk_pipeline.schemas.index_contributions import IndexContributions
from hk_pipeline.schemas.index_levels import IndexLevels
from hk_pipeline.schemas.intraday_bars import IntradayBars
from hk_pipeline.schemas.macro_series import MacroSeries
from hk_pipeline.schemas.quotes import Quotes
from hk_pipeline.schemas.securities import Securities
from hk_pipeline.schemas.wording import (
    SchemaMismatchError,
    failure_rows,
    labels,
    rejected_rows,
    unplaced_problem,
)

MODELS: dict[str, type[pa_pl.DataFrameModel]] = {
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
        return to_pandas(self.frame)

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


# --- pandera ---------------------------------------------------------------------------------

# Key column types whose hash is equal exactly when the values are equal (no NaN or -0.0 as in
# floats, no nesting): for these, "no two row hashes are equal" proves the key unique.
_HASH_EXACT = (pl.Boolean, pl.Date, pl.Datetime, pl.Duration, pl.String, pl.Time)


@cache
def _schema_without_unique(model: type[pa_pl.DataFrameModel]) -> pa_pl.DataFrameSchema:
    """The model's schema minus its ``unique`` key, for frames proven unique already."""
    schema = copy.deepcopy(model.to_schema())
    schema.unique = None
    return schema


def _key_sets(schema: pa_pl.DataFrameSchema) -> list[list[str]]:
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


def _schema_for(model: type[pa_pl.DataFrameModel], frame: pl.DataFrame) -> pa_pl.DataFrameSchema:
    """The model's schema, without its uniqueness check when the frame is proven unique.

    Leaving out a check that would pass changes nothing pandera reports, so the failure
    cases (and the reasons built from them) are those of the full schema.
    """
    schema = model.to_schema()
    keys = _key_sets(schema)
    if keys and all(_surely_unique(frame, key) for key in keys):
        return _schema_without_unique(model)
    return schema


# --- fast path: only each check's verdict, through pandera's public API ------------------------
#
# pandera's validate runs every rule as its own query and collects several frames per rule for
# reporting (~60 queries a partition), most of the cost on small frames. On clean data all
# that is needed is the verdict "nothing fails": `_all_pass` calls each check as pandera's
# public API offers (``Check.__call__(frame, column)``: the model's check functions and
# pandera's built-in checks, its fold of multi-column results and its NULL rule; one collect
# of the check's output each), keeps only ``check_passed`` (a one-row query) and collects
# those, with one flag per non-nullable column, at once. Only when a flag is False (or
# anything is outside what it mirrors) does pandera validate in full, lazily, so the failure
# cases, and every reason built from them, are pandera's.


def _fast_path_applies(schema: pa_pl.DataFrameSchema, frame: pl.DataFrame) -> bool:
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


def _not_nullable_flags(schema: pa_pl.DataFrameSchema, lf: pl.LazyFrame) -> pl.LazyFrame:
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


def _verdicts(schema: pa_pl.DataFrameSchema, lf: pl.LazyFrame) -> list[pl.LazyFrame]:
    """One-row queries, all True iff every rule passes: the nullable flags, then each check's
    ``check_passed`` in pandera's order (columns' checks, then the frame's)."""
    verdicts = [_not_nullable_flags(schema, lf)]
    for name, col in schema.columns.items():
        verdicts += [check(lf, name).check_passed for check in col.checks]
    verdicts += [check(lf).check_passed for check in schema.checks]
    return verdicts


def _all_pass(schema: pa_pl.DataFrameSchema, frame: pl.DataFrame) -> bool:
    """True only if pandera's validate(frame) would report no failure and return frame as is.

    False means "ask pandera": a rule fails, or the schema or frame is outside what is
    mirrored here, or evaluating a rule raised (pandera reports that as a check error).
    """
    if not _fast_path_applies(schema, frame):
        return False
    try:
        results = pl.collect_all(_verdicts(schema, frame.lazy()))
    except Exception:  # pandera re-runs the rule and reports what went wrong
        return False
    return all(v is True for r in results for v in r.row(0))


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
    return [failure_rows(idx, "symbol: not in the securities master", labels)]


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
    raw = as_polars(df)
    frame, failures, bad = prepare(table, model, raw)

    # pandera judges the rows whose every value converted (the others are rejected already).
    rows = np.flatnonzero(~bad) if bad.any() else None
    checked = frame.filter(pl.Series(~bad)) if rows is not None else frame
    schema = _schema_for(model, checked)
    valid = checked
    if not _all_pass(schema, checked):
        try:
            valid = schema.validate(checked, lazy=True)
        except SchemaErrors as err:
            problem = unplaced_problem(table, model, err.failure_cases)
            if problem is not None:
                raise problem from None
            failures += labels(model, err.failure_cases, checked, rows)
    if master is not None:
        failures += _unlisted(frame, master)
    for part in failures:
        bad[part["index"].to_numpy()] = True

    if not bad.any():
        return ValidationOutcome(table=table, frame=valid)
    # `valid` holds the rows pandera judged (all, or those that converted); drop the rejected.
    keep = ~bad if rows is None else ~bad[rows]
    rejected, counts = rejected_rows(raw, failures)
    return ValidationOutcome(
        table=table, frame=valid.filter(pl.Series(keep)), rejected=rejected, failure_counts=counts
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
