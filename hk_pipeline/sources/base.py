"""The contract every source meets. The asset, not the source, decides where rows go.

Also what every live adapter does the same way with the values a feed sends:

- **placeholders** (``PLACEHOLDERS``: ``-``, ``--``, ``N/A``, blank, ``null``, ``NaN``, ...)
  become NULL for that field, whatever the feed; they never refuse a page. A row that then
  lacks a field its table requires is quarantined by validation with the reason, and the rest
  of the page loads;
- a value that is neither a number nor a placeholder is kept **as its text**
  (:func:`parse_number`), so validation quarantines that one row naming the value instead of
  the adapter refusing the page for it;
- a field the adapter needs that is absent from *every* record of an answer is a changed
  format: :func:`require_fields` refuses the load naming provider, field and URL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import httpx
import pandas as pd

from hk_pipeline.sources.redact import redact_url

# What real feeds put where a value is missing, compared stripped and case-folded. Found in
# captures: "-" (Eastmoney, HKEX), "N/A" (HKEX daily quotations, e.g. the previous close of a
# new listing), JSON null (Eastmoney, Yahoo), "" (C&SD); the rest are the common spellings.
PLACEHOLDERS = frozenset(
    {"", "-", "--", "---", "n/a", "na", "n.a.", "null", "none", "nan", "\u2014", "\u2013", "\uff0d"}
)


class SourceError(RuntimeError):
    """A source could not deliver what was asked; the message says which provider and why."""


def is_placeholder(value: Any) -> bool:
    """True for None, NaN and the placeholder texts of ``PLACEHOLDERS``."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().casefold() in PLACEHOLDERS
    return False


def parse_number(value: Any) -> float | str | None:
    """A float; None for a placeholder; else the value's text, left for validation to reject.

    Thousands separators are dropped (``"1,945,905"``). Booleans are not numbers (JSON
    ``true`` where a price goes is kept as the text ``"True"`` and rejected downstream).
    """
    if is_placeholder(value):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def number_column(values: Iterable[Any]) -> pd.Series:
    """Parsed values as a column: float64, or object when some value is unparsed text (the
    validator then rejects exactly those rows, naming the text)."""
    parsed = [parse_number(v) for v in values]
    if any(isinstance(v, str) for v in parsed):
        return pd.Series(parsed, dtype=object)
    return pd.Series([float("nan") if v is None else v for v in parsed], dtype="float64")


def describe_url(url: httpx.URL | str, params: Mapping[str, Any] | None = None) -> str:
    """The request's URL as messages show it: with its query, secrets redacted."""
    full = httpx.URL(str(url), params=dict(params)) if params else httpx.URL(str(url))
    return redact_url(full)


def require_fields(
    provider: str,
    url: str,
    records: Sequence[Any],
    fields: Iterable[str],
    what: str = "record",
) -> None:
    """Refuse an answer in which a needed field appears in no record at all.

    A field missing from one record is that record's problem (NULL, then validation); missing
    from every record it is the provider's format that changed (renamed or dropped), and a
    load would silently come out empty or NULL throughout.
    """
    dicts = [r for r in records if isinstance(r, Mapping)]
    seen: set[str] = set().union(*(r.keys() for r in dicts)) if dicts else set()
    missing = [f for f in fields if f not in seen]
    if missing:
        shown = ", ".join(sorted(map(str, seen))[:20]) or "none"
        raise SourceError(
            f"{provider}: {url}: field(s) {', '.join(missing)} missing from every {what} of"
            f" the answer ({len(dicts)} {what}s; fields seen: {shown}): the provider changed"
            f" its format, refused; update hk_pipeline/sources/{provider}.py"
        )


class MarketSource(Protocol):
    """One provider of the market's tables. Every row carries `source` = `name`.

    Frames carry the columns of the matching table in sql/ddl/ minus `run_id` and
    `loaded_at`, which the warehouse adds.
    """

    name: str

    def securities(self, trade_date: date) -> pd.DataFrame:
        """ref.securities rows in force on trade_date (effective-dated)."""
        ...

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        """ref.index_constituents rows in force on trade_date (effective-dated)."""
        ...

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """raw.quotes rows: one per listed share, as of the snapshot."""
        ...

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """raw.index_levels rows: HSI, HSCEI, HSTECH as of the snapshot."""
        ...

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """raw.intraday_bars rows: the 1-minute bars of that snapshot's part of the day."""
        ...

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        """raw.macro_series rows released by as_of (point in time)."""
        ...
