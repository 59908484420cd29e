"""One symbol convention: the review and the terminal summary write codes as the recaps do
(``700.HK``), never the tables' five digits (``00700``) nor Yahoo's ``0700.HK``."""

from __future__ import annotations

import re

import pandas as pd

from hk_pipeline.report import render_review, render_summary
from hk_pipeline.report.markdown import _mover, share_label
from hk_pipeline_tests.marts.conftest import D, write_marts

FIVE_DIGITS = re.compile(r"\b\d{5}\b")
YAHOO = re.compile(r"\b0\d{3}\.HK\b")


def test_share_label_without_a_name_is_the_recap_code() -> None:
    assert share_label("Tencent", "00700") == "Tencent (700.HK)"
    assert share_label(None, "00700") == "700.HK"
    row = pd.Series(
        {"name": None, "symbol": "09988", "change_pct": -4.07, "contribution_points": -30.0}
    )
    assert not FIVE_DIGITS.search(_mover(row)) and _mover(row).startswith("9988.HK (")


def test_summary_and_review_use_the_recap_style(warehouse) -> None:
    write_marts(warehouse)

    for text in (render_summary(warehouse, D, "midday"), render_review(warehouse, D, "midday")):
        codes = re.findall(r"\b\d{1,5}\.HK\b", text)
        assert codes, text[:500]
        assert not YAHOO.search(text)
        assert not [c for c in FIVE_DIGITS.findall(text) if c.startswith("0")], text
