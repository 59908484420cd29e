"""The real captured answers kept beside the repository, fed to the adapters as they are.

The one place the repository reads outside itself: the reference captures of the provider
answers (Eastmoney, Yahoo, HKEX daily-quotation lines), with their provenance in that folder's
own SOURCES.md. None of them is copied into the repository; where the folder is absent the
tests skip, saying which folder they looked for. Each test feeds the bytes through the same
HTTP client and envelope handling a live run uses.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.schemas.validate import validate_frame
from hk_pipeline.sources import eastmoney, envelope, hkex_quotations, yahoo
from hk_pipeline.sources.base import SourceError
from hk_pipeline_tests.sources.live.conftest import make_client

REPO = Path(__file__).resolve().parents[3]
CAPTURES = REPO.parent / "shared" / "reference" / "provider-captures"

pytestmark = pytest.mark.skipif(
    not CAPTURES.is_dir(), reason=f"no real provider captures at {CAPTURES}"
)


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def served(provider: str, name: str):
    """A client whose every request is answered with the capture's bytes, status 200."""
    client, rec, _ = make_client(provider, lambda _r: httpx.Response(200, content=capture(name)))
    return client, rec


def test_eastmoney_real_page_parses_with_its_suspended_row() -> None:
    client, _ = served("eastmoney", "eastmoney_clist_ashare_suspended.json")
    payload = client.get_json(eastmoney.URL, params=eastmoney.params(eastmoney.SHARES_FS, 1))
    total, rows = eastmoney._page_rows(payload, "share", 1, eastmoney.SHARES_FS)
    assert (total, len(rows)) == (5535, 3)  # one trimmed page of a 5,535-row list
    frame = eastmoney.to_quotes(rows, date(2026, 7, 8), "close").set_index("symbol")
    traded, suspended = frame.loc["000001"], frame.loc["000003"]
    assert (traded["last"], traded["volume"], traded["prev_close"]) == (10.47, 805221, 10.5)
    assert suspended["prev_close"] == 2.71
    assert suspended[["open", "high", "low", "last"]].isna().all()
    assert (suspended["volume"], suspended["turnover"]) == (0, 0.0)


def test_eastmoney_real_page_a_shares_are_quarantined_not_loaded_as_hk() -> None:
    """Six-digit A-share codes are not HKEX codes: every row is rejected, naming the code."""
    rows = json.loads(capture("eastmoney_clist_ashare_suspended.json"))["data"]["diff"]
    outcome = validate_frame("raw.quotes", eastmoney.to_quotes(rows, date(2026, 7, 8), "close"))
    assert outcome.frame.height == 0 and outcome.n_rejected == 3
    assert all("symbol: does not match pattern" in r for r in outcome.rejected["reason"])


def test_eastmoney_real_quote_times_are_read_and_judged() -> None:
    """The page was captured on 2026-07-08 before that day's trades: its newest quote is the
    previous afternoon's, which the staleness check refuses for the 8th."""
    rows = json.loads(capture("eastmoney_clist_ashare_suspended.json"))["data"]["diff"]
    with pytest.raises(SourceError, match=r"is 2026-07-07 15:34 HKT, not on 2026-07-08: a stale"):
        eastmoney.check_fresh(rows, date(2026, 7, 8), "midday")


def test_yahoo_real_hk_daily_answer_parses_in_hkt() -> None:
    client, _ = served("yahoo", "yahoo_chart_0700HK_1d_20260807.json")
    payload = client.get_json(yahoo.URL.format(symbol="0700.HK"))
    bars = yahoo.parse_bars(payload, "0700.HK")
    assert len(bars) == 5 and yahoo.to_symbol("0700.HK") == "00700"
    assert bars["ts"].iloc[-1] == pd.Timestamp("2026-08-07 09:30", tz=calendar.TZ)
    assert bars["close"].iloc[-1] == 478.79998779296875
    assert bars["close"].dtype == "float64"


@pytest.mark.parametrize(
    ("name", "symbol", "bars"),
    [
        ("yahoo_chart_AMZN_1m_30m.json", "AMZN", 31),
        ("yahoo_chart_BARCL_1m_nulls.json", "BARC.L", 1),
    ],
)
def test_yahoo_real_minute_answers_of_other_markets(name: str, symbol: str, bars: int) -> None:
    payload = json.loads(capture(name))
    with pytest.raises(SourceError, match=r"not\s+Asia/Hong_Kong \+08:00: shifted timestamps"):
        yahoo.parse_bars(payload, symbol)
    meta = payload["chart"]["result"][0]["meta"]
    meta.update(exchangeTimezoneName="Asia/Hong_Kong", gmtoffset=yahoo.HKT_OFFSET)
    parsed = yahoo.parse_bars(payload, symbol)  # the structure itself reads: padding dropped
    assert len(parsed) == bars
    assert parsed[["open", "high", "low", "close"]].notna().all().all()


def test_hkex_real_quotation_lines_parse_by_their_labels() -> None:
    lines = capture("hkex_dayquot_lines_20000501.txt").decode("latin-1")
    page = (
        "<html><pre>DATE: 01 MAY 2000 (MONDAY)\n"
        '<a name = "quotations">QUOTATIONS</a>\n'
        " CODE  NAME OF STOCK    CUR PRV.CLO./    ASK/    HIGH/      SHARES TRADED/\n"
        "                             CLOSING      BID     LOW        TURNOVER ($)\n"
        f"{lines}"
        '<a name = "sales_all">SALES RECORDS FOR ALL STOCKS</a></pre></html>\n'
    )
    day = date(2000, 5, 1)  # before the trading calendar's range: parse only, no snapshot
    client, _, _ = make_client(
        "hkex_quotations", lambda _r: httpx.Response(200, content=page.encode("latin-1"))
    )
    response = client.get(hkex_quotations.url(day))
    parsed = hkex_quotations.parse(envelope.text("hkex_quotations", response, "latin-1"), day)
    row = parsed.set_index("symbol").loc["00001"]
    assert row["currency"] == "HKD" and pd.isna(row["trading_status"])
    assert (row["PRV.CLO."], row["ASK"], row["HIGH"]) == (90.05, 90.45, 90.45)
    assert (row["CLOSING"], row["BID"], row["LOW"]) == (90.45, 90.40, 89.0)
    assert (row["SHARES TRADED"], row["TURNOVER ($)"]) == (6_595_110, 593_442_561)
