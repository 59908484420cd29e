"""Yahoo chart API: the request, 1-minute bars per snapshot, window and staleness."""

from __future__ import annotations

import copy
from datetime import date, datetime, time

import httpx
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import ProviderError
from hk_pipeline.sources.yahoo import Yahoo, to_symbol

from .conftest import DAY, ddl_columns, fixture_json, json_response, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

CHARTS = {
    "^HSI": fixture_json("yahoo_chart_HSI_1m.json"),
    "^HSCE": fixture_json("yahoo_chart_HSCE_1m.json"),
    "HSTECH.HK": fixture_json("yahoo_chart_HSTECH_1m.json"),
}


def yahoo(charts: dict = CHARTS):
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(charts[request.url.path.rsplit("/", 1)[1]])

    client, rec, _ = make_client("yahoo", handler)
    return Yahoo(client), rec


def test_request_for_today_is_the_documented_range_call() -> None:
    source, rec = yahoo()
    source.intraday_bars(DAY, "midday", today=DAY)
    assert [r.url.path for r in rec.requests] == [
        "/v8/finance/chart/^HSI",
        "/v8/finance/chart/^HSCE",
        "/v8/finance/chart/HSTECH.HK",
    ]
    assert rec.requests[0].url.host == "query2.finance.yahoo.com"
    assert rec.params(0) == {"interval": "1m", "range": "1d", "includePrePost": "false"}


def test_request_for_an_earlier_day_in_the_window_names_that_day() -> None:
    source, rec = yahoo()
    source.bars("HSI", DAY, "midday", today=date(2025, 11, 24))
    start = datetime.combine(DAY, time(0), tzinfo=calendar.TZ)
    assert rec.params(0) == {
        "interval": "1m",
        "period1": str(int(start.timestamp())),
        "period2": str(int(start.timestamp()) + 86400),
        "includePrePost": "false",
    }


def test_midday_bars_parse_to_the_canonical_frame() -> None:
    source, _ = yahoo()
    frame = source.intraday_bars(DAY, "midday", today=DAY)
    assert list(frame.columns) == ddl_columns("raw.intraday_bars")
    assert frame.dtypes.to_dict() == {
        "trade_date": object,
        "snapshot": object,
        "symbol": object,
        "ts": "datetime64[ns, Asia/Hong_Kong]",
        "open": "float64",
        "high": "float64",
        "low": "float64",
        "close": "float64",
        "volume": "int64",
        "turnover": "float64",
        "source": object,
    }
    hsi = frame[frame["symbol"] == "HSI"]
    assert len(hsi) == 148  # 150 minutes, two null padding bars (10:10, 10:11) dropped
    assert hsi["ts"].min() == pd.Timestamp("2025-11-21 09:30", tz="Asia/Hong_Kong")
    assert hsi["ts"].max() == pd.Timestamp("2025-11-21 11:59", tz="Asia/Hong_Kong")
    assert hsi["open"].iloc[0] == 25680.830078125  # Yahoo's float32 of 25680.83
    assert (frame["volume"] == 0).all() and (frame["turnover"] == 0.0).all()
    assert set(frame["symbol"]) == {"HSI", "HSCEI", "HSTECH"}
    assert set(frame["source"]) == {"live:yahoo"}


def test_close_bars_run_from_13_00_to_the_16_00_auction_bar() -> None:
    source, _ = yahoo()
    frame = source.bars("HSI", DAY, "close", today=DAY)
    assert frame["ts"].min() == pd.Timestamp("2025-11-21 13:00", tz="Asia/Hong_Kong")
    assert frame["ts"].max() == pd.Timestamp("2025-11-21 16:00", tz="Asia/Hong_Kong")
    assert len(frame) == 180  # 181 bars, one null padding bar dropped


def test_date_outside_the_window_is_refused_before_any_request() -> None:
    source, rec = yahoo()
    with pytest.raises(SourceError) as err:
        source.intraday_bars(DAY, "midday", today=date(2025, 12, 5))
    assert rec.requests == []
    message = str(err.value)
    assert message.startswith("yahoo:") and "query2.finance.yahoo.com" in message
    assert "2025-11-28 to 2025-12-05" in message


def test_stale_answer_of_another_day_is_refused() -> None:
    source, _ = yahoo()
    with pytest.raises(SourceError, match=r"no HSI bar on 2025-11-24 .*stale"):
        source.bars("HSI", date(2025, 11, 24), "midday", today=date(2025, 11, 24))


def test_shifted_time_zone_is_refused() -> None:
    shifted = copy.deepcopy(CHARTS)
    shifted["^HSI"]["chart"]["result"][0]["meta"]["gmtoffset"] = 0
    source, _ = yahoo(shifted)
    with pytest.raises(SourceError, match=r"shifted timestamps"):
        source.bars("HSI", DAY, "midday", today=DAY)


def test_incomplete_session_is_refused() -> None:
    cut = copy.deepcopy(CHARTS)
    result = cut["^HSI"]["chart"]["result"][0]
    keep = 60  # bars up to 10:29 only
    result["timestamp"] = result["timestamp"][:keep]
    quote = result["indicators"]["quote"][0]
    for key in quote:
        quote[key] = quote[key][:keep]
    source, _ = yahoo(cut)
    with pytest.raises(SourceError, match=r"stop at 10:29.*incomplete"):
        source.bars("HSI", DAY, "midday", today=DAY)


def test_duplicate_timestamps_are_refused() -> None:
    dup = copy.deepcopy(CHARTS)
    stamps = dup["^HSI"]["chart"]["result"][0]["timestamp"]
    stamps[1] = stamps[0]
    source, _ = yahoo(dup)
    with pytest.raises(SourceError, match=r"repeats timestamps"):
        source.bars("HSI", DAY, "midday", today=DAY)


def test_yahoo_refusal_422_is_not_retried() -> None:
    body = fixture_json("yahoo_chart_error_422.json")
    client, rec, _ = make_client("yahoo", lambda _r: json_response(body, 422))
    with pytest.raises(ProviderError, match=r"HTTP 422"):
        Yahoo(client).bars("HSI", DAY, "midday", today=DAY)
    assert len(rec.requests) == 1


def test_yahoo_codes_to_our_symbols() -> None:
    assert to_symbol("^HSI") == "HSI"
    assert to_symbol("^HSCE") == "HSCEI"
    assert to_symbol("HSTECH.HK") == "HSTECH"
    assert to_symbol("0700.HK") == "00700"
    assert to_symbol("9988.HK") == "09988"
