"""The shared HTTP layer: politeness, retries within a budget, fail-fast when unreachable."""

from __future__ import annotations

import httpx
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import (
    USER_AGENT,
    HttpClient,
    ProviderError,
    ProviderUnreachable,
    RetryPolicy,
)
from hk_pipeline_tests.sources.live.conftest import FakeClock, NetworkInTest, make_client

URL = "https://api.example.test/data"


def ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def test_sends_user_agent_and_timeouts() -> None:
    client, rec, _ = make_client("prov", ok)
    assert client.get_json(URL, params={"a": 1}) == {"ok": True}
    request = rec.requests[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert "hk_pipeline" in USER_AGENT
    assert rec.params() == {"a": "1"}
    timeout = request.extensions["timeout"]
    assert timeout["connect"] == 5.0 and timeout["read"] == 20.0


def test_polite_interval_per_host() -> None:
    client, rec, clock = make_client("prov", ok)
    client.get(URL)
    client.get(URL)
    client.get("https://other.example.test/x")  # another host: no wait
    assert len(rec.requests) == 3
    assert clock.sleeps == [pytest.approx(1.0)]


def test_429_then_success_retries_once_honouring_retry_after() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)])
    client, rec, clock = make_client("prov", lambda _r: next(answers))
    assert client.get(URL).status_code == 200
    assert len(rec.requests) == 2
    assert len(clock.sleeps) == 1 and clock.sleeps[0] >= 3.0


def test_5xx_is_retried_with_growing_backoff_then_gives_up() -> None:
    client, rec, clock = make_client(
        "prov", lambda _r: httpx.Response(503), policy=RetryPolicy(max_attempts=4, jitter=0)
    )
    with pytest.raises(ProviderError) as err:
        client.get(URL)
    assert len(rec.requests) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert err.value.status == 503
    message = str(err.value)
    assert "prov" in message and "api.example.test" in message
    assert "4 attempt" in message and "HTTP 503" in message


def test_timeout_exhausted_names_provider_host_and_attempts() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client, rec, _ = make_client("eastmoney", timeout, policy=RetryPolicy(max_attempts=3))
    with pytest.raises(ProviderError) as err:
        client.get("https://72.push2.eastmoney.com/api/qt/clist/get")
    assert len(rec.requests) == 3
    message = str(err.value)
    assert message.startswith("eastmoney:")
    assert "72.push2.eastmoney.com" in message and "3 attempt" in message
    assert "timeout" in message
    assert isinstance(err.value, SourceError)


def test_total_budget_stops_before_the_attempt_cap() -> None:
    clock = FakeClock()
    client, rec, _ = make_client(
        "prov",
        lambda _r: httpx.Response(500),
        policy=RetryPolicy(max_attempts=10, budget_seconds=5, jitter=0),
        clock=clock,
    )
    with pytest.raises(ProviderError, match=r"budget 5s"):
        client.get(URL)
    # waits 1 and 2 fit in 5 s; the next (4) would end past the budget
    assert len(rec.requests) == 3
    assert sum(clock.sleeps) <= 5


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("[Errno -2] Name or service not known", "name does not resolve"),
        ("[Errno -3] Temporary failure in name resolution", "name does not resolve"),
        ("[Errno 111] Connection refused", "connection refused"),
    ],
)
def test_unreachable_host_fails_fast_without_retry(error: str, reason: str) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(error, request=request)

    client, rec, clock = make_client("hkma", down)
    with pytest.raises(ProviderUnreachable) as err:
        client.get("https://api.hkma.gov.hk/public/x")
    assert len(rec.requests) == 1
    assert clock.sleeps == []
    message = str(err.value)
    assert "hkma" in message and "api.hkma.gov.hk" in message and reason in message


def test_client_error_is_not_retried() -> None:
    client, rec, _ = make_client("prov", lambda _r: httpx.Response(404))
    with pytest.raises(ProviderError) as err:
        client.get(URL)
    assert len(rec.requests) == 1
    assert err.value.status == 404 and "HTTP 404" in str(err.value)


def test_body_that_is_not_json_is_refused_naming_provider_and_url() -> None:
    client, _, _ = make_client("prov", lambda _r: httpx.Response(200, text="busy, come back"))
    with pytest.raises(
        SourceError,
        match=r"^prov: https://api.example.test/data answered HTTP"
        r" 200 with a body that is not JSON \(starts 'busy, come back'\)",
    ):
        client.get_json(URL)


def test_the_guard_blocks_real_network() -> None:
    client = HttpClient("prov", sleep=lambda _s: None)
    with pytest.raises(NetworkInTest):
        client.get(URL)
