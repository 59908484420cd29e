"""HKMA reserves, C&SD unemployment and the maintained PMI CSV -> raw.macro_series."""

from __future__ import annotations

import copy
from datetime import date, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from hk_pipeline import calendar
from hk_pipeline.sources import pmi
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.censtatd import Censtatd
from hk_pipeline.sources.hkma import PAGE_SIZE, Hkma

from .conftest import ddl_columns, fixture_json, json_response, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

HKMA = fixture_json("hkma_fc_resv_assests.json")
CSD = fixture_json("censtatd_210-06101.json")
TODAY = date(2025, 11, 21)
LATE = datetime(2025, 11, 21, 12, 0, tzinfo=calendar.TZ)


def test_hkma_request_and_rows() -> None:
    client, rec, _ = make_client("hkma", lambda _r: json_response(HKMA))
    frame = Hkma(client).macro_series(LATE, TODAY)
    request = rec.requests[0]
    assert request.url.host == "api.hkma.gov.hk"
    assert request.url.path.endswith("/ef-fc-resv-assets/fc-resv-assests")
    assert rec.params(0) == {
        "offset": "0",
        "pagesize": "100",
        "sortby": "end_of_month",
        "sortorder": "asc",
        "from": "2022-01",
    }
    assert list(frame.columns) == ddl_columns("raw.macro_series")
    oct_ = frame.set_index("period").loc["2025-10"]
    assert oct_["value"] == 431000.0 and oct_["unit"] == "USD million"
    assert oct_["released_on"] == date(2025, 11, 7)  # estimated: first weekday from the 7th
    assert pd.isna(oct_["released_at"])
    assert set(frame["series_id"]) == {"fx_reserves"} and set(frame["source"]) == {"live:hkma"}


def test_hkma_point_in_time_hides_figures_not_yet_released() -> None:
    client, _, _ = make_client("hkma", lambda _r: json_response(HKMA))
    frame = Hkma(client).macro_series(datetime(2025, 11, 6, 9, tzinfo=calendar.TZ), TODAY)
    assert frame["period"].max() == "2025-09"


def test_hkma_pages_until_a_short_page() -> None:
    full = copy.deepcopy(HKMA)
    record = full["result"]["records"][0]
    full["result"]["records"] = [
        {**record, "end_of_month": f"{2014 + i // 12}-{i % 12 + 1:02d}"} for i in range(PAGE_SIZE)
    ]
    full["result"]["datasize"] = PAGE_SIZE
    pages = {"0": full, "100": HKMA}
    client, rec, _ = make_client("hkma", lambda r: json_response(pages[r.url.params["offset"]]))
    frame = Hkma(client).macro_series(LATE, TODAY)
    assert [r.url.params["offset"] for r in rec.requests] == ["0", "100"]
    assert len(frame) == PAGE_SIZE + 5


def test_hkma_page_disagreeing_with_its_datasize_is_refused() -> None:
    bad = copy.deepcopy(HKMA)
    bad["result"]["datasize"] = 12
    client, _, _ = make_client("hkma", lambda _r: json_response(bad))
    with pytest.raises(SourceError, match=r"datasize=12 but carries 5 records"):
        Hkma(client).macro_series(LATE, TODAY)


def test_hkma_unsuccessful_answer_is_refused() -> None:
    bad = {"header": {"success": False, "err_code": "1001", "err_msg": "Invalid parameter"}}
    client, _, _ = make_client("hkma", lambda _r: json_response(bad))
    with pytest.raises(SourceError, match=r"success=false \('Invalid parameter'\)"):
        Hkma(client).macro_series(LATE, TODAY)


def test_censtatd_request_and_seasonally_adjusted_rows() -> None:
    client, rec, _ = make_client("censtatd", lambda _r: json_response(CSD))
    frame = Censtatd(client).macro_series(datetime(2025, 11, 30, tzinfo=calendar.TZ), TODAY)
    assert str(rec.requests[0].url).startswith("https://www.censtatd.gov.hk/api/get.php?")
    assert rec.params(0) == {"id": "210-06101", "lang": "en", "full_series": "1"}
    assert list(frame.columns) == ddl_columns("raw.macro_series")
    assert list(frame["period"]) == ["2025-08", "2025-09", "2025-10"]  # 2025-11 unpublished
    assert list(frame["value"]) == [3.7, 3.9, 3.8]
    by = frame.set_index("period")
    assert by.loc["2025-09", "released_on"] == date(2025, 10, 21)
    assert by.loc["2025-10", "released_on"] == date(2025, 11, 18)  # estimated; the real date
    assert set(frame["unit"]) == {"percent"} and set(frame["source"]) == {"live:censtatd"}


def test_censtatd_release_estimate_is_capped_at_the_fetch_day() -> None:
    client, _, _ = make_client("censtatd", lambda _r: json_response(CSD))
    fetched = date(2025, 11, 17)  # the figure is in the API, so it was out by then
    frame = Censtatd(client).macro_series(datetime(2025, 11, 30, tzinfo=calendar.TZ), fetched)
    assert frame.set_index("period").loc["2025-10", "released_on"] == fetched


def test_censtatd_error_status_is_refused() -> None:
    bad = {"header": {"status": {"code": 2, "name": "Invalid id"}}}
    client, _, _ = make_client("censtatd", lambda _r: json_response(bad))
    with pytest.raises(
        SourceError,
        match=r"censtatd: https://www.censtatd.gov.hk/api/get.php\?id=210-06101&lang=en&full_series=1"
        r" \(table 210-06101\) answered status",
    ):
        Censtatd(client).macro_series(LATE, TODAY)


def test_censtatd_duplicate_period_is_refused() -> None:
    dup = copy.deepcopy(CSD)
    saur = [r for r in dup["dataSet"] if r["sv"] == "SAUR" and r["SEX"] == ""]
    dup["dataSet"].append(dict(saur[0]))
    client, _, _ = make_client("censtatd", lambda _r: json_response(dup))
    with pytest.raises(SourceError, match=r"twice"):
        Censtatd(client).macro_series(LATE, TODAY)


def test_pmi_csv_holds_the_october_2025_reading() -> None:
    frame = pmi.read()
    assert list(frame.columns) == ddl_columns("raw.macro_series")
    oct_ = frame.set_index("period").loc["2025-10"]
    assert oct_["value"] == 51.2 and oct_["released_on"] == date(2025, 11, 5)
    assert oct_["released_at"] == pd.Timestamp("2025-11-05 08:30", tz="Asia/Hong_Kong")
    assert set(frame["source"]) == {"live:pmi"}


def test_pmi_is_point_in_time() -> None:
    source = pmi.Pmi()
    before = source.macro_series(datetime(2025, 11, 5, 8, 29, tzinfo=calendar.TZ))
    after = source.macro_series(datetime(2025, 11, 5, 8, 30, tzinfo=calendar.TZ))
    assert "2025-10" not in set(before["period"]) and "2025-10" in set(after["period"])


def test_pmi_malformed_csv_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "pmi_hk.csv"
    path.write_text(
        "series_id,period,value,unit,released_on,released_at\n"
        "pmi,2025-10,51.2,index,2025-11-05,2025-11-05T08:30:00+08:00\n"
        "pmi,2025-11,fifty,index,2025-12-03,\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=rf"{path}:3: column 'value'"):
        pmi.read(path)


def test_pmi_missing_csv_says_where(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"pmi_hk.csv is missing"):
        pmi.read(tmp_path / "pmi_hk.csv")


def test_hkma_http_layer_is_used() -> None:
    answers = iter([httpx.Response(429), json_response(HKMA)])
    client, rec, _ = make_client("hkma", lambda _r: next(answers))
    assert len(Hkma(client).macro_series(LATE, TODAY)) == 5
    assert len(rec.requests) == 2
