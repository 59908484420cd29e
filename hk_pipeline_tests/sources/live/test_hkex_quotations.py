"""HKEX daily quotations file: URL, two-line records by header label, suspensions, refusals."""

from __future__ import annotations

from datetime import date

import httpx
import pandas as pd
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.hkex_quotations import HkexQuotations
from hk_pipeline_tests.sources.live.conftest import DAY, ddl_columns, fixture_bytes, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

PAGE = fixture_bytes("d251121e.htm")
TODAY = date(2025, 11, 24)


def quotations(content: bytes = PAGE, status: int = 200):
    client, rec, _ = make_client(
        "hkex_quotations", lambda _r: httpx.Response(status, content=content)
    )
    return HkexQuotations(client), rec


def test_request_is_the_dated_file() -> None:
    source, rec = quotations()
    source.close_quotes(DAY, TODAY)
    assert (
        str(rec.requests[0].url) == "https://www.hkex.com.hk/eng/stat/smstat/dayquot/d251121e.htm"
    )


def test_parses_close_quotes_by_header_label() -> None:
    source, _ = quotations()
    frame = source.close_quotes(DAY, TODAY)
    assert list(frame.columns) == ddl_columns("raw.quotes")
    # warrants (12345) and the RMB counter (80700) sit above the equity code range
    assert list(frame["symbol"]) == [
        *["00001", "00005", "00014", "00291", "00700", "01137", "02659", "02800", "04246"]
    ]
    by = frame.set_index("symbol")
    tencent = by.loc["00700"]
    assert (tencent["prev_close"], tencent["last"]) == (631.5, 611.0)
    assert (tencent["high"], tencent["low"]) == (626.0, 608.5)
    assert tencent["volume"] == 20_734_550 and tencent["turnover"] == 12_791_882_770.0
    assert frame["open"].isna().all()  # the file has no opening price
    assert frame["volume"].dtype == "int64" and frame["last"].dtype == "float64"
    assert set(frame["snapshot"]) == {"close"} and set(frame["trade_date"]) == {DAY}
    assert by.loc["00001", "as_of"] == pd.Timestamp("2025-11-21 16:10", tz="Asia/Hong_Kong")
    assert set(frame["source"]) == {"live:hkex_quotations"}


def test_untraded_and_suspended_shares_get_nulls() -> None:
    source, _ = quotations()
    by = source.close_quotes(DAY, TODAY).set_index("symbol")
    untraded = by.loc["00014"]
    assert untraded["prev_close"] == 21.85
    assert untraded[["high", "low", "last"]].isna().all() and untraded["volume"] == 0
    suspended = by.loc["00291"]
    assert suspended[["prev_close", "high", "low", "last"]].isna().all()
    assert suspended["volume"] == 0 and suspended["turnover"] == 0.0


def test_universe_filters_to_the_master() -> None:
    source, _ = quotations()
    frame = source.close_quotes(DAY, TODAY, universe={"00001", "00700", "80700"})
    assert list(frame["symbol"]) == ["00001", "00700", "80700"]


def test_file_of_another_day_is_refused() -> None:
    source, _ = quotations()
    with pytest.raises(SourceError, match=r"dated 2025-11-21, not 2025-11-20: stale"):
        source.close_quotes(date(2025, 11, 20), TODAY)


def test_not_yet_published_file_says_so() -> None:
    source, rec = quotations(b"not found", status=404)
    with pytest.raises(SourceError, match=r"not published \(HTTP 404\)"):
        source.close_quotes(DAY, TODAY)
    assert len(rec.requests) == 1


def test_date_outside_the_window_is_refused() -> None:
    source, rec = quotations()
    with pytest.raises(SourceError, match=r"hkex_quotations: www.hkex.com.hk .*2024-11-24 to"):
        source.close_quotes(date(2024, 6, 3), TODAY)
    assert rec.requests == []


def test_changed_header_is_refused() -> None:
    source, _ = quotations(PAGE.replace(b"PRV.CLO./", b"PREVIOUS/"))
    with pytest.raises(SourceError, match=r"QUOTATIONS header"):
        source.close_quotes(DAY, TODAY)


def test_duplicate_records_are_refused() -> None:
    text = PAGE.decode("latin-1")
    record = "     1 CKH HOLDINGS     HKD    53.50    53.05    53.75            2,731,500\n"
    record += "                               53.00    53.00    52.85          145,128,770\n"
    source, _ = quotations(text.replace(record, record + record).encode("latin-1"))
    with pytest.raises(SourceError, match=r"more than once"):
        source.close_quotes(DAY, TODAY)
