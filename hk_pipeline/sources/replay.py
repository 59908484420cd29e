"""Record a live day's answers once, replay them as the live source would have read them.

:func:`record` fetches what a live run fetches for one snapshot of *today* (the feeds serve
only the present, so another day is refused as the live source refuses it) and stores every
answer byte for byte as the network delivered it (still content-encoded), gzip-compressed,
with its URL and headers (secrets redacted as in logs), status and fetch time::

    <home>/replay/2025-11-21_midday/
        manifest.json      day, snapshot, recorded_at, requests and bytes per host
        answers.jsonl      one line per answer: n, method, url, key, status, headers,
                           fetched_at, body file, raw and stored bytes
        0001.body.gz ...   the raw bodies

A recording is written to ``<folder>.partial`` and renamed only when every provider answered,
so a failed recording leaves no half day behind (and an earlier recording of that snapshot
stays until a complete one replaces it).

:class:`ReplaySource` serves the same tables as :class:`~hk_pipeline.sources.live.LiveSource`
from recordings: each partition's requests are matched to the recorded answers after dropping
volatile parameters (JSONP callback names, cache-busting timestamps: ``VOLATILE``) and go
through the same HTTP client, envelope handling and adapters, so a replay loads exactly what
the live run loaded, and a changed adapter can be tested on a real day kept as a regression
test. A request with no recorded answer is an error naming the URL and the folder.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import environment_proxy
from hk_pipeline.sources.live import LiveSource
from hk_pipeline.sources.redact import MASK, SECRET_NAMES, redact_url

NAME = "replay"
REPLAY_DIR = "replay"
MANIFEST, ANSWERS = "manifest.json", "answers.jsonl"
# Query parameters that change from call to call without changing the answer asked for.
VOLATILE = frozenset({"cb", "callback", "jsoncallback", "jsonp", "_", "_t", "ts", "rnd", "random"})
# Headers never written down: they carry sessions or credentials.
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


class ReplayError(SourceError):
    """No recording, or no recorded answer for a request."""


def folder(home: Path, day: date, snapshot: str) -> Path:
    """Where the recording of one snapshot lives."""
    return Path(home) / REPLAY_DIR / f"{day.isoformat()}_{snapshot}"


def request_key(method: str, url: httpx.URL | str) -> str:
    """The request as replay matches it: method, redacted URL, volatile parameters dropped,
    the rest sorted (a bare ``?1538`` cache-buster counts as volatile too)."""
    parsed = httpx.URL(redact_url(url))
    kept = sorted(
        (name, value)
        for name, value in parsed.params.multi_items()
        if name.lower() not in VOLATILE and not (name.isdigit() and value == "")
    )
    return f"{method.upper()} {parsed.copy_with(query=None)}" + (
        "?" + "&".join(f"{n}={v}" for n, v in kept) if kept else ""
    )


def _safe_headers(headers: httpx.Headers) -> list[list[str]]:
    return [
        [name, MASK if name.lower() in SECRET_HEADERS or SECRET_NAMES.search(name) else value]
        for name, value in headers.multi_items()
    ]


class EnvironmentTransport(httpx.BaseTransport):
    """The network as a default httpx client reaches it: through the proxy the environment
    names for each URL (``HTTPS_PROXY``, ``NO_PROXY``, ...), else directly.

    A client given an explicit transport ignores the proxy variables, so the recorder, which
    must wrap one, routes by them here (and says so: the client's messages then name a failing
    proxy as they do on a live run)."""

    uses_environment_proxy = True

    def __init__(self) -> None:
        self._transports: dict[str | None, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy = environment_proxy(request.url)
        key = None if proxy is None else str(proxy.url)
        if key not in self._transports:
            self._transports[key] = httpx.HTTPTransport(
                proxy=None if proxy is None else httpx.Proxy(proxy.url)
            )
        return self._transports[key].handle_request(request)

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()


class RecordingTransport(httpx.BaseTransport):
    """Passes each request to ``inner`` and writes its raw answer into ``into``."""

    def __init__(self, inner: httpx.BaseTransport, into: Path) -> None:
        self.inner = inner
        self.uses_environment_proxy = bool(getattr(inner, "uses_environment_proxy", False))
        self.into = into
        self.count = 0
        into.mkdir(parents=True, exist_ok=True)
        self._log = (into / ANSWERS).open("a", encoding="utf-8")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        try:
            raw = b"".join(response.stream)  # as delivered: still gzip when the server sent so
        finally:
            response.close()
        self.count += 1
        body = f"{self.count:04d}.body.gz"
        stored = gzip.compress(raw, mtime=0)
        (self.into / body).write_bytes(stored)
        entry = {
            "n": self.count,
            "method": request.method,
            "url": redact_url(request.url),
            "key": request_key(request.method, request.url),
            "status": response.status_code,
            "headers": _safe_headers(response.headers),
            "fetched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "body": body,
            "raw_bytes": len(raw),
            "stored_bytes": len(stored),
        }
        self._log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._log.flush()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            request=request,
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._log.close()
        self.inner.close()


class ReplayTransport(httpx.BaseTransport):
    """Answers requests from a recording; a request it has no answer for is a ReplayError.

    Answers of one key are served in recorded order (a 429 and the retry's 200 replay as
    they happened); when they run out the last one is served again (a run fetches some lists
    twice, a recording once)."""

    def __init__(self, recording: Path) -> None:
        self.recording = recording
        self._answers: dict[str, list[dict[str, Any]]] = {}
        for entry in read_answers(recording):
            self._answers.setdefault(entry["key"], []).append(entry)
        self._served: dict[str, int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = request_key(request.method, request.url)
        answers = self._answers.get(key)
        if not answers:
            raise ReplayError(
                f"replay: {self.recording} has no recorded answer for {redact_url(request.url)}"
                " (the adapters now ask for something the recording did not fetch: record the"
                " day again, or replay with the code that recorded it)"
            )
        i = self._served.get(key, 0)
        self._served[key] = i + 1
        entry = answers[min(i, len(answers) - 1)]
        raw = gzip.decompress((self.recording / entry["body"]).read_bytes())
        return httpx.Response(
            entry["status"],
            headers=[tuple(h) for h in entry["headers"]],
            stream=httpx.ByteStream(raw),
            request=request,
        )


def read_answers(recording: Path) -> Iterator[dict[str, Any]]:
    """The recorded answers of a recording folder, in order."""
    path = recording / ANSWERS
    if not (recording / MANIFEST).exists() or not path.exists():
        raise ReplayError(
            f"replay: no complete recording in {recording} (record it with `hk-pipeline"
            " record --snapshot midday|close` on that day)"
        )
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReplayError(f"replay: {path}:{line_no}: not a JSON line ({exc})") from exc


@dataclass(frozen=True)
class Recording:
    """What a recording holds: where, how many answers and bytes, per host."""

    path: Path
    day: date
    snapshot: str
    requests: int
    raw_bytes: int
    stored_bytes: int
    by_host: dict[str, dict[str, int]]


def _summary(path: Path, day: date, snapshot: str) -> Recording:
    by_host: dict[str, dict[str, int]] = {}
    for entry in read_answers(path):
        host = httpx.URL(entry["url"]).host
        row = by_host.setdefault(host, {"requests": 0, "raw_bytes": 0, "stored_bytes": 0})
        row["requests"] += 1
        row["raw_bytes"] += entry["raw_bytes"]
        row["stored_bytes"] += entry["stored_bytes"]
    return Recording(
        path=path,
        day=day,
        snapshot=snapshot,
        requests=sum(r["requests"] for r in by_host.values()),
        raw_bytes=sum(r["raw_bytes"] for r in by_host.values()),
        stored_bytes=sum(r["stored_bytes"] for r in by_host.values()),
        by_host=by_host,
    )


def record(
    home: Path,
    snapshot: str,
    *,
    day: date | None = None,
    today: date | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    source_options: dict[str, Any] | None = None,
) -> Recording:
    """Fetch what a live run fetches for ``snapshot`` of today and keep every answer.

    ``day`` defaults to today (HKT) and must be today: the feeds serve only the present.
    ``transport`` (default: the network), ``sleep`` and ``source_options`` (passed to
    LiveSource) are for tests. Raises the provider's error when one fails; nothing is kept
    then.
    """

    today = today or datetime.now(calendar.TZ).date()
    day = day or today
    if day != today:
        raise SourceError(
            f"{NAME}: the feeds serve only the present (today, {today}): {day} cannot be"
            " recorded; record a day on the day itself, and keep the recording"
        )
    if not calendar.is_trading_day(day):
        raise SourceError(f"{NAME}: {day} is not an HKEX trading day: nothing to record")
    calendar.snapshot_time(day, snapshot)  # an unknown snapshot is refused before any request
    target = folder(home, day, snapshot)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    recorder = RecordingTransport(transport or EnvironmentTransport(), partial)
    options = dict(source_options or {})
    if sleep is not None:
        options["sleep"] = sleep
    live = LiveSource(today=today, transport=recorder, **options)
    try:
        _fetch_like_a_run(live, day, snapshot)
    except BaseException:
        recorder.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    recorder.close()
    manifest = {
        "day": day.isoformat(),
        "snapshot": snapshot,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "answers": recorder.count,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return _summary(target, day, snapshot)


def _fetch_like_a_run(source: Any, day: date, snapshot: str) -> None:
    """Every request a live run of the snapshot makes (ref, raw and contributions assets)."""
    source.securities(day)
    source.index_contributions_and_members(day)
    source.quotes(day, snapshot)
    source.index_levels(day, snapshot)
    source.intraday_bars(day, snapshot)
    source.macro_series(calendar.snapshot_time(day, snapshot))


class ReplaySource:
    """MarketSource over recordings: each partition is read from its own recording through
    a LiveSource whose "today" is the recorded day and whose network is the recording."""

    name = NAME
    knows_valid_to = False  # as the live source: lists of one day, closed by the ref assets

    def __init__(self, home: Path, **live_options: Any) -> None:
        """``live_options`` go to each LiveSource (tests: ``enrichment``, ``pmi_path``)."""
        self.home = Path(home)
        self.live_options = live_options
        self._sources: dict[Path, Any] = {}

    def _live(self, day: date, snapshot: str | None) -> Any:

        path = self._recording(day, snapshot)
        if path not in self._sources:
            self._sources[path] = LiveSource(
                today=day,
                transport=ReplayTransport(path),
                sleep=lambda _s: None,
                min_interval=0,
                **self.live_options,
            )
        return self._sources[path]

    def _recording(self, day: date, snapshot: str | None) -> Path:
        if snapshot is not None:
            return folder(self.home, day, snapshot)
        # tables without a snapshot (the master, the members) are the same in both recordings
        # of a day: either serves; none is an error naming what was looked for
        found = [
            folder(self.home, day, s)
            for s in calendar.SNAPSHOTS
            if (folder(self.home, day, s) / MANIFEST).exists()
        ]
        if not found:
            raise ReplayError(
                f"replay: no recording of {day} under {self.home / REPLAY_DIR} (record it with"
                " `hk-pipeline record --snapshot midday|close` on that day)"
            )
        return found[0]

    def securities(self, trade_date: date) -> pd.DataFrame:
        return self._live(trade_date, None).securities(trade_date)

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        return self._live(trade_date, None).index_constituents(trade_date)

    def index_contributions(self, trade_date: date) -> pd.DataFrame:
        return self._live(trade_date, None).index_contributions(trade_date)

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        return self._live(trade_date, snapshot).quotes(trade_date, snapshot)

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        return self._live(trade_date, snapshot).index_levels(trade_date, snapshot)

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        return self._live(trade_date, snapshot).intraday_bars(trade_date, snapshot)

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        day = as_of.astimezone(calendar.TZ).date()
        snapshot = next(
            (s for s in calendar.SNAPSHOTS if calendar.snapshot_time(day, s) == as_of), None
        )
        if snapshot is None:
            raise ReplayError(
                f"replay: macro series as of {as_of} is not a snapshot time of {day}: a"
                " recording holds the answers of a snapshot, not of any instant"
            )
        return self._live(day, snapshot).macro_series(as_of)
