"""Hang Seng Indexes constituent feed: the requests, members, point contributions, refusals."""

from __future__ import annotations

import copy

import httpx
import pytest

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.hsi_constituents import HsiConstituents

from .conftest import DAY, ddl_columns, fixture_json, json_response, make_client

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

FEEDS = {s: fixture_json(f"hsi_constituents_{s}.json") for s in ("hsi", "hscei", "hstech")}


def feed(feeds: dict = FEEDS):
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(feeds[request.url.path.split("/")[-2]])

    client, rec, _ = make_client("hsi_constituents", handler)
    return HsiConstituents(client, {"00700": 9_200_000_000}), rec


def test_requests_the_three_series() -> None:
    source, rec = feed()
    source.fetch(DAY)
    assert [str(r.url) for r in rec.requests] == [
        f"https://www.hsi.com.hk/data/eng/rt/index-series/{s}/constituents.do"
        for s in ("hsi", "hscei", "hstech")
    ]


def test_members_in_the_canonical_shape_without_invented_weights() -> None:
    source, _ = feed()
    members = source.fetch(DAY).members
    assert list(members.columns) == ddl_columns("ref.index_constituents")
    assert members.groupby("index_code").size().to_dict() == {"HSI": 6, "HSCEI": 3, "HSTECH": 4}
    assert set(members[members["index_code"] == "HSI"]["symbol"]) == {
        "00005",
        "00700",
        "01299",
        "01810",
        "09988",
        "00002",
    }
    assert members["issued_shares"].dtype == "Int64"
    tencent = members[(members["symbol"] == "00700")]
    assert (tencent["issued_shares"] == 9_200_000_000).all()
    assert members["faf"].isna().all() and members["cap_factor"].isna().all()
    assert set(members["valid_from"]) == {DAY} and members["valid_to"].isna().all()
    assert set(members["source"]) == {"live:hsi_constituents"}


def test_point_contributions_come_from_the_feed() -> None:
    source, _ = feed()
    contributions = source.fetch(DAY).contributions
    hsi = contributions[contributions["index_code"] == "HSI"].set_index("symbol")
    assert hsi.loc["09988", "contribution_points"] == -121.66
    assert hsi.loc["00700", "industry"] == "Information Technology"
    assert hsi["contribution_points"].isna().sum() == 1  # "-" for 00002
    assert contributions["contribution_points"].dtype == "float64"


def test_fewer_members_than_the_feed_declares_is_refused() -> None:
    short = copy.deepcopy(FEEDS)
    short["hsi"]["indexSeriesList"][0]["indexList"][0]["constituentsCount"] = 88
    source, _ = feed(short)
    with pytest.raises(SourceError, match=r"lists 6 HSI members but says constituentsCount=88"):
        source.fetch(DAY)


def test_duplicate_members_are_refused() -> None:
    dup = copy.deepcopy(FEEDS)
    content = dup["hstech"]["indexSeriesList"][0]["indexList"][0]["constituentContent"]
    content[1]["code"] = "0700"
    source, _ = feed(dup)
    with pytest.raises(SourceError, match=r"HSTECH members \['00700'\] twice"):
        source.fetch(DAY)


def test_empty_member_list_is_refused() -> None:
    empty = copy.deepcopy(FEEDS)
    index = empty["hscei"]["indexSeriesList"][0]["indexList"][0]
    index["constituentContent"], index["constituentsCount"] = [], 0
    source, _ = feed(empty)
    with pytest.raises(SourceError, match=r"no members for HSCEI"):
        source.fetch(DAY)
