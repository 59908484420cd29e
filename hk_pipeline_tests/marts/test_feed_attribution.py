"""An index without weights (the live Hang Seng feed) is attributed with the feed's own points.

On the hand-built warehouse of conftest.py, HSTECH's member 08001 loses its free-float factor
(the feed publishes none), and the feed's contributions are stored in raw.index_contributions:
00003 -21.5, 00004 +6.25, 08001 placeholder (NULL). HSI keeps its weights: formula as before.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hk_pipeline.marts import compute_mart
from hk_pipeline.marts.checks import check_contributions_sum, check_levels_reconcile
from hk_pipeline.report.markdown import render_review
from hk_pipeline_tests.marts.conftest import D, write_marts

FEED = {"00003": -21.5, "00004": 6.25, "08001": None}


@pytest.fixture
def feed_warehouse(warehouse):
    drop_weight(warehouse, "HSTECH", "08001")
    insert_feed(warehouse, "HSTECH", FEED)
    return warehouse


def drop_weight(con, index_code: str, symbol: str) -> None:
    con.execute(
        "UPDATE ref.index_constituents SET faf = NULL WHERE index_code = ? AND symbol = ?",
        [index_code, symbol],
    )


def insert_feed(con, index_code: str, points: dict[str, float | None]) -> None:
    frame = pd.DataFrame(
        {
            "trade_date": D,
            "snapshot": "midday",
            "index_code": index_code,
            "symbol": list(points),
            "contribution_points": [math.nan if v is None else v for v in points.values()],
            "source": "live:hsi_constituents",
            "run_id": "r",
            "loaded_at": pd.Timestamp("2025-11-21 04:00", tz="UTC"),
        }
    )
    con.register("feed_rows", frame)
    con.execute("INSERT INTO raw.index_contributions BY NAME SELECT * FROM feed_rows")
    con.unregister("feed_rows")


def test_attribution_uses_the_feed_and_says_so(feed_warehouse) -> None:
    attr = compute_mart(feed_warehouse, "index_attribution", D, "midday")
    tech = attr[attr["index_code"] == "HSTECH"].set_index("symbol")
    assert set(tech["method"]) == {"feed"}
    assert tech["weight"].isna().all()
    assert tech.loc["00003", "contribution_points"] == -21.5
    assert tech.loc["00004", "contribution_points"] == 6.25
    assert pd.isna(tech.loc["08001", "contribution_points"])
    assert tech.loc["00003", "drag_rank"] == 1 and tech.loc["00004", "lift_rank"] == 1
    assert tech.loc["00004", "change_pct"] == pytest.approx(5.0)  # still from the quotes
    hsi = attr[attr["index_code"] == "HSI"].set_index("symbol")
    assert set(hsi["method"]) == {"formula"}
    assert hsi["contribution_points"].to_dict() == pytest.approx(
        {"00001": 10.0, "00002": -20.0, "00003": -50.0}
    )


def test_index_moves_has_no_computed_level_without_weights(feed_warehouse) -> None:
    moves = compute_mart(feed_warehouse, "index_moves", D, "midday").set_index("index_code")
    tech = moves.loc["HSTECH"]
    assert pd.isna(tech["computed_level"]) and pd.isna(tech["diff_bp"])
    assert pd.isna(tech["computed_change_points"])
    assert (tech["constituents"], tech["constituents_weighted"]) == (3, 2)
    assert tech["level"] == 4964.29  # the official figures are untouched
    assert moves.loc["HSI", "computed_level"] == pytest.approx(940.0)
    assert moves.loc["HSI", "constituents_weighted"] == 3


def test_checks_pass_and_name_the_feed_index(feed_warehouse) -> None:
    moves = compute_mart(feed_warehouse, "index_moves", D, "midday")
    attr = compute_mart(feed_warehouse, "index_attribution", D, "midday")
    passed, message, meta = check_levels_reconcile(moves)
    assert passed and "HSTECH not reconciled" in message
    assert meta["not_reconciled_no_weights"] == ["HSTECH"]
    passed, message, meta = check_contributions_sum(attr, moves)
    assert passed and "HSTECH" in message and "feed" in message
    assert meta["feed_indices"][0]["sum_contribution_points"] == pytest.approx(-15.25)
    assert [r["index_code"] for r in meta["indices"]] == ["HSI"]
    # the formula index still fails when its contributions do not add up
    broken = attr.copy()
    broken.loc[
        (broken["index_code"] == "HSI") & (broken["symbol"] == "00001"), "contribution_points"
    ] += 1
    assert not check_contributions_sum(broken, moves)[0]


def test_review_says_the_points_are_the_feeds(warehouse) -> None:
    drop_weight(warehouse, "HSI", "00002")
    insert_feed(warehouse, "HSI", {"00001": 9.5, "00002": -21.0, "00003": -48.25})
    write_marts(warehouse)
    text = render_review(warehouse, D, "midday")
    assert "Alpha Bank (1.HK, +10.00%, +9.50 points)" in text
    assert "Points as published by the index feed" in text
