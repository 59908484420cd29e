"""Run a table's model over a frame and split it into rows to load and rows to quarantine.

Pandera reports failures per (row, column, check); this module turns them into one reason per
rejected row, keeps the coerced valid rows, and judges the outcome against the quarantine
threshold. Failures that no row can be blamed for (a missing column, a column that converts
for no row) raise SchemaMismatchError: nothing can load then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandera.api.dataframe.model import DataFrameModel
from pandera.errors import SchemaErrors

from hk_pipeline.schemas.index_constituents import IndexConstituents
from hk_pipeline.schemas.index_levels import IndexLevels
from hk_pipeline.schemas.intraday_bars import IntradayBars
from hk_pipeline.schemas.macro_series import MacroSeries
from hk_pipeline.schemas.quotes import Quotes
from hk_pipeline.schemas.securities import Securities

MODELS: dict[str, type[DataFrameModel]] = {
    "ref.securities": Securities,
    "ref.index_constituents": IndexConstituents,
    "raw.quotes": Quotes,
    "raw.index_levels": IndexLevels,
    "raw.intraday_bars": IntradayBars,
    "raw.macro_series": MacroSeries,
}

# Tables whose every rejected row is critical (an index level is never quarantined quietly).
ALL_ROWS_CRITICAL = frozenset({"raw.index_levels"})
_UNIQUENESS_CHECKS = ("multiple_fields_uniqueness", "field_uniqueness", "unique")
_MAX_PASSES = 4
# pandera's names of built-in checks -> what a reader of the quarantine should understand.
_PHRASES = (
    (r"^coerce_dtype\('(.*)'\)$", r"not convertible to \1"),
    (r"^not_nullable$", "missing (NULL not allowed)"),
    (r"^str_matches\('(.*)'\)$", r"does not match pattern \1"),
    (r"^isin\((.*)\)$", r"not one of \1"),
    (r"^greater_than\((.*)\)$", r"must be > \1"),
    (r"^greater_than_or_equal_to\((.*)\)$", r"must be >= \1"),
)


class SchemaMismatchError(ValueError):
    """The frame as a whole does not fit the table's schema; no row can be loaded."""


@dataclass
class ValidationOutcome:
    """Result of validating one frame: coerced valid rows and the rejected rows with reasons."""

    table: str
    valid: pd.DataFrame
    rejected: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"row_number": pd.Series(dtype="int64"), "record": [], "reason": []}
        )
    )
    failure_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    @property
    def n_rows(self) -> int:
        """Rows in the input frame (valid + rejected)."""
        return len(self.valid) + len(self.rejected)

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
    """A failing value as a reason shows it: dates without 00:00:00, inf/NaN spelled out."""
    if isinstance(value, pd.Timestamp) and value.tz is None and value == value.normalize():
        return value.date().isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    return str(value)


def _non_integral(model: type[DataFrameModel], df: pd.DataFrame) -> pd.DataFrame:
    """Failure cases for floats with a fraction in integer columns.

    Coercion to int64 is `astype`, which truncates 100.5 to 100 silently; catch it first.
    """
    rows = []
    for name, col in model.to_schema().columns.items():
        if name not in df or "int" not in str(col.dtype).lower():
            continue
        s = df[name]
        if not pd.api.types.is_float_dtype(s):
            continue
        values = s.to_numpy(dtype=float)
        bad = np.isfinite(values) & (values != np.round(values))
        if bad.any():
            rows.append(
                pd.DataFrame(
                    {
                        "index": np.flatnonzero(bad),
                        "key": f"{name}: not a whole number",
                        "label": [f"{name}: not a whole number ({_fmt(v)})" for v in values[bad]],
                    }
                )
            )
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["index", "key", "label"])
    )


def _labels(fc: pd.DataFrame, key_order: list[str]) -> pd.DataFrame:
    """Row-indexed pandera failure cases -> one (index, key, label) per failure.

    key is "column: check" (what failure_counts counts), label adds the failing value(s).
    """
    fc = fc.copy()
    fc["index"] = fc["index"].astype("int64")
    check = fc["check"].astype(str)
    coerce = check.str.startswith("coerce_dtype(")
    # A failed coercion is also reported as a dtype failure of the same cell: keep one.
    cells = pd.MultiIndex.from_arrays([fc["column"].astype(str), fc["index"]])
    dtype_dup = check.str.startswith("dtype(").to_numpy() & cells.isin(cells[coerce.to_numpy()])
    fc = fc[~dtype_dup]
    check = check[~dtype_dup]
    for pattern, phrase in _PHRASES:
        check = check.str.replace(pattern, phrase, regex=True)
    fc = fc.assign(check=check, value=[_fmt(v) for v in fc["failure_case"]])
    unique = fc["check"].isin(_UNIQUENESS_CHECKS)
    frame = (fc["schema_context"] == "DataFrameSchema") & ~unique
    out = []

    cols = fc[~frame & ~unique]
    if len(cols):
        key = cols["column"].astype(str) + ": " + cols["check"]
        out.append(
            pd.DataFrame(
                {"index": cols["index"], "key": key, "label": key + " (" + cols["value"] + ")"}
            )
        )

    # Frame-level rules: pandera gives the failing row's rule columns as a dict (or, for a
    # rule returning a Series, one case per column); one entry per (row, rule) either way.
    rules = fc[frame]
    if len(rules):
        pairs = [
            ", ".join(f"{k}={_fmt(v)}" for k, v in case.items())
            if isinstance(case, dict)
            else f"{col}={_fmt(case)}"
            for col, case in zip(rules["column"], rules["failure_case"], strict=True)
        ]
        agg = (
            pd.DataFrame({"index": rules["index"], "key": rules["check"], "pairs": pairs})
            .groupby(["index", "key"], sort=False)["pairs"]
            .agg(", ".join)
            .reset_index()
        )
        label = agg["key"] + " (" + agg["pairs"] + ")"
        out.append(pd.DataFrame({"index": agg["index"], "key": agg["key"], "label": label}))

    dups = fc[unique]
    if len(dups):
        order = {c: i for i, c in enumerate(key_order)}
        dups = dups.assign(_o=dups["column"].map(order)).sort_values(["index", "_o"])
        pairs = dups["column"].astype(str) + "=" + dups["value"]
        agg = pairs.groupby(dups["index"], sort=False).agg(", ".join).reset_index()
        agg.columns = ["index", "pairs"]
        out.append(
            pd.DataFrame(
                {
                    "index": agg["index"],
                    "key": "duplicate key",
                    "label": "duplicate key (" + agg["pairs"] + ")",
                }
            )
        )
    return (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame(columns=["index", "key", "label"])
    )


def _records(df: pd.DataFrame) -> list[str]:
    """JSON of each row as it came: NaN -> null, ±inf -> "inf"/"-inf", timestamps ISO 8601."""
    if df.empty:
        return []
    df = df.copy()
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_float_dtype(s):
            inf = np.isinf(s.to_numpy(dtype=float))
            if inf.any():
                df[name] = s.astype(object).where(~inf, np.where(s > 0, "inf", "-inf"))
    text = df.to_json(orient="records", lines=True, date_format="iso", default_handler=str)
    return text.rstrip("\n").split("\n")


def validate_frame(table: str, df: pd.DataFrame) -> ValidationOutcome:
    """Validate df against the table's model; return coerced valid rows and rejected rows.

    Row failures are quarantined; all rows of a duplicated key are rejected (we cannot tell
    which one is right). Raises SchemaMismatchError when the frame as a whole cannot fit.
    """
    try:
        model = MODELS[table]
    except KeyError:
        raise ValueError(
            f"no schema for table {table!r}; known tables: {', '.join(MODELS)}"
        ) from None
    data = df.reset_index(drop=True)
    key_order = list(model.to_schema().unique or [])
    failures = [_non_integral(model, data)]
    rejected: set[int] = set(failures[0]["index"].astype(int))

    valid: pd.DataFrame | None = None
    remaining = data
    for _ in range(_MAX_PASSES):
        try:
            valid = model.validate(remaining, lazy=True)
            break
        except SchemaErrors as err:
            fc = err.failure_cases
        missing = fc.loc[fc["check"] == "column_in_dataframe", "failure_case"].astype(str)
        if len(missing):
            raise _mismatch(table, model, [f"missing column(s) {', '.join(sorted(set(missing)))}"])
        rows = fc[fc["index"].notna()]
        coerce = rows[rows["check"].astype(str).str.startswith("coerce_dtype(")]
        whole = [
            f"column {col!r} converts for no row ({g['check'].iloc[0]}, "
            f"e.g. {_fmt(g['failure_case'].iloc[0])})"
            for col, g in coerce.groupby("column")
            if g["index"].nunique() == len(remaining) and len(remaining) > 0
        ]
        if whole:
            raise _mismatch(table, model, whole)
        if rows.empty:
            # No row to blame (a check that cannot run on this frame at all).
            problems = [
                f"{c}: {k} ({_fmt(v)})"
                for c, k, v in zip(fc["column"], fc["check"], fc["failure_case"], strict=True)
            ]
            raise _mismatch(table, model, problems[:5])
        failures.append(_labels(rows, key_order))
        rejected |= set(rows["index"].astype(int))
        remaining = data.drop(index=sorted(rejected))
    if valid is None:
        raise RuntimeError(
            f"{table}: still failing after {_MAX_PASSES} validation passes; this is a bug in "
            "hk_pipeline.schemas (a check that depends on other rows?), please report it."
        )
    valid = valid.drop(index=sorted(rejected), errors="ignore").reset_index(drop=True)

    labels = pd.concat([f for f in failures if len(f)], ignore_index=True) if rejected else None
    if labels is None:
        return ValidationOutcome(table=table, valid=valid)
    labels["index"] = labels["index"].astype("int64")
    labels = labels.drop_duplicates(["index", "label"])
    counts = labels.drop_duplicates(["index", "key"])["key"].value_counts()
    reasons = labels.groupby("index", sort=True)["label"].agg("; ".join)
    rows_out = reasons.index.to_numpy()
    rejected_frame = pd.DataFrame(
        {
            "row_number": rows_out.astype("int64"),
            "record": _records(data.iloc[rows_out]),
            "reason": reasons.to_numpy(),
        }
    )
    return ValidationOutcome(
        table=table,
        valid=valid,
        rejected=rejected_frame,
        failure_counts={str(k): int(v) for k, v in counts.items()},
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
    if outcome.table in ALL_ROWS_CRITICAL:
        critical = ["every index level is critical"]
    elif share <= threshold and critical_symbols:
        for rec in outcome.rejected["record"]:
            row = json.loads(rec)
            for col in ("symbol", "index_code"):
                if str(row.get(col)) in critical_symbols:
                    critical.append(str(row[col]))
    if share <= threshold and not critical:
        return Verdict(
            True,
            "WARN",
            f"{outcome.table}: {k:,} of {n:,} rows ({share:.2%}) quarantined, within the "
            f"threshold {threshold:.2%}; see {where}",
        )
    why = f"; critical rows rejected: {', '.join(sorted(set(critical)))}" if critical else ""
    return Verdict(
        False,
        "ERROR",
        f"{outcome.table}: {share:.2%} of {n:,} rows failed validation (threshold "
        f"{threshold:.2%}){why}; partition left unchanged; see {where}",
    )


__all__ = [
    "MODELS",
    "SchemaMismatchError",
    "ValidationOutcome",
    "Verdict",
    "assess",
    "validate_frame",
]
