"""Each mart check passes on the hand-built warehouse and fails on a frame broken on purpose."""

from __future__ import annotations

import pandas as pd
import pytest

from hk_pipeline.marts import compute_mart
from hk_pipeline.marts.checks import (
    check_breadth_adds_up,
    check_contributions_sum,
    check_levels_reconcile,
    check_top_turnover,
)
from hk_pipeline_tests.marts.conftest import D


@pytest.fixture
def frames(warehouse) -> dict[str, pd.DataFrame]:
    names = (
        "market_breadth",
        "index_moves",
        "index_attribution",
        "top_turnover",
        "sector_performance",
    )
    return {n: compute_mart(warehouse, n, D, "midday") for n in names}


def test_breadth_check(frames) -> None:
    breadth = frames["market_breadth"]
    passed, message, meta = check_breadth_adds_up(breadth)
    assert passed, message
    broken = breadth.copy()
    broken.loc[broken["universe"] == "gem", "advancers"] += 1
    passed, message, meta = check_breadth_adds_up(broken)
    assert not passed and "gem" in message and meta["failing"][0]["universe"] == "gem"
    assert not check_breadth_adds_up(breadth.iloc[0:0])[0]
    assert not check_breadth_adds_up(breadth[breadth["universe"] != "all"])[0]


def test_contribution_check(frames) -> None:
    attr, moves = frames["index_attribution"], frames["index_moves"]
    passed, message, meta = check_contributions_sum(attr, moves)
    assert passed, message
    assert meta["indices"][0]["difference"] == pytest.approx(0.0, abs=1e-9)
    broken = attr.copy()
    broken.loc[broken["symbol"] == "00001", "contribution_points"] += 0.02
    passed, message, _ = check_contributions_sum(broken, moves)
    assert not passed and "HSI" in message and "HSTECH" not in message
    assert check_contributions_sum(broken, moves, tolerance_points=0.05)[0]
    # an index without attribution rows fails
    assert not check_contributions_sum(attr[attr["index_code"] == "HSI"], moves)[0]


def test_level_check(frames) -> None:
    moves = frames["index_moves"]  # HSI differs by 0.53 bp, HSTECH by 0.01 bp
    passed, message, meta = check_levels_reconcile(moves)
    assert passed, message
    assert meta["diff_bp"]["HSI"] == pytest.approx(0.5319, abs=1e-4)
    passed, message, _ = check_levels_reconcile(moves, threshold_bp=0.5)
    assert not passed and "HSI" in message and "HSTECH" not in message
    broken = moves.assign(computed_level=float("nan"), diff_bp=float("nan"))
    assert not check_levels_reconcile(broken)[0]


def test_top_turnover_check(frames) -> None:
    top = frames["top_turnover"]
    assert check_top_turnover(top)[0]
    dup = top.copy()
    dup.loc[dup["rank"] == 2, "symbol"] = "00003"
    passed, message, _ = check_top_turnover(dup)
    assert not passed and "duplicate" in message
    rising = top.copy()
    rising.loc[rising["rank"] == 5, "turnover"] = 1e9
    passed, message, _ = check_top_turnover(rising)
    assert not passed and "rises at rank(s) [5]" in message
    assert not check_top_turnover(top.iloc[0:0])[0]


def test_sector_counts_add_up_to_breadth_all(frames) -> None:
    # both marts classify shares with the one rule (rules.share_state) over the one universe:
    # the industries' counts add up to market_breadth's 'all' row
    sectors, breadth = frames["sector_performance"], frames["market_breadth"]
    everything = breadth[breadth["universe"] == "all"]
    assert len(everything) == 1
    for column in ("advancers", "decliners", "unchanged", "no_prev_close", "total"):
        assert int(sectors[column].sum()) == int(everything.iloc[0][column]), column
