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
header's own labels (not to fixed positions), read from the right of the line so a name with
inner spaces cannot shift them; older files without the ``CUR`` column are read too. Markers
before or glued to the code (``*  700``, ``625#RREEF CCT REIT``) are ignored.

Placeholders (``-``, ``N/A``, ... see ``base.PLACEHOLDERS``) are NULL: a real file prints
``N/A`` as the previous close of a new listing or an ex-date, and ``-`` where nothing traded.
A value that is neither stays text, so validation quarantines that row naming it and the rest
of the page loads. The file has no opening price, so ``open`` is NULL in every row; an
untraded share (no shares traded) gets NULL high/low/last (the file prints its nominal close
there) and volume 0; a suspended or halted one NULL prices throughout. The markers are a
state, not a NULL: :func:`parse` keeps them in ``trading_status`` (``TRADING SUSPENDED``,
``TRADING HALTED``, NULL when traded normally), :func:`trading_statuses` hands them out and
:func:`to_quotes` writes them to raw.quotes.trading_status as ``suspended`` / ``halted``.

The file lists every security (warrants, CBBCs, ETFs, debt...). Rows are kept for the given
universe (the securities master's symbols) or, without one, for codes 00001-09999 (ordinary
equity codes; warrants, CBBCs, debt and RMB counters sit above 10000). A universe of which the
file lists no share at all is refused, as is a file cut short before its section ends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sources import envelope
from hk_pipeline.sources.base import SourceError, parse_number
from hk_pipeline.sources.hkex_securities import share_code
from hk_pipeline.sources.http import ClientProvider, ProviderError
from hk_pipeline.tables import source_columns

PROVIDER = "hkex_quotations"
SOURCE = f"live:{PROVIDER}"
HOST = "www.hkex.com.hk"
URL = f"https://{HOST}/eng/stat/smstat/dayquot/d{{yymmdd}}e.htm"
WINDOW_DAYS = 365
STATUSES = ("TRADING SUSPENDED", "TRADING HALTED")
TRADING_STATUS = {"TRADING SUSPENDED": "suspended", "TRADING HALTED": "halted"}
# Labels of the two header lines, as printed; the values below them map to these names.
PREV_CLOSE, ASK, HIGH, SHARES = "PRV.CLO.", "ASK", "HIGH", "SHARES TRADED"
CLOSING, BID, LOW, TURNOVER = "CLOSING", "BID", "LOW", "TURNOVER ($)"

_TAG = re.compile(r"<[^>]+>")
_DATE = re.compile(r"DATE\s*:\s*(\d{1,2})\s+([A-Z]{3})[A-Z]*\s+(\d{4})", re.IGNORECASE)
_OPEN = re.compile(r"<a\s+name\s*=\s*[\"']?quotations[\"']?\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<a\s+name\s*=\s*[\"']?sales_all", re.IGNORECASE)
_FIRST = re.compile(r"^[\s*#]*(?P<code>\d{1,5})[\s*#]+(?P<body>\S.*)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def url(trade_date: date) -> str:
    return URL.format(yymmdd=f"{trade_date:%y%m%d}")


def window(today: date) -> tuple[date, date]:
    return today - timedelta(days=WINDOW_DAYS), today


def _file_date(text: str, where: str) -> date:
    m = _DATE.search(text[:5000])
    if not m or m.group(2).upper() not in _MONTHS:
        title = envelope.html_title(text[:4096].encode("latin-1", errors="replace"))
        page = f" (an HTML page titled {title!r})" if title else ""
        raise SourceError(
            f"{PROVIDER}: {where}: no 'DATE: dd MON yyyy' line at the top{page}: not a daily"
            " quotations file (an error or block page?), refused"
        )
    day, month, year = int(m.group(1)), _MONTHS.index(m.group(2).upper()) + 1, int(m.group(3))
    return date(year, month, day)


def _labels(lines: list[str], where: str) -> tuple[int, list[str], list[str], bool]:
    """(index of the first data line, labels of line one, of line two, has a CUR column)."""
    for i, line in enumerate(lines[:-1]):
        if PREV_CLOSE in line and "CODE" in line:
            has_currency = " CUR " in f" {line} "
            after = line.index("CUR") + 3 if has_currency else line.index(PREV_CLOSE)
            first = [p.strip() for p in line[after:].split("/") if p.strip()]
            second = [p for p in re.split(r"\s{2,}", lines[i + 1].strip()) if p]
            if len(first) != 4 or len(second) != 4:
                break
            return i + 2, first, second, has_currency
    raise SourceError(
        f"{PROVIDER}: {where}: the QUOTATIONS header (CODE ... {PREV_CLOSE}/ ... / {CLOSING}"
        " ...) is missing or changed; refused, update hkex_quotations.py"
    )


def _section(content: str, where: str) -> tuple[str, int]:
    """The QUOTATIONS section's text and the file line it starts on."""
    opened = _OPEN.search(content)
    if not opened:
        raise SourceError(f"{PROVIDER}: {where}: no QUOTATIONS section; refused")
    closed = _CLOSE.search(content, opened.end())
    if not closed:
        raise SourceError(
            f"{PROVIDER}: {where} is cut short: its QUOTATIONS section has no end (no"
            f" 'sales_all' anchor after it) in {len(content):,} characters; an incomplete"
            " file, refused; try again later"
        )
    return content[opened.end() : closed.start()], content.count("\n", 0, opened.end()) + 1


def parse(content: str, trade_date: date) -> pd.DataFrame:
    """Every security of the QUOTATIONS section: symbol, currency, trading_status and the
    eight figures under their header labels (float, None for a placeholder, else the text)."""
    where = url(trade_date)
    found = _file_date(content, where)
    if found != trade_date:
        raise SourceError(f"{PROVIDER}: {where} is dated {found}, not {trade_date}: stale, refused")
    section, first_line = _section(content, where)
    lines = [html.unescape(_TAG.sub("", line)).rstrip() for line in section.splitlines()]
    start, first_labels, second_labels, has_currency = _labels(lines, where)
    n_first = len(first_labels) + (1 if has_currency else 0)
    rows: list[dict[str, Any]] = []
    i = start
    while i < len(lines):
        m = _FIRST.match(lines[i])
        line_no = first_line + i
        i += 1
        if not m:
            continue
        code, body = share_code(m.group("code")), m.group("body").rstrip()
        at = f"{where} line {line_no} (code {code})"
        status = next((s for s in STATUSES if body.endswith(s)), None)
        if status is not None:
            rows.append({"symbol": code, "currency": None, "trading_status": status})
            continue
        tokens = body.split()
        second = lines[i].split() if i < len(lines) else []
        if len(tokens) <= n_first or len(second) != len(second_labels):
            raise SourceError(
                f"{PROVIDER}: {at}: expected a name, {'a currency, ' if has_currency else ''}"
                f"{len(first_labels)} figures and a continuation line of {len(second_labels)};"
                f" got {lines[i - 1].strip()!r} / {lines[i].strip() if i < len(lines) else ''!r}"
            )
        i += 1
        currency = tokens[-n_first] if has_currency else None
        if currency is not None and not _CURRENCY.match(currency):
            raise SourceError(f"{PROVIDER}: {at}: {currency!r} where the currency goes")
        row: dict[str, Any] = {"symbol": code, "currency": currency, "trading_status": None}
        for label, text in [
            *zip(first_labels, tokens[-len(first_labels) :], strict=True),
            *zip(second_labels, second, strict=True),
        ]:
            row[label] = parse_number(text)
        rows.append(row)
    if not rows:
        raise SourceError(f"{PROVIDER}: the QUOTATIONS section of {where} is empty; refused")
    frame = pd.DataFrame(rows)
    dupes = frame["symbol"][frame["symbol"].duplicated()].unique().tolist()
    if dupes:
        raise SourceError(f"{PROVIDER}: {where} lists {dupes[:5]} more than once")
    missing = {PREV_CLOSE, HIGH, SHARES, CLOSING, LOW, TURNOVER} - set(frame.columns)
    if missing:
        raise SourceError(f"{PROVIDER}: {where}: header labels {sorted(missing)} not found")
    return frame


def trading_statuses(parsed: pd.DataFrame) -> pd.DataFrame:
    """symbol and trading_status of the suspended and halted securities of a parsed file."""
    marked = parsed[parsed["trading_status"].notna()]
    return marked[["symbol", "trading_status"]].reset_index(drop=True)


def _numbers(values: pd.Series) -> pd.Series:
    """float64 when every value parsed (None -> NaN), else object keeping the texts."""
    items = values.tolist()
    if any(isinstance(v, str) for v in items):
        return pd.Series([None if _missing(v) else v for v in items], dtype=object)
    return pd.Series([float("nan") if _missing(v) else v for v in items], dtype="float64")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


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
    if p.empty:
        what = f"of the {len(universe)} symbols of the master" if universe else "00001-09999"
        raise SourceError(
            f"{PROVIDER}: {url(trade_date)} lists {len(parsed)} securities but no share {what}:"
            " no usable rows on a trading day, refused"
        )
    # "-" under SHARES TRADED / TURNOVER is the file's "nothing traded": 0, as raw.quotes wants
    volume = [0.0 if _missing(v) else v for v in p[SHARES].tolist()]
    turnover = [0.0 if _missing(v) else v for v in p[TURNOVER].tolist()]
    traded = pd.Series([not isinstance(v, float) or v > 0 for v in volume])
    whole = all(isinstance(v, float) and v.is_integer() for v in volume)
    frame = pd.DataFrame(
        {
            "trade_date": trade_date,
            "snapshot": "close",
            "symbol": p["symbol"],
            "prev_close": _numbers(p[PREV_CLOSE]),
            "open": float("nan"),  # the file has no opening price
            "high": _numbers(p[HIGH].where(traded)),
            "low": _numbers(p[LOW].where(traded)),
            "last": _numbers(p[CLOSING].where(traded)),
            "volume": pd.Series(
                [int(v) for v in volume] if whole else volume, dtype="int64" if whole else object
            ),
            "turnover": _numbers(pd.Series(turnover, dtype=object)),
            "as_of": pd.Timestamp(calendar.snapshot_time(trade_date, "close")),
            "source": source,
        },
        columns=source_columns("raw.quotes"),
    )
    # The file's markers as raw.quotes.trading_status: the state, beside the NULL prices.
    frame["trading_status"] = pd.Series(
        [TRADING_STATUS[s] if isinstance(s, str) else None for s in p["trading_status"]],
        dtype=object,
    )
    return frame


class HkexQuotations(ClientProvider):
    """HKEX daily quotations: the official close of a past (or today's, once published) day."""

    provider = PROVIDER

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
        # the file is ASCII in practice; latin-1 never fails, so an odd byte cannot sink it
        parsed = parse(envelope.text(PROVIDER, response, "latin-1"), trade_date)
        return to_quotes(parsed, trade_date, universe)
