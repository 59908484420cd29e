"""Eastmoney push2 quote lists -> raw.quotes (every Main Board and GEM share) and
raw.index_levels (HSI, HSCEI, HSTECH).

The same ``api/qt/clist/get`` endpoint akshare's ``stock_hk_spot_em`` and
``stock_hk_index_spot_em`` read. It serves only the current state of the market, about 15
minutes late, and answers at most 100 rows a page whatever ``pz`` asks: the list is paged with
``pz=100`` until the feed's own ``data.total`` rows are in, and anything short of that total is
refused. Fields are read by key (``f2`` last, ``f5`` volume, ``f6`` turnover HKD, ``f12`` code,
``f14`` name, ``f15`` high, ``f16`` low, ``f17`` open, ``f18`` previous close, ``f124`` quote
time in epoch seconds). Placeholders (``"-"``, JSON ``null``, ... see ``base.PLACEHOLDERS``)
become NULL; a value that is neither is kept as text for validation to quarantine that row;
a needed field absent from every row of a page refuses the load naming field and URL.

As real answers show it (see hk_pipeline_tests/fixtures/live/SOURCES.md): a suspended share
keeps its previous close (``f18``) and has ``"-"`` in price, volume and turnover, with an
older quote time (``f124``) than the traded rows; names may carry full-width spaces; ``f3``
can be ``null``. The feed has no suspension marker: such a row loads as untraded (volume 0).

Staleness: the newest ``f124`` must fall on the requested trading day, and in the window of
the requested snapshot (midday: 11:45 to 13:00 HKT, before the afternoon session moves the
prices on; close: at or after the last session's end). An untraded share (volume 0) gets NULL
open/high/low/last whatever the feed shows there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.sources.base import (
    SourceError,
    describe_url,
    is_placeholder,
    number_column,
    parse_number,
    require_fields,
)
from hk_pipeline.sources.hkex_securities import share_code
from hk_pipeline.sources.http import ClientProvider, HttpClient
from hk_pipeline.tables import source_columns

PROVIDER = "eastmoney"
SOURCE = f"live:{PROVIDER}"
URL = "https://72.push2.eastmoney.com/api/qt/clist/get"
HOST = "72.push2.eastmoney.com"
PAGE_SIZE = 100  # the feed caps pages at 100 rows
SHARES_FS = "m:128 t:3,m:128 t:4"  # Main Board, GEM
INDEX_FS = "m:124,m:125,m:305"
FIELDS = "f2,f3,f4,f5,f6,f12,f14,f15,f16,f17,f18,f124"
FEED_INDEX_CODES = {code: code for code in INDEX_CODES}  # feed f12 -> ours (the same today)
# Fields a page must carry (in at least one row) for the adapter to read it at all.
SHARE_FIELDS = ("f2", "f5", "f6", "f12", "f15", "f16", "f17", "f18", "f124")
INDEX_FIELDS = ("f2", "f12", "f15", "f16", "f17", "f18", "f124")
MIDDAY_EARLIEST = timedelta(minutes=15)  # the feed's delay: 11:45 is "the morning, done"


def params(fs: str, page: int) -> dict[str, str | int]:
    """Query parameters of one page (po=1/fid=f12: ordered by code, so pages are stable)."""
    return {
        "pn": page,
        "pz": PAGE_SIZE,
        "po": 1,
        "np": 1,
        "fltt": 2,
        "invt": 2,
        "fid": "f12",
        "fs": fs,
        "fields": FIELDS,
    }


def page_url(fs: str, page: int) -> str:
    """The URL of one page as messages show it."""
    return describe_url(URL, params(fs, page))


def _page_rows(payload: Any, what: str, page: int, fs: str) -> tuple[int, list[dict[str, Any]]]:
    where = page_url(fs, page)
    if not isinstance(payload, dict) or payload.get("rc") != 0:
        rc = payload.get("rc") if isinstance(payload, dict) else None
        raise SourceError(f"{PROVIDER}: {where} answered rc={rc!r} for {what} page {page}")
    data = payload.get("data")
    if not isinstance(data, dict) or not data.get("diff"):
        raise SourceError(
            f"{PROVIDER}: {where} returned an empty page {page} of {what} (data"
            f" {'null' if data is None else 'without rows'}): on a trading day that is an"
            " incomplete answer, refused"
        )
    diff = data["diff"]
    rows = list(diff.values()) if isinstance(diff, dict) else list(diff)  # np=0 gives a dict
    total = data.get("total") or 0
    if not isinstance(total, int | float) or not math.isfinite(total) or total < 0:
        raise SourceError(f"{PROVIDER}: {where} page {page} of {what} says total={total!r}")
    if not isinstance(diff, dict | list) or not all(isinstance(r, dict) for r in rows):
        raise SourceError(
            f"{PROVIDER}: {where} page {page} of {what} has rows that are not objects"
        )
    require_fields(PROVIDER, where, rows, SHARE_FIELDS if what == "share" else INDEX_FIELDS, "row")
    return int(total), rows


def fetch_list(client: HttpClient, fs: str, what: str) -> list[dict[str, Any]]:
    """Every row of a clist, paged until the feed's own total is collected (or refused)."""
    total, rows = _page_rows(client.get_json(URL, params=params(fs, 1)), what, 1, fs)
    pages = math.ceil(total / PAGE_SIZE) if total else 1
    for page in range(2, pages + 1):
        page_total, page_rows = _page_rows(
            client.get_json(URL, params=params(fs, page)), what, page, fs
        )
        if page_total != total:
            raise SourceError(
                f"{PROVIDER}: {what} total changed from {total} to {page_total} while paging"
                f" {HOST}; refusing a list assembled from two different states"
            )
        rows.extend(page_rows)
    if len(rows) < total:
        raise SourceError(
            f"{PROVIDER}: {HOST} delivered {len(rows)} {what} rows but says total={total}"
            f" (pages capped at {PAGE_SIZE}?): an incomplete list, refused"
        )
    counts = Counter(str(r.get("f12")) for r in rows if not is_placeholder(r.get("f12")))
    dupes = sorted(c for c, n in counts.items() if n > 1)
    if dupes:
        raise SourceError(f"{PROVIDER}: {HOST} listed {what} {dupes[:5]} more than once")
    return rows


def check_fresh(rows: Iterable[dict[str, Any]], trade_date: date, snapshot: str) -> datetime:
    """The newest quote time, if it is on trade_date and inside the snapshot's window."""
    stamps = [parse_number(r.get("f124")) for r in rows]
    valid = [s for s in stamps if isinstance(s, float) and s > 0]
    if not valid:
        raise SourceError(f"{PROVIDER}: no quote time (f124) in the answer of {HOST}")
    newest = datetime.fromtimestamp(max(valid), tz=calendar.TZ)
    if newest.date() != trade_date:
        raise SourceError(
            f"{PROVIDER}: newest quote from {HOST} is {newest:%Y-%m-%d %H:%M %Z}, not on"
            f" {trade_date}: a stale snapshot (holiday, weekend or a stuck feed), refused"
        )
    s = calendar.session(trade_date)
    if snapshot == "midday":
        start = s.morning_close - MIDDAY_EARLIEST
        end = s.afternoon_open or s.auction_end
        if not start <= newest < end:
            raise SourceError(
                f"{PROVIDER}: newest quote from {HOST} is {newest:%H:%M}, outside the midday"
                f" window {start:%H:%M}-{end:%H:%M} HKT: the feed only shows the present,"
                " so the midday snapshot must be taken during the lunch break"
            )
    else:
        end = s.afternoon_close or s.morning_close
        if newest < end:
            raise SourceError(
                f"{PROVIDER}: newest quote from {HOST} is {newest:%H:%M}, before the close"
                f" ({end:%H:%M} HKT): not a close snapshot yet (the feed is ~15 min late)"
            )
    return newest


def _symbol(value: Any) -> str | None:
    """The five-digit code; None for a placeholder; the text itself when it is not a code
    (validation then quarantines the row: "does not match pattern")."""
    if is_placeholder(value):
        return None
    try:
        return share_code(value)
    except (TypeError, ValueError):
        return str(value)


def _count(value: Any) -> float | str:
    """Volume or turnover: a placeholder means nothing traded (the suspended rows of real
    answers carry "-" there), so 0; unparsed text is kept for validation to reject."""
    parsed = parse_number(value)
    return 0.0 if parsed is None or (isinstance(parsed, float) and math.isnan(parsed)) else parsed


def to_quotes(
    rows: list[dict[str, Any]], trade_date: date, snapshot: str, source: str = SOURCE
) -> pd.DataFrame:
    """The canonical raw.quotes frame of the share rows."""
    volume = [_count(r.get("f5")) for r in rows]
    traded = [not isinstance(v, float) or v > 0 for v in volume]

    def price(field: str, only_traded: bool) -> pd.Series:
        # an untraded share gets NULL open/high/low/last whatever the feed shows there
        keep = traded if only_traded else [True] * len(rows)
        return number_column(r.get(field) if k else None for r, k in zip(rows, keep, strict=True))

    frame = pd.DataFrame(
        {
            "symbol": pd.Series([_symbol(r.get("f12")) for r in rows], dtype=object),
            "prev_close": price("f18", only_traded=False),
            "open": price("f17", only_traded=True),
            "high": price("f15", only_traded=True),
            "low": price("f16", only_traded=True),
            "last": price("f2", only_traded=True),
            "volume": _int_column(volume),
            "turnover": number_column(_count(r.get("f6")) for r in rows),
        }
    )
    frame.insert(0, "snapshot", snapshot)
    frame.insert(0, "trade_date", trade_date)
    frame["as_of"] = pd.Timestamp(calendar.snapshot_time(trade_date, snapshot))
    frame["source"] = source
    # Eastmoney marks no suspension: a suspended share shows only as "-" values and an older
    # quote time (f124), so the state is unknown here (NULL), not "trading normally" asserted.
    frame["trading_status"] = pd.Series([None] * len(frame), dtype=object)
    return frame[source_columns("raw.quotes")]


def _int_column(values: list[float | str]) -> pd.Series:
    """int64 when every value is a whole number, else object (validation names the others)."""
    if all(isinstance(v, float) and v.is_integer() for v in values):
        return pd.Series([int(v) for v in values], dtype="int64")  # type: ignore[arg-type]
    return pd.Series(values, dtype=object)


def to_index_levels(
    rows: list[dict[str, Any]], trade_date: date, snapshot: str, source: str = SOURCE
) -> pd.DataFrame:
    """The canonical raw.index_levels frame: HSI, HSCEI and HSTECH, or an error naming those
    missing."""
    by_code = {str(r.get("f12")): r for r in rows}
    missing = [code for code in FEED_INDEX_CODES if code not in by_code]
    if missing:
        raise SourceError(
            f"{PROVIDER}: {page_url(INDEX_FS, 1)} index list lacks {missing}; refused"
        )
    as_of = pd.Timestamp(calendar.snapshot_time(trade_date, snapshot))
    out = []
    for code, ours in FEED_INDEX_CODES.items():
        r = by_code[code]
        out.append(
            {
                "trade_date": trade_date,
                "snapshot": snapshot,
                "index_code": ours,
                "prev_close": parse_number(r.get("f18")),
                "open": parse_number(r.get("f17")),
                "high": parse_number(r.get("f15")),
                "low": parse_number(r.get("f16")),
                "last": parse_number(r.get("f2")),
                "as_of": as_of,
                "source": source,
            }
        )
    frame = pd.DataFrame(out, columns=source_columns("raw.index_levels"))
    for col in ("prev_close", "open", "high", "low", "last"):
        frame[col] = number_column(frame[col])
    return frame


class Eastmoney(ClientProvider):
    """Eastmoney push2: the present state of every share and of the three indices."""

    provider = PROVIDER

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        rows = fetch_list(self.client, SHARES_FS, "share")
        check_fresh(rows, trade_date, snapshot)
        return to_quotes(rows, trade_date, snapshot)

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        rows = fetch_list(self.client, INDEX_FS, "index")
        wanted = [r for r in rows if str(r.get("f12")) in FEED_INDEX_CODES]
        check_fresh(wanted or rows, trade_date, snapshot)
        return to_index_levels(rows, trade_date, snapshot)
