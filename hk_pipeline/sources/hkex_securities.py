"""HKEX List of Securities (ListOfSecurities.xlsx) -> ref.securities rows.

The file (row 1 title, row 2 "Updated as at dd/mm/yyyy", row 3 header, then one row per
security) is the exchange's own master of what is listed *now*: it has no history, so it can
only serve the present. Kept: Category ``Equity`` with Sub-Category ``Equity Securities (Main
Board)`` or ``Equity Securities (GEM)``; warrants, CBBCs, ETPs, REITs and debt are dropped.

What the file does not carry, and what this module does about it:

- **industry** (HSICS) and **issued_shares** are not in the file. They come from a maintained
  reference keyed by symbol (default: ``sample_market/data/named_securities.csv``, the real named
  large caps with their HSICS industry and approximate share counts). A share the reference
  does not know gets NULL for both - never a guess - so the marts group it under
  'Unclassified' and leave it out of market-cap weights. Because of those NULLs
  ``issued_shares`` is the nullable ``Int64`` dtype here (the sample's is ``int64``).
- **listed_on** is not in the file: NULL.
- **valid_from** is the trading day the list was fetched for (the row is known to be in force
  then), ``valid_to`` NULL.

As real copies of the file are read by other projects (hk_pipeline_tests/fixtures/live/
SOURCES.md): ``Stock Code`` and ``Board Lot`` are numeric cells or text with thousands
separators (``"10,000"``), flag columns hold ``Y`` or a blank, and a header may span lines
(``Spread Table\n1, 4 = Part A...``); headers are matched case- and space-insensitively. A
board lot that is a placeholder is NULL (validation quarantines that row); an HTML page, a
body cut short or stray gzip is handled by ``envelope`` with a message naming the URL.

Also home of ``share_code``, the one normaliser of HKEX stock codes the providers share.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from hk_pipeline import calendar
from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.sources import envelope
from hk_pipeline.sources.base import SourceError, parse_number
from hk_pipeline.sources.http import HttpClient
from hk_pipeline.tables import source_columns

PROVIDER = "hkex_securities"
SOURCE = f"live:{PROVIDER}"
URL = (
    "https://www.hkex.com.hk/eng/services/trading/securities/securitieslists/ListOfSecurities.xlsx"
)
HOST = "www.hkex.com.hk"

EQUITY = "Equity"
SUB_CATEGORIES = {
    "Equity Securities (Main Board)": "Main Board",
    "Equity Securities (GEM)": "GEM",
}
# Header names as printed in row 3; matched case- and space-insensitively.
COL_CODE = "Stock Code"
COL_NAME = "Name of Securities"
COL_CATEGORY = "Category"
COL_SUB = "Sub-Category"
COL_LOT = "Board Lot"
COL_CURRENCY = "Trading Currency"
REQUIRED = (COL_CODE, COL_NAME, COL_CATEGORY, COL_SUB, COL_LOT, COL_CURRENCY)
CURRENCY_CODES = {"RMB": "CNY"}  # HKEX prints RMB; ISO 4217 is CNY

_YAHOO = re.compile(r"^(\d{1,5})\.HK$", re.IGNORECASE)
_AS_AT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def share_code(value: Any) -> str:
    """A five-digit HKEX stock code from 700, '700', '0700', '00700' or Yahoo's '0700.HK'."""
    text = str(value).strip()
    m = _YAHOO.match(text)
    if m:
        text = m.group(1)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not text.isdigit() or len(text) > 5 or int(text) == 0:
        raise ValueError(f"not an HKEX stock code: {value!r}")
    return text.zfill(5)


@dataclass(frozen=True)
class Enrichment:
    """What the list lacks, per symbol: HSICS industry and issued shares."""

    industry: Mapping[str, str]
    issued_shares: Mapping[str, int]


def reference_enrichment() -> Enrichment:
    """The maintained reference: named securities with their industry and share counts."""
    ref = pd.read_csv(SAMPLE_DATA_DIR / "named_securities.csv", dtype={"symbol": str})
    return Enrichment(
        industry=dict(zip(ref["symbol"], ref["industry"], strict=True)),
        issued_shares={s: int(n) for s, n in zip(ref["symbol"], ref["issued_shares"], strict=True)},
    )


def _norm(header: Any) -> str:
    return " ".join(str(header or "").split()).lower()


def _as_at(title_rows: list[tuple[Any, ...]]) -> date:
    for row in title_rows:
        for cell in row:
            if isinstance(cell, datetime):
                return cell.date()
            m = _AS_AT.search(str(cell or ""))
            if m and "updated" in str(cell).lower():
                day, month, year = (int(g) for g in m.groups())
                return date(year, month, day)
    raise SourceError(
        f"{PROVIDER}: {URL} has no 'Updated as at dd/mm/yyyy' line in"
        " its first rows; the layout changed, update hkex_securities.py"
    )


def _lot(value: Any) -> int | str | None:
    """The board lot: an int; None for a placeholder; else the text (validation rejects it)."""
    parsed = parse_number(value)
    if isinstance(parsed, float) and parsed.is_integer():
        return int(parsed)
    return parsed if parsed is None or isinstance(parsed, str) else str(value)


def parse(content: bytes) -> tuple[date, pd.DataFrame]:
    """(as-at date, Main Board and GEM equities with symbol, name, board, board_lot, currency)."""

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        # an xlsx is a zip whose directory sits at its end: a body cut short loses it first
        hint = " (cut short? a zip without its end)" if content.startswith(b"PK") else ""
        raise SourceError(
            f"{PROVIDER}: {URL} did not return a readable xlsx{hint} ({len(content):,} bytes;"
            f" {type(exc).__name__}: {exc}); refused, try again later"
        ) from exc
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    header_at = next(
        (i for i, r in enumerate(rows[:10]) if _norm(COL_CODE) in [_norm(c) for c in r]), None
    )
    if header_at is None:
        raise SourceError(
            f"{PROVIDER}: no header row with {COL_CODE!r} in the first 10 rows of"
            f" {URL}; the layout changed"
        )
    as_at = _as_at(rows[:header_at])
    index = {_norm(c): i for i, c in enumerate(rows[header_at]) if c is not None}
    missing = [c for c in REQUIRED if _norm(c) not in index]
    if missing:
        raise SourceError(
            f"{PROVIDER}: {URL} lacks column(s) {missing};"
            f" header is {[c for c in rows[header_at] if c]}"
        )

    def cell(row: tuple[Any, ...], col: str) -> Any:
        i = index[_norm(col)]
        return row[i] if i < len(row) else None

    out = []
    for row in rows[header_at + 1 :]:
        if cell(row, COL_CODE) in (None, ""):
            continue
        if str(cell(row, COL_CATEGORY) or "").strip() != EQUITY:
            continue
        board = SUB_CATEGORIES.get(" ".join(str(cell(row, COL_SUB) or "").split()))
        if board is None:
            continue
        try:
            code = share_code(cell(row, COL_CODE))
        except ValueError:  # not a code: validation quarantines the row, naming the text
            code = str(cell(row, COL_CODE)).strip()
        currency = str(cell(row, COL_CURRENCY) or "").strip().upper()
        out.append(
            {
                "symbol": code,
                "name": " ".join(str(cell(row, COL_NAME) or "").split()),
                "board": board,
                "board_lot": _lot(cell(row, COL_LOT)),
                "currency": CURRENCY_CODES.get(currency, currency),
            }
        )
    frame = pd.DataFrame(out, columns=["symbol", "name", "board", "board_lot", "currency"])
    if all(isinstance(v, int) for v in frame["board_lot"]):
        frame["board_lot"] = frame["board_lot"].astype("int64")
    dupes = frame["symbol"][frame["symbol"].duplicated()].unique().tolist()
    if dupes:
        raise SourceError(f"{PROVIDER}: ListOfSecurities.xlsx lists {dupes[:5]} more than once")
    return as_at, frame


def to_securities(
    listed: pd.DataFrame, trade_date: date, enrichment: Enrichment, source: str = SOURCE
) -> pd.DataFrame:
    """The canonical ref.securities frame: the list plus the reference's industry and shares."""
    shares = listed["symbol"].map(enrichment.issued_shares)
    industry = listed["symbol"].map(enrichment.industry).astype(object)
    return pd.DataFrame(
        {
            "symbol": listed["symbol"],
            "name": listed["name"],
            "board": listed["board"],
            "industry": industry.where(industry.notna(), None),
            "board_lot": listed["board_lot"],  # int64; object when a lot did not parse
            "issued_shares": shares.astype("Int64"),
            "currency": listed["currency"],
            "listed_on": None,
            "valid_from": trade_date,
            "valid_to": None,
            "source": source,
        },
        columns=source_columns("ref.securities"),
    ).reset_index(drop=True)


class HkexSecurities:
    """The HKEX list of securities: the master as it stands today (no history)."""

    provider = PROVIDER

    def __init__(self, client: HttpClient, enrichment: Enrichment | None = None) -> None:
        self.client = client
        self.enrichment = enrichment

    def fetch(self, trade_date: date) -> pd.DataFrame:
        """ref.securities rows as of trade_date, which must be the list's current day."""
        response = self.client.get(URL)
        content = envelope.body_bytes(PROVIDER, response)
        envelope.refuse_html(PROVIDER, response, content, "the ListOfSecurities.xlsx workbook")
        as_at, listed = parse(content)
        oldest = calendar.previous_trading_day(trade_date)
        if not oldest <= as_at <= trade_date:
            raise SourceError(
                f"{PROVIDER}: {URL} is 'updated as at {as_at}', not"
                f" {oldest} or {trade_date}: a stale (or future) list, refused"
            )
        if listed.empty:
            raise SourceError(
                f"{PROVIDER}: {URL} has no Main Board or GEM equities; an incomplete file, refused"
            )
        return to_securities(listed, trade_date, self.enrichment or reference_enrichment())
