"""The terminal summary shows every universe the breadth mart holds, in the view's order."""

from __future__ import annotations

import re

from hk_pipeline.marts.runner import read_mart
from hk_pipeline.report import render_summary
from hk_pipeline_tests.marts.conftest import D, write_marts


def test_summary_lists_all_six_universes_in_order(warehouse) -> None:
    write_marts(warehouse)
    text = render_summary(warehouse, D, "midday")
    breadth = text[text.index("Breadth") : text.index("Top 10 turnover")]
    universes = re.findall(r"^\W*(all|main_board|gem|HSI|HSCEI|HSTECH)\b", breadth, re.M)
    assert universes == ["all", "main_board", "gem", "HSI", "HSCEI", "HSTECH"]
    mart = read_mart(warehouse, "market_breadth", D, "midday")
    assert sorted(universes) == sorted(mart["universe"])  # every universe the mart holds
