"""The one HTTP layer every live provider goes through.

What it guarantees, so provider modules don't each re-decide it:

- timeouts on every request and a User-Agent naming hk_pipeline;
- a polite minimum interval between two requests to the same host;
- retries with exponential backoff and jitter (tenacity) on HTTP 429, HTTP 5xx, timeouts and
  dropped connections, within both an attempt cap and a total time budget; a 429's
  ``Retry-After`` is honoured when it fits the budget;
- no retry when the host cannot be reached at all (the name does not resolve, the connection
  is refused): that raises ``ProviderUnreachable`` at once, so an offline machine fails in
  milliseconds instead of burning the budget;
- exhausted retries raise ``ProviderError`` naming provider, host, last outcome and attempts.

The transport, sleep function and clock are injectable so tests run on ``httpx.MockTransport``
without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.redact import redact_url

USER_AGENT = "hk_pipeline/0.1 (Hong Kong market warehouse; batch client, polite rate)"
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
DEFAULT_MIN_INTERVAL = 1.0  # seconds between two requests to one host

Params = Mapping[str, str | int | float]

# Phrases the OS resolver and socket layer put in connection errors (Linux, macOS, Windows).
_DNS_HINTS = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "getaddrinfo failed",
    "no address associated",
    "name resolution",
)
_REFUSED_HINTS = ("connection refused", "errno 111", "errno 61", "actively refused")


class ProviderUnreachable(SourceError):
    """The provider's host could not be reached at all (DNS or refused); not retried."""


class ProviderError(SourceError):
    """The provider answered badly or not in time, after the retries the budget allowed.

    ``status`` is the last HTTP status seen (None when there was no answer at all).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempt cap, total budget (seconds) and the backoff shape."""

    max_attempts: int = 5
    budget_seconds: float = 60.0
    initial_wait: float = 1.0
    max_wait: float = 20.0
    jitter: float = 1.0


class _Retryable(Exception):
    """One failed attempt worth retrying; carries what happened for the final message."""

    def __init__(self, outcome: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(outcome)
        self.outcome = outcome
        self.status = status
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def unreachable_reason(exc: httpx.ConnectError) -> str:
    """'name does not resolve', 'connection refused' or 'connection failed', from the error."""
    text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}".lower()
    if any(h in text for h in _DNS_HINTS):
        return "name does not resolve"
    if any(h in text for h in _REFUSED_HINTS):
        return "connection refused"
    return "connection failed"


class HttpClient:
    """A polite, retrying GET client for one provider (the provider names every error)."""

    def __init__(
        self,
        provider: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        policy: RetryPolicy | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.provider = provider
        self.policy = policy or RetryPolicy()
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}
        self._client = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": user_agent},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- public -------------------------------------------------------------------------

    def get(self, url: str, *, params: Params | None = None) -> httpx.Response:
        """GET with the retry policy; a 2xx response, or ProviderError/ProviderUnreachable."""
        host = httpx.URL(url).host
        started = self._clock()
        attempts = 0

        def once() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return self._send(url, host, params)

        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts) | self._budget_spent(started),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except _Retryable as exc:
            elapsed = self._clock() - started
            status = f", last status HTTP {exc.status}" if exc.status else ""
            raise ProviderError(
                f"{self.provider}: gave up on {host} after {attempts} attempt(s) in"
                f" {elapsed:.1f}s (budget {self.policy.budget_seconds:.0f}s): last outcome"
                f" {exc.outcome}{status}; the provider may be rate-limiting or down, try later",
                exc.status,
            ) from exc

    def get_json(self, url: str, *, params: Params | None = None) -> Any:
        """GET and decode JSON; a body that is not JSON is a ProviderError naming the host."""
        response = self.get(url, params=params)
        try:
            return response.json()
        except ValueError as exc:
            snippet = response.text[:120].replace("\n", " ")
            raise ProviderError(
                f"{self.provider}: {response.url.host} answered HTTP {response.status_code}"
                f" with a body that is not JSON (starts {snippet!r})"
            ) from exc

    # -- internals ----------------------------------------------------------------------

    def _polite_pause(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is not None:
            gap = self.min_interval - (self._clock() - last)
            if gap > 0:
                self._sleep(gap)
        self._last_request[host] = self._clock()

    def _send(self, url: str, host: str, params: Params | None) -> httpx.Response:
        self._polite_pause(host)
        try:
            response = self._client.get(url, params=dict(params) if params else None)
        except httpx.ConnectError as exc:
            raise ProviderUnreachable(
                f"{self.provider}: cannot reach {host} ({unreachable_reason(exc)}: {exc});"
                " check the network, proxy or DNS of this machine - not retried"
            ) from exc
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise _Retryable(f"dropped connection ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 429:
            raise _Retryable("rate limited", status, _retry_after(response))
        if status >= 500:
            raise _Retryable("server error", status)
        if status >= 400:
            raise ProviderError(
                f"{self.provider}: {host} answered HTTP {status} for"
                f" {redact_url(response.url)}; not retried (the request itself is refused:"
                " wrong URL, parameters or date?)",
                status,
            )
        return response

    def _wait(self, state: RetryCallState) -> float:
        p = self.policy
        backoff = wait_exponential_jitter(p.initial_wait, p.max_wait, jitter=p.jitter)(state)
        exc = state.outcome.exception() if state.outcome else None
        hinted = exc.retry_after if isinstance(exc, _Retryable) and exc.retry_after else 0.0
        return max(backoff, hinted)

    def _budget_spent(self, started: float) -> Callable[[RetryCallState], bool]:
        """Stop when the next wait would end past the total budget."""

        def stop(state: RetryCallState) -> bool:
            ahead = state.upcoming_sleep or 0.0
            return self._clock() - started + ahead > self.policy.budget_seconds

        return stop
