"""Each adapter on fixtures that mirror a real answer of its provider (fixtures/live/SOURCES.md
says which answer each mirrors and where it was found), and what the warehouse's validation
then keeps: the odd rows real feeds carry (suspended, halted, new listings, padding bars,
nested members) load, and none of them sinks a page."""

from __future__ import annotations

import copy
from datetime import date, datetime

import httpx
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.schemas.validate import validate_frame
from hk_pipeline.sources import hkex_quotations
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.censtatd import Censtatd
from hk_pipeline.sources.eastmoney import Eastmoney
from hk_pipeline.sources.hkex_quotations import HkexQuotations
from hk_pipeline.sources.hkma import Hkma
from hk_pipeline.sources.hsi_constituents import HsiConstituents
from hk_pipeline.sources.yahoo import Yahoo

from .conftest import DAY, fixture_bytes, fixture_json, json_response, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

HK_PAGE = fixture_json("eastmoney_clist_hk_page.json")
DAYQUOT = fixture_bytes("d251121e.htm")
MONDAY = date(2025, 11, 24)
LATE = datetime(2025, 11, 30, tzinfo=calendar.TZ)


def eastmoney(page: dict) -> Eastmoney:
    client, _, _ = make_client("eastmoney", lambda _r: json_response(page))
    return Eastmoney(client)


def dayquot(content: bytes = DAYQUOT) -> HkexQuotations:
    client, _, _ = make_client("hkex_quotations", lambda _r: httpx.Response(200, content=content))
    return HkexQuotations(client)


# --- Eastmoney: a page shaped like the real clist answer ----------------------------------------


def test_eastmoney_real_page_loads_every_row_with_the_suspended_one_untraded() -> None:
    frame = eastmoney(HK_PAGE).quotes(DAY, "midday")
    by = frame.set_index("symbol")
    assert list(by.index) == ["00001", "00700", "02202", "00014", "00291", "03750", "08083"]
    suspended = by.loc["00291"]  # "-" in price, volume and turnover; previous close kept
    assert suspended["prev_close"] == 24.35
    assert suspended[["open", "high", "low", "last"]].isna().all()
    assert (suspended["volume"], suspended["turnover"]) == (0, 0.0)
    assert by.loc["00014", "volume"] == 0 and pd.isna(by.loc["00014", "last"])  # f3 null
    assert pd.isna(by.loc["03750", "prev_close"]) and by.loc["03750", "last"] == 30.1
    assert by.loc["02202", "last"] == 2.32  # the padded full-width name does not matter
    outcome = validate_frame("raw.quotes", frame)
    assert outcome.n_rejected == 0, outcome.rejected.to_dict("records")
    assert outcome.frame.height == 7


def test_eastmoney_renamed_field_is_refused_naming_field_and_url() -> None:
    renamed = copy.deepcopy(HK_PAGE)
    for row in renamed["data"]["diff"]:
        row["f2_new"] = row.pop("f2")  # the last price moved to another key
    with pytest.raises(SourceError) as err:
        eastmoney(renamed).quotes(DAY, "midday")
    message = str(err.value)
    assert message.startswith("eastmoney: https://72.push2.eastmoney.com/api/qt/clist/get?pn=1")
    assert "field(s) f2 missing from every row of the answer (7 rows" in message
    assert "f2_new" in message  # what the answer has instead


# --- HKEX daily quotations: the file's real line shapes -----------------------------------------


def test_hkex_real_lines_na_prices_markers_and_debt_load() -> None:
    parsed = hkex_quotations.parse(DAYQUOT.decode("latin-1"), DAY)
    frame = hkex_quotations.to_quotes(parsed, DAY)
    by = frame.set_index("symbol")
    listing = by.loc["02659"]  # N/A previous close (a new listing), traded normally
    assert pd.isna(listing["prev_close"])
    assert (listing["last"], listing["high"], listing["low"]) == (12.06, 12.58, 11.80)
    assert (listing["volume"], listing["turnover"]) == (4_812_000, 58_331_660.0)
    debt = by.loc["04246"]  # the debt line that carried N/A where every price goes
    assert debt[["prev_close", "high", "low", "last"]].isna().all() and debt["volume"] == 0
    halted = by.loc["01137"]  # "1137#HK TELEVISION ... TRADING HALTED": marker glued to code
    assert halted[["prev_close", "last"]].isna().all() and halted["volume"] == 0
    statuses = hkex_quotations.trading_statuses(parsed)
    assert statuses.to_dict("records") == [
        {"symbol": "00291", "trading_status": "TRADING SUSPENDED"},
        {"symbol": "01137", "trading_status": "TRADING HALTED"},
    ]
    assert parsed.set_index("symbol").loc["80700", "currency"] == "RMB"
    outcome = validate_frame("raw.quotes", frame)
    assert outcome.n_rejected == 0, outcome.rejected.to_dict("records")
    assert outcome.frame.height == 9


def test_hkex_file_without_the_currency_column_is_read() -> None:
    """The layout of older files (no CUR column), as other projects' tests of real pages
    show it; a name with inner spaces cannot shift the figures, read from the right."""
    page = (
        "<html><pre>DATE: 21 NOV 2025 (FRIDAY)\n"
        '<a name = "quotations">QUOTATIONS</a>\n'
        " CODE  NAME OF STOCK    PRV.CLO./    ASK/    HIGH/      SHARES TRADED/\n"
        "                         CLOSING      BID     LOW        TURNOVER ($)\n"
        "   823 LINK  REIT           19.82    19.60    19.70            1,945,905\n"
        "                            19.62    19.58    19.58           38,218,570\n"
        '<a name = "sales_all">SALES RECORDS FOR ALL STOCKS</a></pre></html>\n'
    )
    frame = dayquot(page.encode()).close_quotes(DAY, MONDAY)
    row = frame.set_index("symbol").loc["00823"]
    assert (row["prev_close"], row["last"], row["volume"]) == (19.82, 19.62, 1_945_905)


def test_hkex_universe_the_file_does_not_list_is_refused() -> None:
    with pytest.raises(SourceError, match=r"lists 11 securities but no share of the 2 symbols"):
        dayquot().close_quotes(DAY, MONDAY, universe={"09999", "09998"})


# --- Yahoo: the HSI chart with Yahoo's float32 prices and padding runs ---------------------------


def test_yahoo_padding_runs_are_dropped_and_float32_prices_kept() -> None:
    chart = fixture_json("yahoo_chart_HSI_1m.json")
    client, _, _ = make_client("yahoo", lambda _r: json_response(chart))
    frame = Yahoo(client).bars("HSI", DAY, "midday", today=DAY)
    stamps = set(frame["ts"].dt.strftime("%H:%M"))
    assert {"10:09", "10:12"} <= stamps and not {"10:10", "10:11"} & stamps
    assert frame["close"].dtype == "float64" and len(frame) == 148
    assert validate_frame("raw.intraday_bars", frame).n_rejected == 0


def test_yahoo_bar_null_in_only_some_prices_is_quarantined_not_hidden() -> None:
    chart = fixture_json("yahoo_chart_HSI_1m.json")
    chart["chart"]["result"][0]["indicators"]["quote"][0]["close"][5] = None  # 09:35
    client, _, _ = make_client("yahoo", lambda _r: json_response(chart))
    frame = Yahoo(client).bars("HSI", DAY, "midday", today=DAY)
    outcome = validate_frame("raw.intraday_bars", frame)
    assert outcome.n_rejected == 1 and outcome.frame.height == 147
    assert "close: missing (NULL not allowed)" in outcome.rejected["reason"].iloc[0]
    assert '"ts":"2025-11-21T09:35:00+08:00"' in outcome.rejected["record"].iloc[0]


# --- Hang Seng Indexes: members nested in sub-indexes --------------------------------------------


def test_hsi_members_nested_in_sub_indexes_equal_the_flat_list() -> None:
    def source(name: str) -> HsiConstituents:
        feeds = {
            "hsi": fixture_json(name),
            "hscei": fixture_json("hsi_constituents_hscei.json"),
            "hstech": fixture_json("hsi_constituents_hstech.json"),
        }
        client, _, _ = make_client(
            "hsi_constituents", lambda r: json_response(feeds[r.url.path.split("/")[-2]])
        )
        return HsiConstituents(client)

    flat = source("hsi_constituents_hsi.json").fetch(DAY)
    nested = source("hsi_constituents_hsi_nested.json").fetch(DAY)
    key = ["index_code", "symbol"]
    pd.testing.assert_frame_equal(
        nested.contributions.sort_values(key).reset_index(drop=True),
        flat.contributions.sort_values(key).reset_index(drop=True),
    )
    assert len(nested.members[nested.members["index_code"] == "HSI"]) == 6


def test_hsi_renamed_code_field_is_refused_naming_it() -> None:
    feed = fixture_json("hsi_constituents_hsi.json")
    for m in feed["indexSeriesList"][0]["indexList"][0]["constituentContent"]:
        m["stockCode"] = m.pop("code")
    client, _, _ = make_client("hsi_constituents", lambda _r: json_response(feed))
    with pytest.raises(SourceError) as err:
        HsiConstituents(client).fetch(DAY)
    message = str(err.value)
    assert message.startswith(
        "hsi_constituents: https://www.hsi.com.hk/data/eng/rt/index-series/hsi/constituents.do"
    )
    assert "field(s) code missing from every member" in message


# --- HKMA: the real field set; the empty-series fault --------------------------------------------


def test_hkma_reads_the_total_among_the_real_fields() -> None:
    answer = fixture_json("hkma_fc_resv_assests.json")
    assert {"fc_resv_assets_ef", "fc_resv_assets_lf", "unsettle_fx_contracts_total"} <= set(
        answer["result"]["records"][0]
    )
    client, _, _ = make_client("hkma", lambda _r: json_response(answer))
    frame = Hkma(client).macro_series(LATE, DAY)
    assert frame.set_index("period")["value"].to_dict() == {
        "2025-06": 424300.0,
        "2025-07": 420800.0,
        "2025-08": 422500.0,
        "2025-09": 428100.0,
        "2025-10": 431000.0,
    }


def test_hkma_without_its_value_field_is_refused_not_an_empty_success() -> None:
    """The fault the issue names: the value field absent, the adapter returned no rows."""
    answer = fixture_json("hkma_fc_resv_assests.json")
    for rec in answer["result"]["records"]:
        del rec["fc_resv_assets_total"]
    client, _, _ = make_client("hkma", lambda _r: json_response(answer))
    with pytest.raises(SourceError) as err:
        Hkma(client).macro_series(LATE, DAY)
    message = str(err.value)
    assert message.startswith(
        "hkma: https://api.hkma.gov.hk/public/market-data-and-statistics/monthly-statistical-"
        "bulletin/ef-fc-resv-assets/fc-resv-assests?offset=0&pagesize=100"
    )
    assert "field(s) fc_resv_assets_total missing from every record" in message
    assert "fc_resv_assets_ef" in message  # the fields it did carry


def test_hkma_with_no_figure_at_all_is_refused() -> None:
    answer = fixture_json("hkma_fc_resv_assests.json")
    for rec in answer["result"]["records"]:
        rec["fc_resv_assets_total"] = None
    client, _, _ = make_client("hkma", lambda _r: json_response(answer))
    with pytest.raises(SourceError, match=r"5 records but not one fc_resv_assets_total figure"):
        Hkma(client).macro_series(LATE, DAY)


def test_hkma_gap_is_quarantined_and_unpublished_month_skipped() -> None:
    answer = fixture_json("hkma_fc_resv_assests.json")
    records = answer["result"]["records"]
    records[1]["fc_resv_assets_total"] = "N/A"  # 2025-07: a gap inside the series
    records.append({**records[-1], "end_of_month": "2025-11", "fc_resv_assets_total": None})
    answer["result"]["datasize"] = len(records)
    client, _, _ = make_client("hkma", lambda _r: json_response(answer))
    frame = Hkma(client).macro_series(datetime(2026, 1, 31, tzinfo=calendar.TZ), date(2026, 1, 31))
    assert list(frame["period"]) == ["2025-06", "2025-07", "2025-08", "2025-09", "2025-10"]
    outcome = validate_frame("raw.macro_series", frame)
    assert outcome.n_rejected == 1 and outcome.frame.height == 4
    assert '"period":"2025-07"' in outcome.rejected["record"].iloc[0]
    assert "value: missing (NULL not allowed)" in outcome.rejected["reason"].iloc[0]


# --- C&SD: a renamed figure field ----------------------------------------------------------------


def test_censtatd_renamed_figure_is_refused_naming_it_and_the_url() -> None:
    answer = fixture_json("censtatd_210-06101.json")
    for row in answer["dataSet"]:
        row["value"] = row.pop("figure")
    client, _, _ = make_client("censtatd", lambda _r: json_response(answer))
    with pytest.raises(SourceError) as err:
        Censtatd(client).macro_series(LATE, DAY)
    message = str(err.value)
    assert message.startswith("censtatd: https://www.censtatd.gov.hk/api/get.php?id=210-06101")
    assert "field(s) figure missing from every row" in message
