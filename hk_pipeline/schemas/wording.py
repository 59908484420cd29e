"""Wording: failures as a reader of the quarantine understands them.

Every failure is a row of (index: the input row, key: what ``failure_counts`` counts, label:
the reason). Conversion failures are worded where they happen (coerce.py); pandera's failure
cases (row, column, check) are worded here: "column: check (value)", a frame rule with the
columns it fails on, "rule (col=value, ...)", and every row of a duplicated key, "duplicate key
(k1=.., k2=..)". A rejected row gets one reason (its labels joined) and its record as JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd
import pandera.polars as pa_pl
import polars as pl

# pandera's names of its uniqueness checks in failure cases.
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


def mismatch(
    table: str, model: type[pa_pl.DataFrameModel], problems: Iterable[str]
) -> SchemaMismatchError:
    expected = ", ".join(model.to_schema().columns)
    return SchemaMismatchError(
        f"{table}: the frame does not fit the schema, so nothing can load: "
        f"{'; '.join(problems)}. The source must deliver the columns of docs/architecture.md "
        f"({expected}) with values convertible to their types."
    )


def fmt(value: object) -> str:
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


def failure_rows(index: np.ndarray, key: str, labels: list[str]) -> pl.DataFrame:
    """Failures as (index: input row, key: what failure_counts counts, label: the reason)."""
    return pl.DataFrame(
        {"index": np.asarray(index, dtype=np.int64), "key": [key] * len(labels), "label": labels},
        schema={"index": pl.Int64, "key": pl.String, "label": pl.String},
    )


def _phrase(check: str) -> str:
    for pattern, phrase in _PHRASES:
        check = re.sub(pattern, phrase, check)
    return check


def unplaced_problem(
    table: str, model: type[pa_pl.DataFrameModel], fc: pl.DataFrame
) -> SchemaMismatchError | None:
    """The error for failure cases no row can be blamed for (a missing column, a check that
    cannot run on this frame at all), or None if every failure case names its row."""
    unplaced = fc.filter(pl.col("index").is_null())
    if not unplaced.height:
        return None
    missing = unplaced.filter(pl.col("check") == "column_in_dataframe")
    if missing.height:
        cols = ", ".join(sorted(set(missing["failure_case"].cast(pl.String))))
        return mismatch(table, model, [f"missing column(s) {cols}"])
    problems = [
        f"{c}: {k} ({fmt(v)})"
        for c, k, v in unplaced.select("column", "check", "failure_case").iter_rows()
    ]
    return mismatch(table, model, problems[:5])


def _frame_rule(model: type[pa_pl.DataFrameModel], check: pa_pl.Check):
    """The model's method behind a frame check: each is named as its check (``name=``)."""
    rule = getattr(model, str(check.name), None)
    return rule if callable(rule) else None


def labels(
    model: type[pa_pl.DataFrameModel],
    fc: pl.DataFrame,
    checked: pl.DataFrame,
    rows: np.ndarray | None,
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
        out.append(failure_rows(index, key, labels))

    groups = fc.group_by(["schema_context", "column", "check"], maintain_order=True)
    for (context, column, check), g in groups:
        local = np.unique(g["index"].cast(pl.Int64).to_numpy())
        part = checked[local]
        if check in _UNIQUENESS_CHECKS:
            cols = [c for c in key_order if c in part.columns]
            texts = [
                "duplicate key ("
                + ", ".join(f"{c}={fmt(v)}" for c, v in zip(cols, vals, strict=True))
                + ")"
                for vals in part.select(cols).iter_rows()
            ]
            emit(local, "duplicate key", texts)
        elif context == "DataFrameSchema" and check in rules:
            rule = _frame_rule(model, rules[check])
            verdict = rule(pa_pl.PolarsData(part.lazy(), "*")) if rule is not None else None
            verdict = verdict.collect() if isinstance(verdict, pl.LazyFrame) else None
            if verdict is None or verdict.height != part.height:
                emit(local, str(check), [str(check)] * len(local))
                continue
            names = [c for c in verdict.columns if c in part.columns]
            values = part.select(names).rows()
            texts = []
            for flags, vals in zip(verdict.select(names).iter_rows(), values, strict=True):
                failing = [j for j, ok in enumerate(flags) if ok is False] or range(len(names))
                pairs = ", ".join(f"{names[j]}={fmt(vals[j])}" for j in failing)
                texts.append(f"{check} ({pairs})")
            emit(local, str(check), texts)
        else:
            key = f"{column}: {_phrase(str(check))}"
            values = part[str(column)].to_list() if column in part.columns else [None] * len(local)
            emit(local, key, [f"{key} ({fmt(v)})" for v in values])
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


def rejected_rows(
    raw: pl.DataFrame, failures: list[pl.DataFrame]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per rejected input row (row_number, record as it came, reason: its labels
    joined) and the failure counts by key, most frequent first."""
    found = pl.concat(failures).unique(["index", "label"], maintain_order=True)
    counts = (
        found.unique(["index", "key"], maintain_order=True)
        .group_by("key", maintain_order=True)
        .len()
        .sort("len", descending=True, maintain_order=True)
    )
    reasons = found.group_by("index").agg(pl.col("label").str.join("; ")).sort("index")
    rows_out = reasons["index"].to_numpy()
    rejected = pd.DataFrame(
        {
            "row_number": rows_out,
            "record": _records(raw, rows_out),
            "reason": reasons["label"].to_numpy(),
        }
    )
    return rejected, dict(counts.iter_rows())
