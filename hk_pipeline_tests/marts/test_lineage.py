"""The marts' lineage is read from their SQL and equals the lists once kept by hand."""

from __future__ import annotations

from hk_pipeline.marts.runner import MART_NAMES, mart_sources

INDEX = ("raw.index_levels", "raw.quotes", "ref.index_constituents")
MARKET = ("raw.quotes", "ref.securities")
# the hand-kept MART_DEPS of hk_pipeline/defs/marts.py before it was derived, with the two
# tables it missed: index_attribution names each constituent from ref.securities, and
# market_breadth's HSI, HSCEI and HSTECH universes are ref.index_constituents
HAND_KEPT = {
    "index_moves": INDEX,
    "index_attribution": (*INDEX, "raw.index_contributions", "ref.securities"),
    "market_breadth": (*MARKET, "ref.index_constituents"),
    "sector_performance": MARKET,
    "top_turnover": MARKET,
    "top_movers": MARKET,
    "macro_asof": ("raw.macro_series",),
}


def test_derived_sources_equal_the_hand_kept_lists() -> None:
    assert set(HAND_KEPT) == set(MART_NAMES)
    for name in MART_NAMES:
        assert mart_sources(name) == tuple(sorted(HAND_KEPT[name])), name


def test_rules_and_comments_are_not_sources() -> None:
    # market_breadth calls rules.share_state and rules.in_force and names mart.* in comments
    assert all(not t.startswith(("rules.", "mart.")) for t in mart_sources("market_breadth"))
