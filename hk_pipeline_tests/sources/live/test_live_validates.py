"""Integration: what LiveSource returns after a fault passes the warehouse's own validation."""

from __future__ import annotations

import httpx

from hk_pipeline.defs.raw import fetch_contributions
from hk_pipeline.schemas.validate import validate_frame
from hk_pipeline_tests.sources.live.conftest import DAY
from hk_pipeline_tests.sources.live.test_live import live, route


def test_429_then_success_gives_quotes_that_validate() -> None:
    throttled: set[str] = set()

    def flaky(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("pn", "")
        if request.url.host == "72.push2.eastmoney.com" and page not in throttled:
            throttled.add(page)  # the first request of every page is rate limited
            return httpx.Response(429, headers={"Retry-After": "1"})
        return route(request)

    source, rec = live(flaky)
    frame = source.quotes(DAY, "midday")
    assert any(r.url.host == "72.push2.eastmoney.com" for r in rec.requests)
    assert len(rec.requests) == 2 * len(throttled)  # one retry per throttled request
    outcome = validate_frame("raw.quotes", frame)
    assert outcome.n_rejected == 0, outcome.rejected.to_dict("records")
    assert outcome.frame.height == len(frame) > 0
    assert set(outcome.frame["source"].to_list()) == {"live:eastmoney"}


def test_feed_contributions_validate_for_raw_index_contributions() -> None:
    source, _ = live()
    frame = fetch_contributions(source, DAY, "midday")
    outcome = validate_frame("raw.index_contributions", frame)
    assert outcome.n_rejected == 0, outcome.rejected.to_dict("records")
    assert set(outcome.frame["index_code"].to_list()) == {"HSI", "HSCEI", "HSTECH"}
    members = source.index_constituents(DAY)
    assert validate_frame("ref.index_constituents", members).n_rejected == 0


def test_sources_without_contributions_write_an_empty_partition() -> None:
    from hk_pipeline_tests.defs.fake_source import FakeSource

    frame = fetch_contributions(FakeSource(), DAY, "close")
    outcome = validate_frame("raw.index_contributions", frame)
    assert outcome.frame.height == 0 and outcome.n_rejected == 0
