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
- exhausted retries raise ``ProviderError`` naming provider, host, last outcome and attempts;
- behind a proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, which httpx honours), a refused
  connection or a proxy's own refusal (407, 502 ...) names the proxy as the failing hop, never
  the provider's host: the fix is on this side (the proxy setting, its credentials).

The transport, sleep function and clock are injectable so tests run on ``httpx.MockTransport``
without sleeping.
"""

from __future__ import annotations

import ipaddress
import os
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
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
from hk_pipeline.sources.envelope import decode_json
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

    def __init__(
        self,
        outcome: str,
        status: int | None = None,
        retry_after: float | None = None,
        proxy: Proxy | None = None,
    ):
        super().__init__(outcome)
        self.outcome = outcome
        self.status = status
        self.retry_after = retry_after
        self.proxy = proxy  # set when the proxy, not the provider, is the failing hop


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # the other form RFC 9110 allows: an HTTP date
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own backoff
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class Proxy:
    """The proxy a request goes through: its URL and the variable that set it."""

    url: httpx.URL
    variable: str

    def __str__(self) -> str:
        """``http://proxy.example:3128 (from HTTPS_PROXY)``; credentials are never shown."""
        port = f":{self.url.port}" if self.url.port else ""
        who = "***@" if self.url.userinfo else ""
        return f"{self.url.scheme}://{who}{self.url.host}{port} (from {self.variable})"


def _bypassed(host: str, no_proxy: str) -> bool:
    """True if ``host`` matches NO_PROXY as httpx reads it (curl's rules): ``*``, an exact
    address, a name, or a domain suffix (``example.com`` matches it and ``www.example.com``;
    ``.example.com`` only the second)."""
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower().split("://", 1)[-1].strip("[]")
        if not entry:
            continue
        if entry == "*":
            return True
        try:
            if ipaddress.ip_address(entry) == ipaddress.ip_address(host):
                return True
            continue
        except ValueError:
            pass
        if host.endswith("." + entry.lstrip(".")) or (host == entry and entry[0] != "."):
            return True
    return False


def environment_proxy(url: str | httpx.URL) -> Proxy | None:
    """The proxy httpx takes from the environment for ``url`` (``<scheme>_proxy``, else
    ``all_proxy``, unless ``no_proxy`` matches the host), or None."""
    target = httpx.URL(str(url))
    proxies = urllib.request.getproxies_environment()
    if _bypassed(target.host, proxies.get("no", "")):
        return None
    for scheme in (target.scheme, "all"):
        value = proxies.get(scheme)
        if not value:
            continue
        name = f"{scheme}_proxy"
        variable = name if os.environ.get(name) else name.upper()
        return Proxy(httpx.URL(value if "://" in value else f"http://{value}"), variable)
    return None


def _proxy_refusal(proxy: Proxy, host: str, answer: str, status: int | None) -> str:
    """What a proxy's own refusal means and what to do, by its status."""
    if status == 407:
        return (
            f"the proxy {proxy} answered {answer}: it wants credentials (or refused those"
            f" given); put them in {proxy.variable} as http://user:password@host:port"
        )
    if status == 403:
        return (
            f"the proxy {proxy} answered {answer}: it does not allow {host}; ask its"
            " administrator to allow the host"
        )
    return (
        f"the proxy {proxy} answered {answer}: the proxy, not {host}, failed (it could not"
        f" reach {host}, or is misconfigured)"
    )


def _proxy_status(exc: httpx.ProxyError) -> int | None:
    """The status of a refused CONNECT (httpx puts ``"407 Proxy Authentication Required"``
    in the message), or None."""
    head = str(exc).split(" ", 1)[0]
    return int(head) if head.isdigit() else None


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
        # With an injected transport httpx ignores the proxy variables, and so do the messages,
        # unless the transport says it routes by them (a recording of the live network does).
        self._uses_environment_proxy = transport is None or bool(
            getattr(transport, "uses_environment_proxy", False)
        )
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
            if exc.retry_after:  # say when the provider asked for more patience than we have
                status += f" asking to wait {exc.retry_after:.0f}s (Retry-After)"
            raise ProviderError(
                f"{self.provider}: gave up on {host} after {attempts} attempt(s) in"
                f" {elapsed:.1f}s (budget {self.policy.budget_seconds:.0f}s): last outcome"
                f" {exc.outcome}{status}; "
                + (
                    f"the proxy failed, not the provider: check the proxy or {exc.proxy.variable}"
                    if exc.proxy is not None
                    else "the provider may be rate-limiting or down, try later"
                ),
                exc.status,
            ) from exc

    def get_json(self, url: str, *, params: Params | None = None) -> Any:
        """GET and decode JSON; a body without JSON is an EnvelopeError naming provider and URL."""
        # JSONP wrappers, byte-order marks, stray gzip, HTML pages and bodies cut short are
        # handled (or refused naming provider and URL) in one place: sources/envelope.py
        return decode_json(self.provider, self.get(url, params=params))

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
        proxy = environment_proxy(url) if self._uses_environment_proxy else None
        try:
            response = self._client.get(url, params=dict(params) if params else None)
        except httpx.ConnectError as exc:
            reason = unreachable_reason(exc)
            if proxy is not None and reason != "connection failed":
                # the TCP connection (and its name lookup) is the proxy's, not the host's
                raise ProviderUnreachable(
                    f"{self.provider}: cannot reach {host}: the proxy {proxy} is unreachable"
                    f" ({reason}: {exc}); start the proxy or fix {proxy.variable} (or unset it"
                    " to connect directly) - not retried"
                ) from exc
            via = f" through the proxy {proxy}" if proxy is not None else ""
            raise ProviderUnreachable(
                f"{self.provider}: cannot reach {host}{via} ({reason}: {exc});"
                " check the network, proxy or DNS of this machine - not retried"
            ) from exc
        except httpx.ProxyError as exc:  # the proxy refused the tunnel (CONNECT) to the host
            if proxy is None:  # a proxy configured some other way than the environment
                raise ProviderUnreachable(
                    f"{self.provider}: cannot reach {host}: the proxy refused ({exc}) - not retried"
                ) from exc
            status = _proxy_status(exc)
            refusal = _proxy_refusal(proxy, host, str(exc), status)
            if status is not None and status >= 500:
                raise _Retryable(f"proxy error: {refusal}", proxy=proxy) from exc
            check = "" if status in (403, 407) else f"; check the proxy or {proxy.variable}"
            raise ProviderUnreachable(
                f"{self.provider}: cannot reach {host}: {refusal}{check} - not retried"
            ) from exc
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise _Retryable(f"dropped connection ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 407 and proxy is not None:  # only a proxy answers 407 (plain http://)
            raise ProviderUnreachable(
                f"{self.provider}: cannot reach {host}:"
                f" {_proxy_refusal(proxy, host, f'HTTP {status}', status)} - not retried"
            )
        if status in (502, 504) and proxy is not None:
            # through a plain-http proxy, 502/504 are the proxy's "cannot reach the host"
            raise _Retryable(
                f"HTTP {status} through the proxy {proxy} (the proxy's answer when it cannot"
                f" reach {host})",
                status,
                proxy=proxy,
            )
        if status == 429:
            raise _Retryable("rate limited", status, _retry_after(response))
        if status >= 500:  # a 503's Retry-After is honoured like a 429's
            raise _Retryable("server error", status, _retry_after(response))
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


class ClientProvider:
    """A live provider that reads everything through one :class:`HttpClient` (the retries,
    the rate limit and the recording for replay live there, not in the provider)."""

    provider: str
    """The provider's name, as in ``source`` (``live:<provider>``) and in its errors."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client
