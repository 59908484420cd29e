"""Eastmoney push2: paging to the feed's total, parsing, staleness, refusals."""

from __future__ import annotations

import copy
from datetime import date

import httpx
import pandas as pd
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.eastmoney import Eastmoney

from .conftest import DAY, ddl_columns, fixture_json, json_response, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

P1 = fixture_json("eastmoney_clist_shares_p1.json")
P2 = fixture_json("eastmoney_clist_shares_p2.json")
INDEX = fixture_json("eastmoney_clist_index.json")


def shares(pages: dict[str, dict]) -> Eastmoney:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(pages[request.url.params["pn"]])

    client, rec, _ = make_client("eastmoney", handler)
    source = Eastmoney(client)
    source.recorder = rec  # type: ignore[attr-defined]
    return source


def test_requests_page_by_page_with_documented_parameters() -> None:
    source = shares({"1": P1, "2": P2})
    source.quotes(DAY, "midday")
    rec = source.recorder  # type: ignore[attr-defined]
    assert [r.url.params["pn"] for r in rec.requests] == ["1", "2"]
    first = rec.requests[0]
    assert first.url.scheme == "https" and first.url.host == "72.push2.eastmoney.com"
    assert first.url.path == "/api/qt/clist/get"
    params = rec.params(0)
    assert params == {
        "pn": "1",
        "pz": "100",
        "po": "1",
        "np": "1",
        "fltt": "2",
        "invt": "2",
        "fid": "f12",
        "fs": "m:128 t:3,m:128 t:4",
        "fields": "f2,f3,f4,f5,f6,f12,f14,f15,f16,f17,f18,f124",
    }


def test_parses_to_the_canonical_quotes_frame() -> None:
    frame = shares({"1": P1, "2": P2}).quotes(DAY, "midday")
    assert list(frame.columns) == ddl_columns("raw.quotes")
    assert len(frame) == 103 and frame["symbol"].is_unique
    assert frame.dtypes.to_dict() == {
        "trade_date": object,
        "snapshot": object,
        "symbol": object,
        "prev_close": "float64",
        "open": "float64",
        "high": "float64",
        "low": "float64",
        "last": "float64",
        "volume": "int64",
        "turnover": "float64",
        "as_of": frame["as_of"].dtype,
        "source": object,
        "trading_status": object,
    }
    assert frame["trading_status"].isna().all()  # Eastmoney marks no suspension
    assert str(frame["as_of"].dt.tz) == "Asia/Hong_Kong"
    tencent = frame.set_index("symbol").loc["00700"]
    assert (tencent["prev_close"], tencent["open"], tencent["high"]) == (631.5, 622.0, 626.0)
    assert (tencent["low"], tencent["last"], tencent["volume"]) == (611.0, 613.5, 9652000)
    assert tencent["turnover"] == 5921000000.0
    assert tencent["trade_date"] == DAY and tencent["snapshot"] == "midday"
    assert tencent["as_of"] == pd.Timestamp("2025-11-21 12:00", tz="Asia/Hong_Kong")
    assert set(frame["source"]) == {"live:eastmoney"}


def test_placeholders_become_nulls() -> None:
    frame = shares({"1": P1, "2": P2}).quotes(DAY, "midday").set_index("symbol")
    untraded = frame.loc["00014"]
    assert untraded["prev_close"] == 21.85
    assert untraded[["open", "high", "low", "last"]].isna().all()
    assert untraded["volume"] == 0 and untraded["turnover"] == 0.0
    assert pd.isna(frame.loc["03750", "prev_close"])  # listed today: no previous close


def test_capped_page_fewer_rows_than_total_is_refused() -> None:
    short = copy.deepcopy(P2)
    short["data"]["diff"] = short["data"]["diff"][:2]
    with pytest.raises(SourceError, match=r"delivered 102 share rows but says total=103"):
        shares({"1": P1, "2": short}).quotes(DAY, "midday")


def test_empty_page_on_a_trading_day_is_refused() -> None:
    empty = fixture_json("eastmoney_clist_empty.json")
    with pytest.raises(SourceError, match=r"empty page 1 .*data null"):
        shares({"1": empty}).quotes(DAY, "midday")


def test_duplicate_rows_are_refused() -> None:
    dup = copy.deepcopy(P2)
    dup["data"]["diff"][0]["f12"] = P1["data"]["diff"][0]["f12"]
    with pytest.raises(SourceError, match=r"more than once"):
        shares({"1": P1, "2": dup}).quotes(DAY, "midday")


def test_total_moving_between_pages_is_refused() -> None:
    moved = copy.deepcopy(P2)
    moved["data"]["total"] = 104
    with pytest.raises(SourceError, match=r"total changed from 103 to 104"):
        shares({"1": P1, "2": moved}).quotes(DAY, "midday")


def test_stale_snapshot_of_another_day_is_refused() -> None:
    with pytest.raises(SourceError, match=r"not on 2025-11-24: a stale snapshot"):
        shares({"1": P1, "2": P2}).quotes(date(2025, 11, 24), "midday")


def test_close_snapshot_taken_before_the_close_is_refused() -> None:
    with pytest.raises(SourceError, match=r"before the close"):
        shares({"1": P1, "2": P2}).quotes(DAY, "close")


def test_index_levels_use_index_list_and_map_codes() -> None:
    source = shares({"1": INDEX})
    frame = source.index_levels(DAY, "midday")
    assert source.recorder.params(0)["fs"] == "m:124,m:125,m:305"  # type: ignore[attr-defined]
    assert list(frame.columns) == ddl_columns("raw.index_levels")
    assert list(frame["index_code"]) == ["HSI", "HSCEI", "HSTECH"]
    hsi = frame.set_index("index_code").loc["HSI"]
    assert (hsi["last"], hsi["prev_close"], hsi["open"]) == (25300.28, 25835.57, 25680.83)
    assert frame[["prev_close", "open", "high", "low", "last"]].dtypes.eq("float64").all()
    assert set(frame["source"]) == {"live:eastmoney"}


def test_index_list_missing_an_index_is_refused() -> None:
    partial = copy.deepcopy(INDEX)
    partial["data"]["diff"] = [r for r in partial["data"]["diff"] if r["f12"] != "HSTECH"]
    partial["data"]["total"] = len(partial["data"]["diff"])
    with pytest.raises(SourceError, match=r"lacks \['HSTECH'\]"):
        shares({"1": partial}).index_levels(DAY, "midday")
