"""HKEX ListOfSecurities.xlsx: the request, the equity filter, enrichment, stale/odd files."""

from __future__ import annotations

from datetime import date

import httpx
import pandas as pd
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.hkex_securities import Enrichment, HkexSecurities, share_code

from .conftest import DAY, build_list_of_securities, ddl_columns, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

ENRICH = Enrichment(
    industry={"00700": "Information Technology", "00005": "Financials"},
    issued_shares={"00700": 9_200_000_000, "00005": 17_400_000_000},
)


def master(content: bytes):
    client, rec, _ = make_client("hkex_securities", lambda _r: httpx.Response(200, content=content))
    return HkexSecurities(client, ENRICH), rec


def test_request_is_the_published_xlsx() -> None:
    source, rec = master(build_list_of_securities())
    source.fetch(DAY)
    assert str(rec.requests[0].url) == (
        "https://www.hkex.com.hk/eng/services/trading/securities/securitieslists/"
        "ListOfSecurities.xlsx"
    )


def test_keeps_main_board_and_gem_equities_in_the_canonical_shape() -> None:
    source, _ = master(build_list_of_securities())
    frame = source.fetch(DAY)
    assert list(frame.columns) == ddl_columns("ref.securities")
    assert list(frame["symbol"]) == ["00001", "00005", "00700", "08001", "80700"]
    by = frame.set_index("symbol")
    assert by.loc["08001", "board"] == "GEM" and by.loc["00700", "board"] == "Main Board"
    assert by.loc["08001", "board_lot"] == 10000  # "10,000" in the file
    assert by.loc["80700", "currency"] == "CNY"  # HKEX prints RMB
    assert frame["board_lot"].dtype == "int64"
    assert frame["issued_shares"].dtype == "Int64"
    assert by.loc["00700", "industry"] == "Information Technology"
    assert by.loc["00700", "issued_shares"] == 9_200_000_000
    # not in the maintained reference: NULL, never a guess
    assert by.loc["00001", "industry"] is None and pd.isna(by.loc["00001", "issued_shares"])
    assert frame["listed_on"].isna().all() and frame["valid_to"].isna().all()
    assert set(frame["valid_from"]) == {DAY}
    assert set(frame["source"]) == {"live:hkex_securities"}


def test_a_list_updated_the_previous_trading_day_is_accepted() -> None:
    source, _ = master(build_list_of_securities(as_at="20/11/2025"))
    assert len(source.fetch(DAY)) == 5


def test_stale_list_is_refused() -> None:
    source, _ = master(build_list_of_securities(as_at="10/11/2025"))
    with pytest.raises(SourceError, match=r"'updated as at 2025-11-10'.*stale"):
        source.fetch(DAY)


def test_missing_column_is_named() -> None:
    source, _ = master(build_list_of_securities(drop="Board Lot"))
    with pytest.raises(SourceError, match=r"lacks column\(s\) \['Board Lot'\]"):
        source.fetch(DAY)


def test_a_body_that_is_not_xlsx_is_refused() -> None:
    source, _ = master(b"<html><title>Maintenance</title>back soon</html>")
    with pytest.raises(SourceError) as err:
        source.fetch(DAY)
    message = str(err.value)
    assert message.startswith("hkex_securities: https://www.hkex.com.hk/eng/services/trading/")
    assert "HTML page titled 'Maintenance' instead of the ListOfSecurities.xlsx" in message


def test_an_xlsx_cut_short_says_so() -> None:
    whole = build_list_of_securities()
    source, _ = master(whole[: len(whole) // 2])
    with pytest.raises(
        SourceError,
        match=r"ListOfSecurities.xlsx did not return a readable xlsx"
        r" \(cut short\? a zip without its end\)",
    ):
        source.fetch(DAY)


@pytest.mark.parametrize(
    ("raw", "code"), [(700, "00700"), ("700", "00700"), ("0700.HK", "00700"), (1.0, "00001")]
)
def test_share_code(raw: object, code: str) -> None:
    assert share_code(raw) == code


@pytest.mark.parametrize("raw", ["HSI", "", "123456", 0])
def test_share_code_rejects_junk(raw: object) -> None:
    with pytest.raises(ValueError):
        share_code(raw)


def test_as_at_in_the_future_is_refused() -> None:
    source, _ = master(build_list_of_securities(as_at="24/11/2025"))
    with pytest.raises(SourceError, match=r"stale \(or future\)"):
        source.fetch(date(2025, 11, 21))
