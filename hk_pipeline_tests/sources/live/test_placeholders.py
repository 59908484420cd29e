"""Placeholders never sink a page: whatever a feed puts where a value is missing becomes NULL
for that field, in every adapter; a row that then lacks a field its table requires is
quarantined with the reason, and the rest of the page loads. A value that is neither a number
nor a placeholder is quarantined too, named in the reason."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime

import httpx
import pytest

from hk_pipeline import calendar
from hk_pipeline.schemas.validate import validate_frame
from hk_pipeline.sources import hkex_quotations
from hk_pipeline.sources.base import PLACEHOLDERS, is_placeholder, parse_number
from hk_pipeline.sources.censtatd import Censtatd
from hk_pipeline.sources.eastmoney import Eastmoney, to_quotes
from hk_pipeline.sources.hsi_constituents import HsiConstituents
from hk_pipeline.sources.yahoo import Yahoo

from .conftest import DAY, fixture_bytes, fixture_json, json_response, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

# what real feeds were seen to send (see SOURCES.md) and the usual other spellings
JSON_PLACEHOLDERS = [None, "-", "--", "", " ", "N/A", "n/a", "null", "NaN", "—"]
TEXT_PLACEHOLDERS = ["-", "--", "N/A", "n/a", "null", "NaN", "—"]  # one token in a text file
PAGE = fixture_json("eastmoney_clist_hk_page.json")
DAYQUOT = fixture_bytes("d251121e.htm").decode("latin-1")
TENCENT_LINE = "*  700 TENCENT          HKD   631.50"


@pytest.mark.parametrize("token", [*JSON_PLACEHOLDERS, float("nan"), "NA", "None", "\uff0d"])
def test_every_placeholder_parses_to_null(token: object) -> None:
    assert is_placeholder(token) and parse_number(token) is None


@pytest.mark.parametrize(("text", "value"), [("1,945,905", 1945905.0), (" 12.06 ", 12.06)])
def test_numbers_with_separators_and_padding_parse(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_the_placeholder_set_holds_what_captures_showed() -> None:
    assert {"-", "n/a", "", "null", "nan"} <= PLACEHOLDERS


def eastmoney_with(field: str, code: str, token: object):
    rows = copy.deepcopy(PAGE["data"]["diff"])
    next(r for r in rows if r["f12"] == code)[field] = token
    return to_quotes(rows, DAY, "midday")


@pytest.mark.parametrize("token", [*JSON_PLACEHOLDERS, float("nan")])
def test_eastmoney_placeholder_previous_close_is_null_and_the_row_loads(token: object) -> None:
    frame = eastmoney_with("f18", "00700", token)
    outcome = validate_frame("raw.quotes", frame)
    assert outcome.n_rejected == 0 and outcome.frame.height == 7
    assert outcome.frame.filter(symbol="00700")["prev_close"].to_list() == [None]


@pytest.mark.parametrize("token", JSON_PLACEHOLDERS)
def test_eastmoney_traded_row_without_a_last_price_is_quarantined_alone(token: object) -> None:
    outcome = validate_frame("raw.quotes", eastmoney_with("f2", "00700", token))
    assert outcome.n_rejected == 1 and outcome.frame.height == 6
    reason = outcome.rejected["reason"].iloc[0]
    assert reason == "untraded (last is NULL) but volume > 0 (last=NULL, volume=9652000)"


def test_eastmoney_unreadable_value_is_quarantined_naming_it() -> None:
    outcome = validate_frame("raw.quotes", eastmoney_with("f15", "00001", "53.75x"))
    assert outcome.n_rejected == 1 and outcome.frame.height == 6
    assert outcome.rejected["reason"].iloc[0] == "high: not convertible to Float64 (53.75x)"
    assert json.loads(outcome.rejected["record"].iloc[0])["symbol"] == "00001"


def hkex_with(prev_close: str) -> tuple:
    text = DAYQUOT.replace(TENCENT_LINE, f"*  700 TENCENT          HKD {prev_close:>8}")
    assert text != DAYQUOT
    parsed = hkex_quotations.parse(text, DAY)
    return validate_frame("raw.quotes", hkex_quotations.to_quotes(parsed, DAY))


@pytest.mark.parametrize("token", TEXT_PLACEHOLDERS)
def test_hkex_placeholder_price_is_null_and_the_page_loads(token: str) -> None:
    outcome = hkex_with(token)
    assert outcome.n_rejected == 0 and outcome.frame.height == 9
    assert outcome.frame.filter(symbol="00700")["prev_close"].to_list() == [None]


def test_hkex_unreadable_price_is_quarantined_and_the_page_loads() -> None:
    outcome = hkex_with("631.5O")  # a letter O where a zero goes
    assert outcome.n_rejected == 1 and outcome.frame.height == 8
    assert outcome.rejected["reason"].iloc[0] == "prev_close: not convertible to Float64 (631.5O)"


@pytest.mark.parametrize("token", [None, "null", "NaN", "-"])
def test_yahoo_placeholder_close_quarantines_that_bar_only(token: object) -> None:
    chart = fixture_json("yahoo_chart_HSI_1m.json")
    chart["chart"]["result"][0]["indicators"]["quote"][0]["close"][3] = token  # 09:33
    client, _, _ = make_client("yahoo", lambda _r: json_response(chart))
    outcome = validate_frame("raw.intraday_bars", Yahoo(client).bars("HSI", DAY, "midday", DAY))
    assert outcome.n_rejected == 1 and outcome.frame.height == 147
    assert outcome.rejected["reason"].iloc[0].startswith("close: missing (NULL not allowed)")


@pytest.mark.parametrize("token", JSON_PLACEHOLDERS)
def test_hsi_placeholder_contribution_is_null(token: object) -> None:
    feed = fixture_json("hsi_constituents_hsi.json")
    feed["indexSeriesList"][0]["indexList"][0]["constituentContent"][1]["contributionChange"] = (
        token
    )
    client, _, _ = make_client("hsi_constituents", lambda _r: json_response(feed))
    frames = HsiConstituents(client).fetch(DAY)
    hsi = frames.contributions[frames.contributions["index_code"] == "HSI"]
    assert hsi.set_index("symbol")["contribution_points"].isna().to_dict() == {
        "00005": False,
        "00700": True,
        "01299": False,
        "01810": False,
        "09988": False,
        "00002": True,  # the fixture's own "-"
    }
    rows = frames.contributions.assign(snapshot="midday")  # the asset adds the snapshot
    assert validate_frame("raw.index_contributions", rows).n_rejected == 0


@pytest.mark.parametrize("token", JSON_PLACEHOLDERS)
def test_censtatd_placeholder_inside_the_series_is_quarantined(token: object) -> None:
    answer = fixture_json("censtatd_210-06101.json")
    row = next(
        r
        for r in answer["dataSet"]
        if r["period"] == "202509" and r["sv"] == "SAUR" and r["SEX"] == ""
    )
    row["figure"] = token
    client, _, _ = make_client("censtatd", lambda _r: json_response(answer))
    frame = Censtatd(client).macro_series(datetime(2025, 11, 30, tzinfo=calendar.TZ), DAY)
    assert list(frame["period"]) == ["2025-08", "2025-09", "2025-10"]  # 2025-11: unpublished
    outcome = validate_frame("raw.macro_series", frame)
    assert outcome.n_rejected == 1 and outcome.frame.height == 2
    assert '"period":"2025-09"' in outcome.rejected["record"].iloc[0]


def test_bare_nan_in_a_json_body_is_a_placeholder_too() -> None:
    """Non-standard JSON some servers emit: an unquoted NaN where a number goes."""
    body = json.dumps(PAGE, ensure_ascii=False).replace('"f18": 631.5', '"f18": NaN')
    assert body.count("NaN") == 1
    client, _, _ = make_client(
        "eastmoney", lambda _r: httpx.Response(200, content=body.encode("utf-8"))
    )
    frame = Eastmoney(client).quotes(DAY, "midday")
    assert frame.set_index("symbol")["prev_close"].isna().to_dict()["00700"]


def test_hkex_date_mismatch_still_refuses_before_any_row() -> None:
    """Placeholders are per value: a file of another day is refused whatever it holds."""
    client, _, _ = make_client(
        "hkex_quotations", lambda _r: httpx.Response(200, content=DAYQUOT.encode("latin-1"))
    )
    with pytest.raises(Exception, match=r"dated 2025-11-21, not 2025-11-20: stale"):
        hkex_quotations.HkexQuotations(client).close_quotes(date(2025, 11, 20), date(2025, 11, 24))
