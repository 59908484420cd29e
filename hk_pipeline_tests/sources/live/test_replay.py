"""Record a day once, replay it offline as the live source would have read it."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.sources import replay
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import RetryPolicy
from hk_pipeline.sources.live import LiveSource
from hk_pipeline_tests.sources.live.conftest import DAY, Recorder
from hk_pipeline_tests.sources.live.test_live import ENRICH, route

OPTIONS = {"enrichment": ENRICH, "policy": RetryPolicy(max_attempts=3, budget_seconds=30)}


def served(request: httpx.Request) -> httpx.Response:
    """The fixtures, with what real servers add: gzip on one feed, a session cookie on all."""
    response = route(request)
    headers = {"Set-Cookie": "session=abc123; Path=/", "Content-Type": "application/json"}
    if request.url.host == "api.hkma.gov.hk":
        headers["Content-Encoding"] = "gzip"
        return httpx.Response(200, content=gzip.compress(response.content), headers=headers)
    return httpx.Response(response.status_code, content=response.content, headers=headers)


def record(home: Path, handler=served, snapshot: str = "midday") -> replay.Recording:
    return replay.record(
        home,
        snapshot,
        today=DAY,
        transport=Recorder(handler).transport,
        sleep=lambda _s: None,
        source_options=OPTIONS,
    )


def test_replay_loads_the_recorded_day_exactly_as_the_live_source(tmp_path: Path) -> None:
    rec = record(tmp_path)
    live = LiveSource(
        today=DAY, transport=Recorder(served).transport, sleep=lambda _s: None, **OPTIONS
    )
    again = replay.ReplaySource(tmp_path, enrichment=ENRICH)
    as_of = calendar.snapshot_time(DAY, "midday")
    pairs = [
        (live.securities(DAY), again.securities(DAY)),
        (live.index_constituents(DAY), again.index_constituents(DAY)),
        (live.index_contributions(DAY), again.index_contributions(DAY)),
        (live.quotes(DAY, "midday"), again.quotes(DAY, "midday")),
        (live.index_levels(DAY, "midday"), again.index_levels(DAY, "midday")),
        (live.intraday_bars(DAY, "midday"), again.intraday_bars(DAY, "midday")),
        (live.macro_series(as_of), again.macro_series(as_of)),
    ]
    for expected, got in pairs:
        pd.testing.assert_frame_equal(got, expected)
    assert len(pairs[3][1]) == 103  # the whole market, paged, as recorded
    # every request of a snapshot: master 1, members 3, quotes 2 pages, index 1, bars 3,
    # HKMA 1, C&SD 1
    assert rec.requests == 12
    assert {h: r["requests"] for h, r in rec.by_host.items()} == {
        "www.hkex.com.hk": 1,
        "www.hsi.com.hk": 3,
        "72.push2.eastmoney.com": 3,
        "query2.finance.yahoo.com": 3,
        "api.hkma.gov.hk": 1,
        "www.censtatd.gov.hk": 1,
    }
    assert rec.stored_bytes < rec.raw_bytes


def test_answers_are_kept_byte_for_byte_with_secrets_redacted(tmp_path: Path) -> None:
    rec = record(tmp_path)
    entries = [json.loads(line) for line in (rec.path / replay.ANSWERS).open()]
    hkma = next(e for e in entries if "api.hkma.gov.hk" in e["url"])
    raw = gzip.decompress((rec.path / hkma["body"]).read_bytes())
    assert raw.startswith(b"\x1f\x8b")  # still the server's gzip: as delivered
    assert json.loads(gzip.decompress(raw))["header"]["success"] is True
    headers = dict(map(tuple, hkma["headers"]))
    assert headers["set-cookie"] == "***" and headers["content-encoding"] == "gzip"
    assert hkma["status"] == 200 and hkma["fetched_at"].endswith("+00:00")
    manifest = json.loads((rec.path / replay.MANIFEST).read_text())
    assert manifest == {**manifest, "day": "2025-11-21", "snapshot": "midday", "answers": 12}


def test_volatile_parameters_are_dropped_and_secrets_masked_when_matching() -> None:
    plain = "https://72.push2.eastmoney.com/api/qt/clist/get?pn=1&pz=100&fs=m:128"
    busted = plain + "&cb=jQuery1124_1583&_=1763697540123"
    assert replay.request_key("GET", busted) == replay.request_key("GET", plain)
    assert replay.request_key("get", "https://www.hsi.com.hk/x.do?1538") == replay.request_key(
        "GET", "https://www.hsi.com.hk/x.do"
    )
    keyed = replay.request_key("GET", "https://api.example.test/d?token=s3cret&a=1")
    assert "s3cret" not in keyed and "a=1" in keyed
    assert replay.request_key("GET", plain.replace("pn=1", "pn=2")) != replay.request_key(
        "GET", plain
    )


def test_a_past_day_is_refused_before_any_request(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return served(request)

    with pytest.raises(SourceError, match=r"the feeds serve only the present \(today, 2025-11-21"):
        replay.record(
            tmp_path,
            "midday",
            day=date(2025, 11, 20),
            today=DAY,
            transport=Recorder(handler).transport,
        )
    assert calls == [] and not (tmp_path / replay.REPLAY_DIR).exists()


def test_a_failed_recording_leaves_the_earlier_one(tmp_path: Path) -> None:
    first = record(tmp_path)
    before = sorted(p.name for p in first.path.iterdir())

    def yahoo_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "query2.finance.yahoo.com":
            return httpx.Response(503)
        return served(request)

    with pytest.raises(SourceError, match=r"yahoo: gave up on query2.finance.yahoo.com"):
        record(tmp_path, yahoo_down)
    assert sorted(p.name for p in first.path.iterdir()) == before
    assert [p.name for p in (tmp_path / replay.REPLAY_DIR).iterdir()] == ["2025-11-21_midday"]


def test_a_request_the_recording_lacks_names_url_and_folder(tmp_path: Path) -> None:
    record(tmp_path)
    with pytest.raises(replay.ReplayError) as err:
        replay.ReplaySource(tmp_path).quotes(DAY, "close")  # only midday was recorded
    assert "no complete recording in" in str(err.value)
    assert str(replay.folder(tmp_path, DAY, "close")) in str(err.value)
    transport = replay.ReplayTransport(replay.folder(tmp_path, DAY, "midday"))
    with pytest.raises(replay.ReplayError, match=r"no recorded answer for https://example.test/"):
        transport.handle_request(httpx.Request("GET", "https://example.test/nothing"))


def test_a_recorded_rate_limit_replays_as_it_happened(tmp_path: Path) -> None:
    throttled: set[str] = set()

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.host == "www.censtatd.gov.hk" and "csd" not in throttled:
            throttled.add("csd")
            return httpx.Response(429, headers={"Retry-After": "1"})
        return served(request)

    rec = record(tmp_path, flaky)
    assert rec.by_host["www.censtatd.gov.hk"]["requests"] == 2  # the 429, then the answer
    frame = replay.ReplaySource(tmp_path).macro_series(calendar.snapshot_time(DAY, "midday"))
    assert set(frame["series_id"]) == {"fx_reserves", "unemployment_rate_sa", "pmi"}


# --- the command line: `hk-pipeline record` and `--source replay` -------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.delenv("HK_PIPELINE_SOURCE", raising=False)
    monkeypatch.delenv("HK_PIPELINE_DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.setenv("HK_PIPELINE_LIVE_TODAY", DAY.isoformat())
    return tmp_path


def test_a_past_day_is_refused_by_the_record_command(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hk_pipeline import cli

    monkeypatch.setenv("HK_PIPELINE_LIVE_TODAY", "2025-11-22")  # a Saturday: nothing to record
    code = cli.main(["record", "--snapshot", "close"])
    err = capsys.readouterr().err
    assert code == 1 and "2025-11-22 is not an HKEX trading day" in err, err


def test_replay_is_a_source_the_command_line_knows(cli_home: Path) -> None:
    from hk_pipeline.config import load_settings
    from hk_pipeline.sources.registry import get_source

    source = get_source("replay", load_settings())
    assert isinstance(source, replay.ReplaySource) and source.home == cli_home
    with pytest.raises(replay.ReplayError, match="no recording of 2025-11-21"):
        source.securities(DAY)
