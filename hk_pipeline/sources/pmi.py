"""Hong Kong SAR PMI (S&P Global) from the maintained CSV ``data/pmi_hk.csv``.

S&P Global publishes no free machine-readable feed, so readings are kept by hand, one row per
release, with the columns of raw.macro_series: ``series_id`` (``pmi``), ``period`` (YYYY-MM),
``value``, ``unit`` (``index``), ``released_on`` (a date, HKT) and ``released_at`` (ISO 8601
with offset, optional; S&P releases at 08:30 HKT). Only readings checked against a publication
belong there: the file starts with October 2025 (51.2, released 2025-11-05 08:30 HKT, as quoted
in the 2025-11-21 mid-day review); add each month as it is released.

A malformed file is an error naming file, line and column. No network.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.sources.base import SourceError, is_placeholder
from hk_pipeline.tables import source_columns

PROVIDER = "pmi"
SOURCE = f"live:{PROVIDER}"
CSV_PATH = PROJECT_DIR / "data" / "pmi_hk.csv"
SERIES_ID = "pmi"
# The maintained CSV has raw.macro_series's columns but the lineage one, which is set here.
HEADER = [c for c in source_columns("raw.macro_series") if c != "source"]
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def macro_frame(rows: list[dict[str, object]], source: str) -> pd.DataFrame:
    """The canonical raw.macro_series frame (shared by the macro providers)."""
    frame = pd.DataFrame(rows, columns=HEADER)
    frame["value"] = frame["value"].astype("float64")
    frame["released_at"] = pd.to_datetime(frame["released_at"], utc=True).dt.tz_convert(calendar.TZ)
    frame["source"] = source
    return frame[source_columns("raw.macro_series")].reset_index(drop=True)


@dataclass(frozen=True)
class MacroSeries:
    """What every row of one live macro series carries."""

    series_id: str
    unit: str
    source: str


def readings_frame(
    parsed: list[tuple[str, float | str | None]],
    series: MacroSeries,
    released_on: Mapping[str, date],
    refusal: str,
    lists: str,
) -> pd.DataFrame:
    """raw.macro_series rows of a live provider's (period, value) readings, in their order.

    No published figure at all refuses the load with ``refusal`` (an empty series is never a
    success). A placeholder after the newest published figure is a period not published yet
    and is dropped; one before it is a gap and stays (NULL value) so validation quarantines
    it. Text that is not a number stays text (an object column) so validation quarantines
    it, naming it. ``released_on`` maps each period to its release day. A period listed twice
    refuses the load: ``"<lists> <period> twice; refused"``.
    """
    seen: set[str] = set()
    for period, _ in parsed:
        if period in seen:
            raise SourceError(f"{lists} {period} twice; refused")
        seen.add(period)
    published = [p for p, v in parsed if not is_placeholder(v)]
    if not published:
        raise SourceError(refusal)
    newest = max(published)
    rows = [
        {
            "series_id": series.series_id,
            "period": period,
            "value": value,
            "unit": series.unit,
            "released_on": released_on[period],
            "released_at": None,
        }
        for period, value in parsed
        if period <= newest
    ]
    values = [r["value"] for r in rows]
    if not any(isinstance(v, str) for v in values):
        return macro_frame(rows, series.source)
    frame = macro_frame([{**r, "value": None} for r in rows], series.source)
    frame["value"] = pd.Series(values, dtype=object)
    return frame


def known_by(frame: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """Rows released by as_of: released_at when known, else the start of released_on (HKT)."""
    day_start = pd.to_datetime(frame["released_on"]).dt.tz_localize(calendar.TZ)
    released = frame["released_at"].where(frame["released_at"].notna(), day_start)
    return frame[released <= pd.Timestamp(as_of)].reset_index(drop=True)


def _fail(path: Path, line: int, column: str, problem: str) -> SourceError:
    return SourceError(f"{PROVIDER}: {path}:{line}: column {column!r}: {problem}")


def read(path: Path = CSV_PATH) -> pd.DataFrame:
    """Every reading of the CSV as raw.macro_series rows."""
    if not path.exists():
        raise SourceError(
            f"{PROVIDER}: {path} is missing; it holds the S&P Global HK PMI readings by hand"
            f" (header {','.join(HEADER)})"
        )
    rows: list[dict[str, object]] = []
    seen: set[tuple[str, str]] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != HEADER:
            raise _fail(path, 1, "header", f"expected {','.join(HEADER)}, got {reader.fieldnames}")
        for line, rec in enumerate(reader, start=2):
            if rec["series_id"] != SERIES_ID:
                raise _fail(path, line, "series_id", f"expected {SERIES_ID!r}")
            if not _PERIOD.match(rec["period"] or ""):
                raise _fail(path, line, "period", f"{rec['period']!r} is not YYYY-MM")
            try:
                value = float(rec["value"])
            except ValueError:
                raise _fail(path, line, "value", f"{rec['value']!r} is not a number") from None
            try:
                released_on = date.fromisoformat(rec["released_on"])
            except ValueError:
                raise _fail(path, line, "released_on", "not an ISO date") from None
            released_at = None
            if rec["released_at"]:
                try:
                    released_at = datetime.fromisoformat(rec["released_at"])
                except ValueError:
                    raise _fail(path, line, "released_at", "not ISO 8601") from None
                if released_at.tzinfo is None:
                    raise _fail(path, line, "released_at", "needs a UTC offset (+08:00)")
                if released_at.astimezone(calendar.TZ).date() != released_on:
                    raise _fail(path, line, "released_at", "not on released_on (HKT)")
            key = (rec["period"], rec["released_on"])
            if key in seen:
                raise _fail(path, line, "period", f"{key} appears twice")
            seen.add(key)
            rows.append(
                {
                    "series_id": SERIES_ID,
                    "period": rec["period"],
                    "value": value,
                    "unit": rec["unit"] or "index",
                    "released_on": released_on,
                    "released_at": released_at,
                }
            )
    return macro_frame(rows, SOURCE)


class Pmi:
    """The maintained PMI CSV (no network)."""

    provider = PROVIDER

    def __init__(self, path: Path = CSV_PATH) -> None:
        self.path = path

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        return known_by(read(self.path), as_of)
