"""The envelopes real feeds serve: JSONP wrappers, byte-order marks, gzip (declared or not),
HTML pages with status 200, rate limits and outages with Retry-After, answers cut short.
Each is either unwrapped (the load goes on) or refused naming provider and URL."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.censtatd import Censtatd
from hk_pipeline.sources.eastmoney import Eastmoney
from hk_pipeline.sources.envelope import EnvelopeError
from hk_pipeline.sources.hkex_quotations import HkexQuotations
from hk_pipeline.sources.hkma import Hkma
from hk_pipeline.sources.hsi_constituents import HsiConstituents
from hk_pipeline.sources.http import ProviderError, RetryPolicy
from hk_pipeline.sources.yahoo import Yahoo

from .conftest import DAY, fixture_bytes, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

PAGE = fixture_bytes("eastmoney_clist_hk_page.json")
HKMA = fixture_bytes("hkma_fc_resv_assests.json")
CSD = fixture_bytes("censtatd_210-06101.json")
DAYQUOT = fixture_bytes("d251121e.htm")
LATE = datetime(2025, 11, 30, tzinfo=UTC)
HTML_BLOCK = (
    b"<!DOCTYPE html>\n<html><head><title>Access Denied</title></head>"
    b"<body>You don't have permission to access this server.</body></html>"
)


def body(content: bytes, **headers: str):
    return lambda _r: httpx.Response(200, content=content, headers=headers)


def eastmoney(handler) -> Eastmoney:
    client, _, _ = make_client("eastmoney", handler)
    return Eastmoney(client)


# --- unwrapped ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrapped",
    [
        b"jQuery112407167917187414685_1583126403582(" + PAGE.strip() + b");",
        b"cb(" + PAGE.strip() + b")\n",
    ],
    ids=["jquery-callback", "short-callback"],
)
def test_jsonp_callback_is_peeled_off(wrapped: bytes) -> None:
    frame = eastmoney(body(wrapped, **{"Content-Type": "application/javascript"})).quotes(
        DAY, "midday"
    )
    assert len(frame) == 7 and frame.set_index("symbol").loc["00700", "last"] == 613.5


def test_byte_order_mark_is_dropped() -> None:
    client, _, _ = make_client("hkma", body(b"\xef\xbb\xbf" + HKMA))
    assert len(Hkma(client).macro_series(LATE, DAY)) == 5


def test_declared_gzip_is_decoded_by_the_client() -> None:
    client, _, _ = make_client("censtatd", body(gzip.compress(CSD), **{"Content-Encoding": "gzip"}))
    assert list(Censtatd(client).macro_series(LATE, DAY)["value"]) == [3.7, 3.9, 3.8]


def test_gzip_without_its_header_is_decoded_too() -> None:
    client, _, _ = make_client("censtatd", body(gzip.compress(CSD)))
    assert list(Censtatd(client).macro_series(LATE, DAY)["value"]) == [3.7, 3.9, 3.8]


def test_gzip_text_page_without_its_header_is_decoded() -> None:
    client, _, _ = make_client("hkex_quotations", body(gzip.compress(DAYQUOT)))
    assert len(HkexQuotations(client).close_quotes(DAY, DAY)) == 9


# --- refused, naming provider and URL -----------------------------------------------------------


def test_gzip_cut_short_is_refused() -> None:
    packed = gzip.compress(CSD)
    client, _, _ = make_client("censtatd", body(packed[: len(packed) // 2]))
    with pytest.raises(EnvelopeError) as err:
        Censtatd(client).macro_series(LATE, DAY)
    message = str(err.value)
    assert message.startswith("censtatd: https://www.censtatd.gov.hk/api/get.php?id=210-06101")
    assert "gzip body that is cut short or corrupt" in message


def test_html_page_with_status_200_is_refused_with_its_title() -> None:
    client, _, _ = make_client("yahoo", body(HTML_BLOCK, **{"Content-Type": "text/html"}))
    with pytest.raises(EnvelopeError) as err:
        Yahoo(client).bars("HSI", DAY, "midday", today=DAY)
    assert str(err.value) == (
        "yahoo: https://query2.finance.yahoo.com/v8/finance/chart/^HSI?interval=1m&range=1d"
        "&includePrePost=false answered HTTP 200 with an HTML page titled 'Access Denied'"
        " instead of JSON: a block, maintenance or error page, not data; refused (open the"
        " URL in a browser to see it)"
    )


@pytest.mark.parametrize("keep", [0.3, 0.97])
def test_json_cut_short_is_refused_as_incomplete(keep: float) -> None:
    feed = fixture_bytes("hsi_constituents_hsi.json")
    client, _, _ = make_client("hsi_constituents", body(feed[: int(len(feed) * keep)]))
    with pytest.raises(EnvelopeError) as err:
        HsiConstituents(client).fetch(DAY)
    message = str(err.value)
    assert message.startswith(
        "hsi_constituents: https://www.hsi.com.hk/data/eng/rt/index-series/hsi/constituents.do"
        f" answered JSON that is cut short after {int(len(feed) * keep):,} bytes"
    )


def test_jsonp_cut_short_is_refused_as_incomplete() -> None:
    wrapped = b"jQuery1124_1583(" + PAGE[:300]
    with pytest.raises(EnvelopeError, match=r"eastmoney: https://72.push2.eastmoney.com/.*cut"):
        eastmoney(body(wrapped)).quotes(DAY, "midday")


def test_empty_body_is_refused() -> None:
    with pytest.raises(EnvelopeError, match=r"answered HTTP 200 with an empty body"):
        eastmoney(body(b"")).quotes(DAY, "midday")


def test_dayquot_cut_short_is_refused() -> None:
    cut = DAYQUOT[: DAYQUOT.index(b"TRACKER FUND")]
    client, _, _ = make_client("hkex_quotations", body(cut))
    with pytest.raises(SourceError) as err:
        HkexQuotations(client).close_quotes(DAY, DAY)
    assert str(err.value).startswith(
        "hkex_quotations: https://www.hkex.com.hk/eng/stat/smstat/dayquot/d251121e.htm is cut"
        " short: its QUOTATIONS section has no end"
    )


def test_dayquot_error_page_with_status_200_is_refused() -> None:
    client, _, _ = make_client("hkex_quotations", body(HTML_BLOCK))
    with pytest.raises(
        SourceError,
        match=r"no 'DATE: dd MON yyyy' line at the top \(an HTML"
        r" page titled 'Access Denied'\): not a daily quotations file",
    ):
        HkexQuotations(client).close_quotes(DAY, DAY)


# --- rate limits and outages --------------------------------------------------------------------


def answers(*responses: httpx.Response):
    it = iter(responses)
    return lambda _r: next(it)


def ok() -> httpx.Response:
    return httpx.Response(200, content=HKMA)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(status: int) -> None:
    limited = httpx.Response(status, headers={"Retry-After": "7"})
    client, rec, clock = make_client(
        "hkma", answers(limited, ok()), policy=RetryPolicy(max_attempts=3, jitter=0)
    )
    assert len(Hkma(client).macro_series(LATE, DAY)) == 5
    assert len(rec.requests) == 2 and clock.sleeps == [7.0]  # not the 1 s backoff


def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=6), usegmt=True)
    limited = httpx.Response(503, headers={"Retry-After": when})
    client, _, clock = make_client(
        "hkma", answers(limited, ok()), policy=RetryPolicy(max_attempts=3, jitter=0)
    )
    Hkma(client).macro_series(LATE, DAY)
    assert len(clock.sleeps) == 1 and 3.0 < clock.sleeps[0] <= 6.0


def test_retry_after_beyond_the_budget_gives_up_at_once_saying_so() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "120"}, text="Edge: Too Many Requests")
    client, rec, clock = make_client(
        "yahoo", answers(limited), policy=RetryPolicy(max_attempts=5, budget_seconds=60)
    )
    with pytest.raises(ProviderError) as err:
        Yahoo(client).bars("HSI", DAY, "midday", today=DAY)
    assert len(rec.requests) == 1 and clock.sleeps == []
    message = str(err.value)
    assert message.startswith("yahoo: gave up on query2.finance.yahoo.com after 1 attempt(s)")
    assert "last status HTTP 429 asking to wait 120s (Retry-After)" in message


def test_rate_limit_body_is_never_parsed_as_data() -> None:
    """Yahoo's real 429 body is plain text; after the budget the error is the rate limit."""
    limited = [httpx.Response(429, text="Edge: Too Many Requests") for _ in range(3)]
    client, rec, _ = make_client(
        "yahoo", answers(*limited), policy=RetryPolicy(max_attempts=3, jitter=0)
    )
    with pytest.raises(ProviderError, match=r"last outcome rate limited, last status HTTP 429"):
        Yahoo(client).bars("HSI", DAY, "midday", today=DAY)
    assert len(rec.requests) == 3


def test_envelope_refusals_are_source_errors() -> None:
    """The runner reports SourceError subclasses as a provider's failure, not a crash."""
    assert issubclass(EnvelopeError, SourceError)
    assert json.loads(PAGE)["rc"] == 0
