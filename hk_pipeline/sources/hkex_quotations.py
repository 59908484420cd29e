"""HKEX daily quotations file (``d{YYMMDD}e.htm``) -> raw.quotes rows of the close snapshot.

The exchange's official end-of-day record, published in the evening and kept online for a
while after (``WINDOW_DAYS``, not a documented guarantee: a 404 is reported as "not
published"). It is a ~30 MB preformatted text page; its QUOTATIONS section prints each
security on two lines under a two-line header::

     CODE  NAME OF STOCK    CUR PRV.CLO./    ASK/    HIGH/      SHARES TRADED/
                                  CLOSING      BID     LOW        TURNOVER ($)
       700 TENCENT          HKD   521.00   515.50   523.00          21,734,550
                                  515.00   514.50   510.00      11,246,882,770

or on one line with ``TRADING SUSPENDED`` / ``TRADING HALTED``. Values are matched to the
header's own labels (not to fixed positions); ``-`` is NULL. The file has no opening price, so
``open`` is NULL in every row; an untraded share (no shares traded) gets NULL high/low/last
(the file prints its nominal close there) and a suspended one NULL prices throughout.

The file lists every security (warrants, CBBCs, ETFs, debt...). Rows are kept for the given
universe (the securities master's symbols) or, without one, for codes 00001-09999 (ordinary
equity codes; warrants, CBBCs, debt and RMB counters sit above 10000).
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.eastmoney import QUOTE_COLUMNS
from hk_pipeline.sources.hkex_securities import share_code
from hk_pipeline.sources.http import HttpClient, ProviderError

PROVIDER = "hkex_quotations"
SOURCE = f"live:{PROVIDER}"
HOST = "www.hkex.com.hk"
URL = f"https://{HOST}/eng/stat/smstat/dayquot/d{{yymmdd}}e.htm"
WINDOW_DAYS = 365
PLACEHOLDER = "-"
HALTED = ("TRADING SUSPENDED", "TRADING HALTED")
# Labels of the two header lines, as printed; the values below them map to these names.
PREV_CLOSE, ASK, HIGH, SHARES = "PRV.CLO.", "ASK", "HIGH", "SHARES TRADED"
CLOSING, BID, LOW, TURNOVER = "CLOSING", "BID", "LOW", "TURNOVER ($)"

_TAG = re.compile(r"<[^>]+>")
_DATE = re.compile(r"DATE\s*:\s*(\d{1,2})\s+([A-Z]{3})[A-Z]*\s+(\d{4})", re.IGNORECASE)
_SECTION = re.compile(
    r"<a\s+name\s*=\s*[\"']?quotations[\"']?\s*>(.*?)<a\s+name\s*=\s*[\"']?sales_all",
    re.IGNORECASE | re.DOTALL,
)
_FIRST = re.compile(r"^[\s*#]*(?P<code>\d{1,5})[\s*#]+(?P<name>.+?)\s{2,}(?P<rest>.+)$")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def url(trade_date: date) -> str:
    return URL.format(yymmdd=f"{trade_date:%y%m%d}")


def window(today: date) -> tuple[date, date]:
    return today - timedelta(days=WINDOW_DAYS), today


def _number(text: str, where: str) -> float | None:
    if text == PLACEHOLDER:
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError as exc:
        raise SourceError(f"{PROVIDER}: {where}: {text!r} is not a number or '-'") from exc


def _file_date(text: str) -> date:
    m = _DATE.search(text[:5000])
    if not m or m.group(2).upper() not in _MONTHS:
        raise SourceError(f"{PROVIDER}: no 'DATE: dd MON yyyy' line at the top of the file")
    day, month, year = int(m.group(1)), _MONTHS.index(m.group(2).upper()) + 1, int(m.group(3))
    return date(year, month, day)


def _labels(lines: list[str]) -> tuple[int, list[str], list[str]]:
    """(index of the first data line, labels of line one, labels of line two)."""
    for i, line in enumerate(lines[:-1]):
        if PREV_CLOSE in line and "CODE" in line:
            first = [p.strip() for p in line[line.index("CUR") + 3 :].split("/") if p.strip()]
            second = [p for p in re.split(r"\s{2,}", lines[i + 1].strip()) if p]
            if len(first) != 4 or len(second) != 4:
                break
            return i + 2, first, second
    raise SourceError(
        f"{PROVIDER}: the QUOTATIONS header (CODE ... {PREV_CLOSE}/ ... / {CLOSING} ...) is"
        " missing or changed"
    )


def parse(content: str, trade_date: date) -> pd.DataFrame:
    """Every security of the QUOTATIONS section: symbol, currency and the eight figures."""
    found = _file_date(content)
    if found != trade_date:
        raise SourceError(
            f"{PROVIDER}: {url(trade_date)} is dated {found}, not {trade_date}: stale, refused"
        )
    section = _SECTION.search(content)
    if not section:
        raise SourceError(f"{PROVIDER}: no QUOTATIONS section in {url(trade_date)}")
    lines = [html.unescape(_TAG.sub("", line)).rstrip() for line in section.group(1).splitlines()]
    start, first_labels, second_labels = _labels(lines)
    rows: list[dict[str, Any]] = []
    i = start
    while i < len(lines):
        m = _FIRST.match(lines[i])
        i += 1
        if not m:
            continue
        code, rest = share_code(m.group("code")), m.group("rest").split()
        where = f"{url(trade_date)} code {code}"
        if " ".join(rest[1:]) in HALTED or " ".join(rest) in HALTED:
            rows.append({"symbol": code, "halted": True})
            continue
        currency, values = rest[0], rest[1:]
        second = lines[i].split() if i < len(lines) else []
        if len(values) != len(first_labels) or len(second) != len(second_labels):
            raise SourceError(f"{PROVIDER}: {where}: expected two lines of 4 figures")
        i += 1
        row: dict[str, Any] = {"symbol": code, "currency": currency, "halted": False}
        for label, text in [
            *zip(first_labels, values, strict=True),
            *zip(second_labels, second, strict=True),
        ]:
            row[label] = _number(text, where)
        rows.append(row)
    if not rows:
        raise SourceError(f"{PROVIDER}: the QUOTATIONS section of {url(trade_date)} is empty")
    frame = pd.DataFrame(rows)
    dupes = frame["symbol"][frame["symbol"].duplicated()].unique().tolist()
    if dupes:
        raise SourceError(f"{PROVIDER}: {url(trade_date)} lists {dupes[:5]} more than once")
    missing = {PREV_CLOSE, HIGH, SHARES, CLOSING, LOW, TURNOVER} - set(frame.columns)
    if missing:
        raise SourceError(f"{PROVIDER}: header labels {sorted(missing)} not found")
    return frame


def to_quotes(
    parsed: pd.DataFrame,
    trade_date: date,
    universe: Collection[str] | None = None,
    source: str = SOURCE,
) -> pd.DataFrame:
    """Canonical raw.quotes rows (close snapshot) of the shares in the universe."""
    keep = (
        parsed["symbol"].isin(set(universe))
        if universe is not None
        else parsed["symbol"].astype(int) < 10000
    )
    p = parsed[keep].reset_index(drop=True)
    volume = p[SHARES].fillna(0.0)
    traded = volume > 0
    frame = pd.DataFrame(
        {
            "trade_date": trade_date,
            "snapshot": "close",
            "symbol": p["symbol"],
            "prev_close": p[PREV_CLOSE].astype("float64"),
            "open": float("nan"),  # the file has no opening price
            "high": p[HIGH].where(traded).astype("float64"),
            "low": p[LOW].where(traded).astype("float64"),
            "last": p[CLOSING].where(traded).astype("float64"),
            "volume": volume.astype("int64"),
            "turnover": p[TURNOVER].fillna(0.0).astype("float64"),
            "as_of": pd.Timestamp(calendar.snapshot_time(trade_date, "close")),
            "source": source,
        },
        columns=QUOTE_COLUMNS,
    )
    return frame


class HkexQuotations:
    """HKEX daily quotations: the official close of a past (or today's, once published) day."""

    provider = PROVIDER

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def close_quotes(
        self, trade_date: date, today: date, universe: Collection[str] | None = None
    ) -> pd.DataFrame:
        first, last = window(today)
        if not first <= trade_date <= last:
            raise SourceError(
                f"{PROVIDER}: {HOST} keeps daily quotation files for about {WINDOW_DAYS}"
                f" days: it can serve {first} to {last}, not {trade_date}"
            )
        try:
            response = self.client.get(url(trade_date))
        except ProviderError as exc:
            if exc.status == 404:
                raise SourceError(
                    f"{PROVIDER}: {url(trade_date)} is not published (HTTP 404): the file"
                    " appears in the evening after the close, and HKEX drops old days"
                ) from exc
            raise
        parsed = parse(response.content.decode("latin-1"), trade_date)
        return to_quotes(parsed, trade_date, universe)
