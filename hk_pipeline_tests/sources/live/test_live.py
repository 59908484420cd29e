"""LiveSource: the composition, the windows it refuses, and each provider's network faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.sources.base import MarketSource, SourceError
from hk_pipeline.sources.hkex_securities import Enrichment
from hk_pipeline.sources.http import ProviderError, ProviderUnreachable, RetryPolicy
from hk_pipeline.sources.live import LiveSource
from hk_pipeline_tests.sources.live.conftest import (
    DAY,
    Recorder,
    build_list_of_securities,
    ddl_columns,
    fixture_bytes,
    fixture_json,
    json_response,
)

XLSX = build_list_of_securities()
PAGES = {
    "1": fixture_json("eastmoney_clist_shares_p1.json"),
    "2": fixture_json("eastmoney_clist_shares_p2.json"),
}
INDEX = fixture_json("eastmoney_clist_index.json")
CHARTS = {
    "^HSI": fixture_json("yahoo_chart_HSI_1m.json"),
    "^HSCE": fixture_json("yahoo_chart_HSCE_1m.json"),
    "HSTECH.HK": fixture_json("yahoo_chart_HSTECH_1m.json"),
}
FEEDS = {s: fixture_json(f"hsi_constituents_{s}.json") for s in ("hsi", "hscei", "hstech")}
MONDAY = date(2025, 11, 24)
ENRICH = Enrichment(industry={"00700": "Information Technology"}, issued_shares={"00700": 9})


def route(request: httpx.Request) -> httpx.Response:
    """Every provider's recorded-shape answer, by host and path."""
    host, path, params = request.url.host, request.url.path, request.url.params
    if host == "72.push2.eastmoney.com":
        if params["fs"] == "m:124,m:125,m:305":
            return json_response(INDEX)
        return json_response(PAGES[params["pn"]])
    if host == "query2.finance.yahoo.com":
        return json_response(CHARTS[path.rsplit("/", 1)[1]])
    if host == "www.hkex.com.hk":
        if path.endswith("ListOfSecurities.xlsx"):
            return httpx.Response(200, content=XLSX)
        return httpx.Response(200, content=fixture_bytes("d251121e.htm"))
    if host == "www.hsi.com.hk":
        return json_response(FEEDS[path.split("/")[-2]])
    if host == "api.hkma.gov.hk":
        return json_response(fixture_json("hkma_fc_resv_assests.json"))
    if host == "www.censtatd.gov.hk":
        return json_response(fixture_json("censtatd_210-06101.json"))
    raise AssertionError(f"unexpected request {request.url}")


def failing_at(
    host: str, error: Callable[[httpx.Request], Exception]
) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that answers from the fixtures except for ``host``, where it raises ``error``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == host:
            raise error(request)
        return route(request)

    return handler


def live(handler: Callable[[httpx.Request], httpx.Response] = route, today: date = DAY):
    rec = Recorder(handler)
    source = LiveSource(
        today=today,
        transport=rec.transport,
        sleep=lambda _s: None,
        policy=RetryPolicy(max_attempts=3, budget_seconds=30),
        enrichment=ENRICH,
    )
    return source, rec


def test_is_a_market_source_named_live() -> None:
    source, _ = live()
    typed: MarketSource = source
    assert typed.name == "live"


@pytest.mark.parametrize(
    ("table", "call", "provider"),
    [
        ("ref.securities", lambda s: s.securities(DAY), "hkex_securities"),
        ("ref.index_constituents", lambda s: s.index_constituents(DAY), "hsi_constituents"),
        ("raw.quotes", lambda s: s.quotes(DAY, "midday"), "eastmoney"),
        ("raw.index_levels", lambda s: s.index_levels(DAY, "midday"), "eastmoney"),
        ("raw.intraday_bars", lambda s: s.intraday_bars(DAY, "close"), "yahoo"),
    ],
)
def test_each_table_in_its_canonical_shape(table: str, call: Callable, provider: str) -> None:
    source, _ = live()
    frame = call(source)
    assert list(frame.columns) == ddl_columns(table)
    assert len(frame) > 0
    assert set(frame["source"]) == {f"live:{provider}"}


def test_macro_series_combines_the_three_providers() -> None:
    source, _ = live()
    frame = source.macro_series(datetime(2025, 11, 21, 12, tzinfo=calendar.TZ))
    assert list(frame.columns) == ddl_columns("raw.macro_series")
    assert set(frame["series_id"]) == {"fx_reserves", "unemployment_rate_sa", "pmi"}
    assert set(frame["source"]) == {"live:hkma", "live:censtatd", "live:pmi"}
    latest = frame.sort_values("period").groupby("series_id").last()["value"].to_dict()
    assert latest == {"fx_reserves": 431000.0, "unemployment_rate_sa": 3.8, "pmi": 51.2}


def test_contributions_are_the_feeds_own() -> None:
    source, _ = live()
    contributions = source.index_contributions(DAY)
    assert {"index_code", "symbol", "contribution_points"} <= set(contributions.columns)
    members = source.index_constituents(DAY)
    assert members["faf"].isna().all()  # no weights: attribution uses the contributions


def test_past_close_comes_from_the_official_daily_quotations() -> None:
    source, rec = live(today=MONDAY)
    frame = source.quotes(DAY, "close")
    assert rec.requests[-1].url.path == "/eng/stat/smstat/dayquot/d251121e.htm"
    assert set(frame["source"]) == {"live:hkex_quotations"}


@pytest.mark.parametrize(
    ("call", "provider", "expect"),
    [
        (lambda s: s.securities(DAY), "hkex_securities", "www.hkex.com.hk serves only the present"),
        (
            lambda s: s.index_constituents(DAY),
            "hsi_constituents",
            "www.hsi.com.hk serves only the present",
        ),
        (
            lambda s: s.quotes(DAY, "midday"),
            "eastmoney",
            "72.push2.eastmoney.com serves only the present",
        ),
        (
            lambda s: s.index_levels(DAY, "close"),
            "eastmoney",
            "72.push2.eastmoney.com serves only the present",
        ),
        (
            lambda s: s.intraday_bars(date(2025, 11, 14), "midday"),
            "yahoo",
            "can serve 2025-11-17 to 2025-11-24",
        ),
        (
            lambda s: s.quotes(date(2024, 11, 1), "close"),
            "hkex_quotations",
            "can serve 2024-11-24 to 2025-11-24",
        ),
    ],
)
def test_backfill_outside_the_window_is_refused_naming_provider_and_window(
    call: Callable, provider: str, expect: str
) -> None:
    source, rec = live(today=MONDAY)
    with pytest.raises(SourceError) as err:
        call(source)
    assert str(err.value).startswith(f"{provider}:")
    assert expect in str(err.value)
    assert "2025-11-24" in str(err.value)
    assert rec.requests == []  # refused before any request


# Each provider through LiveSource: (name, host, call, today).
PROVIDERS: list[tuple[str, str, Callable[[LiveSource], Any], date]] = [
    ("hkex_securities", "www.hkex.com.hk", lambda s: s.securities(DAY), DAY),
    ("eastmoney", "72.push2.eastmoney.com", lambda s: s.quotes(DAY, "midday"), DAY),
    ("yahoo", "query2.finance.yahoo.com", lambda s: s.intraday_bars(DAY, "midday"), DAY),
    ("hkex_quotations", "www.hkex.com.hk", lambda s: s.quotes(DAY, "close"), MONDAY),
    ("hsi_constituents", "www.hsi.com.hk", lambda s: s.index_constituents(DAY), DAY),
    (
        "hkma",
        "api.hkma.gov.hk",
        lambda s: s.macro_series(datetime(2025, 11, 21, 12, tzinfo=calendar.TZ)),
        DAY,
    ),
    (
        "censtatd",
        "www.censtatd.gov.hk",
        lambda s: s.macro_series(datetime(2025, 11, 21, 12, tzinfo=calendar.TZ)),
        DAY,
    ),
]
IDS = [p[0] for p in PROVIDERS]


@pytest.mark.parametrize(("provider", "host", "call", "today"), PROVIDERS, ids=IDS)
def test_429_then_success_retries_once(
    provider: str, host: str, call: Callable, today: date
) -> None:
    limited: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == host and host not in limited:
            limited.add(host)
            return httpx.Response(429, headers={"Retry-After": "1"})
        return route(request)

    source, rec = live(handler, today)
    result = call(source)
    assert isinstance(result, pd.DataFrame) and len(result) > 0
    hits = [r for r in rec.requests if r.url.host == host]
    assert hits[0].url == hits[1].url  # the rate-limited request, sent again once


@pytest.mark.parametrize(("provider", "host", "call", "today"), PROVIDERS, ids=IDS)
def test_timeout_exhausted_is_a_clear_error(
    provider: str, host: str, call: Callable, today: date
) -> None:
    timeout = failing_at(host, lambda r: httpx.ReadTimeout("timed out", request=r))
    source, rec = live(timeout, today)
    with pytest.raises(ProviderError) as err:
        call(source)
    message = str(err.value)
    assert message.startswith(f"{provider}:") and host in message and "3 attempt" in message
    assert len([r for r in rec.requests if r.url.host == host]) == 3


@pytest.mark.parametrize(("provider", "host", "call", "today"), PROVIDERS, ids=IDS)
def test_dns_failure_fails_fast_naming_the_host(
    provider: str, host: str, call: Callable, today: date
) -> None:
    no_dns = failing_at(
        host, lambda r: httpx.ConnectError("[Errno -2] Name or service not known", request=r)
    )
    source, rec = live(no_dns, today)
    with pytest.raises(ProviderUnreachable) as err:
        call(source)
    message = str(err.value)
    assert message.startswith(f"{provider}:") and host in message
    assert "name does not resolve" in message
    assert len([r for r in rec.requests if r.url.host == host]) == 1  # no retry
