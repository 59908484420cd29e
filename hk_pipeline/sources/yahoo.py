"""Yahoo chart API (the one yfinance reads) -> raw.intraday_bars for HSI, HSCEI and HSTECH.

``GET /v8/finance/chart/{symbol}?interval=1m`` answers ``chart.result[0]`` with ``meta``
(``exchangeTimezoneName``, ``gmtoffset``, ``chartPreviousClose``, ``regularMarketPrice``),
``timestamp[]`` (bar starts, epoch seconds, UTC) and ``indicators.quote[0]`` with
``open/high/low/close/volume`` lists aligned to the timestamps, ``null`` where Yahoo has no
bar. Yahoo keeps 1-minute bars about a week back: a date older than ``WINDOW_DAYS`` is refused
before any request. Today is asked with ``range=1d``; an earlier day in the window with
``period1``/``period2`` (that day's 00:00 to 24:00 HKT).

Per snapshot the bars are cut as raw.intraday_bars wants them (midday 09:30-11:59, close
13:00-15:59 plus the 16:00 auction bar; on a half day the close holds only the 12:00 auction
bar, which Yahoo may not have, so that part may come back empty). Bars null in all of
open/high/low/close are dropped: Yahoo pads minutes without trades that way (real answers
carry runs of them, and a last bar with volume 0). A bar null (or a placeholder) in only some
of them is kept with NULLs, so validation quarantines it with the reason instead of the
adapter hiding it; a value that is not a number stays text for the same reason. Index rows
carry volume 0 and turnover 0. Refused: a field the adapter reads missing from the answer (named
with the URL), a time zone other than HKT
(the "shifted timestamps" fault), no bar on the requested day (a stale answer: Yahoo returns
the last session on a holiday), a part that stops more than ``MAX_GAP`` before its end, and
duplicate timestamps.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sources.base import SourceError, describe_url, number_column
from hk_pipeline.sources.hkex_securities import share_code
from hk_pipeline.sources.http import ClientProvider
from hk_pipeline.tables import source_columns

PROVIDER = "yahoo"
SOURCE = f"live:{PROVIDER}"
HOST = "query2.finance.yahoo.com"
URL = f"https://{HOST}/v8/finance/chart/{{symbol}}"
WINDOW_DAYS = 7  # 1-minute history Yahoo serves, counted back from today
HKT_OFFSET = 8 * 3600
MAX_GAP = timedelta(minutes=10)
INDEX_SYMBOLS = {"HSI": "^HSI", "HSCEI": "^HSCE", "HSTECH": "HSTECH.HK"}


def to_symbol(yahoo_symbol: str) -> str:
    """Our symbol for a Yahoo one: '^HSI' -> 'HSI', '0700.HK' -> '00700'."""
    for ours, theirs in INDEX_SYMBOLS.items():
        if yahoo_symbol.upper() == theirs.upper():
            return ours
    return share_code(yahoo_symbol)


def window(today: date) -> tuple[date, date]:
    """The first and last day whose 1-minute bars Yahoo can serve."""
    return today - timedelta(days=WINDOW_DAYS), today


def check_window(trade_date: date, today: date) -> None:
    first, last = window(today)
    if not first <= trade_date <= last:
        raise SourceError(
            f"{PROVIDER}: {HOST} keeps 1-minute bars only about {WINDOW_DAYS} days back:"
            f" it can serve {first} to {last}, not {trade_date}; backfill older bars from"
            " the landing zone"
        )


def request_params(trade_date: date, today: date) -> dict[str, str | int]:
    """range=1d for today (the documented call), an explicit HKT day for an earlier date."""
    if trade_date == today:
        return {"interval": "1m", "range": "1d", "includePrePost": "false"}
    start = datetime.combine(trade_date, time(0), tzinfo=calendar.TZ)
    return {
        "interval": "1m",
        "period1": int(start.timestamp()),
        "period2": int((start + timedelta(days=1)).timestamp()),
        "includePrePost": "false",
    }


def _result(payload: Any, symbol: str, where: str) -> dict[str, Any]:
    chart = payload.get("chart") if isinstance(payload, dict) else None
    if not isinstance(chart, dict):
        raise SourceError(f"{PROVIDER}: {where}: the answer for {symbol} has no 'chart' object")
    if chart.get("error"):
        raise SourceError(f"{PROVIDER}: {where} refused {symbol}: {chart['error']}")
    results = chart.get("result") or []
    if not results or not isinstance(results[0], dict):
        raise SourceError(f"{PROVIDER}: {where} returned no result for {symbol}")
    return results[0]


def parse_bars(payload: Any, yahoo_symbol: str, where: str | None = None) -> pd.DataFrame:
    """The 1-minute bars of a chart answer: ts (HKT), open, high, low, close, volume (padding
    bars, null throughout, dropped). ``where`` is the request's URL, for messages."""
    where = where or describe_url(URL.format(symbol=yahoo_symbol))
    result = _result(payload, yahoo_symbol, where)
    meta = result.get("meta")
    if not isinstance(meta, dict) or not {"exchangeTimezoneName", "gmtoffset"} & meta.keys():
        raise SourceError(
            f"{PROVIDER}: {where}: field(s) meta.exchangeTimezoneName, meta.gmtoffset missing"
            " from the answer: the provider changed its format, refused; update yahoo.py"
        )
    tz, offset = meta.get("exchangeTimezoneName"), meta.get("gmtoffset")
    if tz != "Asia/Hong_Kong" or offset != HKT_OFFSET:
        raise SourceError(
            f"{PROVIDER}: {where} says {yahoo_symbol} trades in {tz} (gmtoffset {offset}), not"
            " Asia/Hong_Kong +08:00: shifted timestamps, refused"
        )
    stamps = result.get("timestamp") or []  # absent on a day without bars: no bars
    quotes = (result.get("indicators") or {}).get("quote") or [{}]
    quote = quotes[0] if isinstance(quotes[0], dict) else {}
    absent = [k for k in ("open", "high", "low", "close", "volume") if k not in quote]
    if absent and stamps:
        raise SourceError(
            f"{PROVIDER}: {where}: field(s) {', '.join(f'indicators.quote[0].{k}' for k in absent)}"
            f" missing from the answer for {yahoo_symbol}: the provider changed its format,"
            " refused; update yahoo.py"
        )
    columns = {}
    for key in ("open", "high", "low", "close", "volume"):
        values = quote.get(key) or []
        if len(values) != len(stamps):
            raise SourceError(
                f"{PROVIDER}: {where}: the answer for {yahoo_symbol} has {key!r} of length"
                f" {len(values)} for {len(stamps)} timestamps: cut or misaligned, refused"
            )
        columns[key] = number_column(values)
    try:
        ts = pd.to_datetime(pd.Series(stamps, dtype="int64"), unit="s", utc=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SourceError(
            f"{PROVIDER}: {where}: timestamps of {yahoo_symbol} are not epoch seconds ({exc})"
        ) from exc
    frame = pd.DataFrame({"ts": ts, **columns})
    frame["ts"] = frame["ts"].dt.tz_convert(calendar.TZ).astype("datetime64[ns, Asia/Hong_Kong]")
    if frame["ts"].duplicated().any():
        raise SourceError(f"{PROVIDER}: {where}: the answer for {yahoo_symbol} repeats timestamps")
    padding = frame[["open", "high", "low", "close"]].isna().all(axis=1)
    return frame[~padding].reset_index(drop=True)


def session_part(bars: pd.DataFrame, trade_date: date, snapshot: str) -> pd.DataFrame:
    """The bars raw.intraday_bars keeps in the snapshot's partition."""
    s = calendar.session(trade_date)
    ts = bars["ts"]
    if snapshot == "midday":
        keep = (ts >= s.morning_open) & (ts < s.morning_close)
    elif s.is_half_day:
        keep = ts == s.morning_close
    else:
        keep = (ts >= s.afternoon_open) & (ts <= s.afternoon_close)  # type: ignore[operator]
    return bars[keep].reset_index(drop=True)


def check_complete(
    bars: pd.DataFrame, part: pd.DataFrame, trade_date: date, symbol: str, snapshot: str
) -> None:
    on_day = bars[bars["ts"].dt.date == trade_date]
    if on_day.empty:
        newest = bars["ts"].max() if len(bars) else None
        raise SourceError(
            f"{PROVIDER}: {HOST} has no {symbol} bar on {trade_date} (newest"
            f" {newest:%Y-%m-%d %H:%M} HKT): a stale answer, refused"
            if newest is not None
            else f"{PROVIDER}: {HOST} returned no {symbol} bars for {trade_date}; refused"
        )
    s = calendar.session(trade_date)
    if snapshot == "close" and s.is_half_day:
        return  # only the auction bar belongs here, and Yahoo may not print it
    end = (
        s.morning_close if snapshot == "midday" or s.afternoon_close is None else s.afternoon_close
    )
    last_bar = part["ts"].max() if len(part) else None
    if last_bar is None or last_bar < end - MAX_GAP:
        seen = f"{last_bar:%H:%M}" if last_bar is not None else "none"
        raise SourceError(
            f"{PROVIDER}: {HOST} {symbol} bars for the {snapshot} of {trade_date} stop at"
            f" {seen}, the session runs to {end:%H:%M} HKT: incomplete, refused"
        )


def to_bars(
    part: pd.DataFrame, symbol: str, trade_date: date, snapshot: str, source: str = SOURCE
) -> pd.DataFrame:
    """The canonical raw.intraday_bars frame of one index's bars."""
    frame = pd.DataFrame(
        {
            "trade_date": trade_date,
            "snapshot": snapshot,
            "symbol": symbol,
            "ts": part["ts"],
            "open": part["open"],  # float64; object only when a value did not parse
            "high": part["high"],
            "low": part["low"],
            "close": part["close"],
            "volume": 0,  # index rows: no volume or turnover (raw.intraday_bars contract)
            "turnover": 0.0,
            "source": source,
        },
        columns=source_columns("raw.intraday_bars"),
    )
    frame["volume"] = frame["volume"].astype("int64")
    return frame


class Yahoo(ClientProvider):
    """Yahoo chart API: 1-minute index bars of the last ~week."""

    provider = PROVIDER

    def bars(self, symbol: str, trade_date: date, snapshot: str, today: date) -> pd.DataFrame:
        """One index's bars (symbol is ours: HSI, HSCEI, HSTECH) for a snapshot."""
        check_window(trade_date, today)
        yahoo_symbol = INDEX_SYMBOLS[symbol]
        url, query = URL.format(symbol=yahoo_symbol), request_params(trade_date, today)
        payload = self.client.get_json(url, params=query)
        bars = parse_bars(payload, yahoo_symbol, describe_url(url, query))
        part = session_part(bars, trade_date, snapshot)
        check_complete(bars, part, trade_date, symbol, snapshot)
        return to_bars(part, symbol, trade_date, snapshot)

    def intraday_bars(self, trade_date: date, snapshot: str, today: date) -> pd.DataFrame:
        """HSI, HSCEI and HSTECH bars of the snapshot's part of trade_date."""
        check_window(trade_date, today)
        frames = [self.bars(code, trade_date, snapshot, today) for code in INDEX_SYMBOLS]
        return pd.concat(frames, ignore_index=True)
