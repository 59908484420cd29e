"""Checks over mart frames that can really fail.

Each function is pure: it takes the frames a mart produced and returns
``(passed, message, metadata)`` with JSON-friendly metadata, so the Dagster asset checks (and
tests) only wrap them. A check over an empty frame fails: a mart with no rows for a partition
whose raw data exists is a fault, not a pass.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

CheckResult = tuple[bool, str, dict[str, Any]]

BREADTH_PARTS = ("advancers", "decliners", "unchanged", "no_prev_close")
CONTRIBUTION_TOLERANCE_POINTS = 0.01
LEVEL_TOLERANCE_BP = 1.0


def _records(frame: pd.DataFrame, limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` rows as plain dicts (NaN -> None) for check metadata."""
    out = []
    for rec in frame.head(limit).to_dict(orient="records"):
        out.append(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else _plain(v))
                for k, v in rec.items()
            }
        )
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _missing(frame: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> list[str]:
    return [c for c in columns if c not in frame.columns]


def check_breadth_adds_up(breadth: pd.DataFrame) -> CheckResult:
    """advancers + decliners + unchanged + no_prev_close == total, and untraded <= unchanged."""
    missing = _missing(breadth, [*BREADTH_PARTS, "total", "untraded", "universe"])
    if missing:
        return False, f"market_breadth lacks column(s) {missing}", {"missing": missing}
    if breadth.empty:
        return False, "market_breadth has no rows", {"rows": 0}
    parts = breadth[list(BREADTH_PARTS)].sum(axis=1)
    bad = breadth[(parts != breadth["total"]) | (breadth["untraded"] > breadth["unchanged"])]
    meta: dict[str, Any] = {"universes": len(breadth), "failing": _records(bad)}
    if "all" not in set(breadth["universe"]):
        return False, "market_breadth has no 'all' universe", meta
    if len(bad):
        names = ", ".join(map(str, bad["universe"]))
        return False, f"breadth does not add up for {names}", meta
    return True, f"breadth adds up for {len(breadth)} universes", meta


def _unweighted(moves: pd.DataFrame) -> set[str]:
    """Indices whose members lack weights (a feed without them): the formula does not apply."""
    if "constituents_weighted" not in moves.columns or "constituents" not in moves.columns:
        return set()
    rows = moves[moves["constituents_weighted"] < moves["constituents"]]
    return {str(c) for c in rows["index_code"]}


def _feed_indices(attribution: pd.DataFrame) -> set[str]:
    """Indices attributed with the feed's own contributions (method 'feed')."""
    if "method" not in attribution.columns:
        return set()
    return {str(c) for c in attribution.loc[attribution["method"] == "feed", "index_code"]}


def check_contributions_sum(
    attribution: pd.DataFrame,
    moves: pd.DataFrame,
    tolerance_points: float = CONTRIBUTION_TOLERANCE_POINTS,
) -> CheckResult:
    """Per index, the constituents' contribution_points sum to computed_level - prev_close.

    Indices in index_moves with constituents must all have attribution rows; a NULL
    computed level (no priced constituents) fails. An index attributed with the feed's own
    contributions (method 'feed': the source has no weights) has no computed level to add up
    to; it is listed with its sum and the official change, and does not fail the check.
    """
    missing = _missing(attribution, ["index_code", "contribution_points"]) + _missing(
        moves, ["index_code", "computed_level", "prev_close", "constituents"]
    )
    if missing:
        return False, f"frames lack column(s) {missing}", {"missing": missing}
    expected = moves[moves["constituents"] > 0].set_index("index_code")
    if expected.empty:
        return False, "no index with constituents in index_moves", {"indices": 0}
    sums = attribution.groupby("index_code")["contribution_points"].sum(min_count=1)
    feed = _feed_indices(attribution)
    rows, fed = [], []
    for code, row in expected.iterrows():
        if code in feed:
            total = sums.get(code, float("nan"))
            official = row["level"] - row["prev_close"] if "level" in row else float("nan")
            fed.append(
                {
                    "index_code": code,
                    "method": "feed",
                    "sum_contribution_points": None if pd.isna(total) else float(total),
                    "official_change_points": None if pd.isna(official) else float(official),
                }
            )
            continue
        change = row["computed_level"] - row["prev_close"]
        total = sums.get(code, float("nan"))
        diff = total - change
        rows.append(
            {
                "index_code": code,
                "sum_contribution_points": None if pd.isna(total) else float(total),
                "computed_change_points": None if pd.isna(change) else float(change),
                "difference": None if pd.isna(diff) else float(diff),
            }
        )
    bad = [r for r in rows if r["difference"] is None or abs(r["difference"]) > tolerance_points]
    meta = {"tolerance_points": tolerance_points, "indices": rows, "feed_indices": fed}
    note = (
        f"; {', '.join(r['index_code'] for r in fed)}: the feed's own contributions (no"
        " weights, nothing to reconcile)"
        if fed
        else ""
    )
    if bad:
        names = ", ".join(r["index_code"] for r in bad)
        return False, f"contributions do not add up to the index move for {names}{note}", meta
    if not rows:
        return True, f"no index attributed by the formula{note}", meta
    return True, f"contributions add up within {tolerance_points} points{note}", meta


def check_levels_reconcile(
    moves: pd.DataFrame, threshold_bp: float = LEVEL_TOLERANCE_BP
) -> CheckResult:
    """|official level / computed level - 1| <= threshold_bp basis points for every index.

    An index whose members lack weights (``constituents_weighted < constituents``: a feed
    without them) has no computed level; it is listed as not reconciled and does not fail.
    """
    missing = _missing(moves, ["index_code", "level", "computed_level", "diff_bp"])
    if missing:
        return False, f"index_moves lacks column(s) {missing}", {"missing": missing}
    if moves.empty:
        return False, "index_moves has no rows", {"rows": 0}
    unweighted = _unweighted(moves)
    diffs = moves["diff_bp"]
    judged = ~moves["index_code"].astype(str).isin(unweighted)
    bad = moves[judged & (diffs.isna() | (diffs.abs() > threshold_bp))]
    meta = {
        "threshold_bp": threshold_bp,
        "not_reconciled_no_weights": sorted(unweighted),
        "diff_bp": {
            str(k): (None if pd.isna(v) else float(v))
            for k, v in zip(moves["index_code"], diffs, strict=True)
        },
    }
    if len(bad):
        names = ", ".join(map(str, bad["index_code"]))
        return (
            False,
            f"computed and official levels differ by more than {threshold_bp} bp: {names}",
            meta,
        )
    note = (
        f"; {', '.join(sorted(unweighted))} not reconciled (the source publishes no weights)"
        if unweighted
        else ""
    )
    if not judged.any():
        return True, f"no index with weights to reconcile{note}", meta
    return True, f"computed levels within {threshold_bp} bp of the official ones{note}", meta


def check_top_turnover(top: pd.DataFrame) -> CheckResult:
    """Distinct symbols, ranks 1..n, turnover non-increasing with rank."""
    missing = _missing(top, ["rank", "symbol", "turnover"])
    if missing:
        return False, f"top_turnover lacks column(s) {missing}", {"missing": missing}
    if top.empty:
        return False, "top_turnover has no rows", {"rows": 0}
    ordered = top.sort_values("rank")
    problems = []
    duplicated = sorted(ordered.loc[ordered["symbol"].duplicated(), "symbol"].unique().tolist())
    if duplicated:
        problems.append(f"duplicate symbols {duplicated}")
    if ordered["rank"].tolist() != list(range(1, len(ordered) + 1)):
        problems.append("ranks are not 1..n")
    turnover = ordered["turnover"].to_numpy()
    rises = [
        int(r)
        for r, d in zip(ordered["rank"].iloc[1:], turnover[1:] - turnover[:-1], strict=True)
        if d > 0
    ]
    if rises:
        problems.append(f"turnover rises at rank(s) {rises}")
    meta = {"rows": len(ordered), "problems": problems, "top": _records(ordered, 20)}
    if problems:
        return False, "; ".join(problems), meta
    return True, f"{len(ordered)} distinct symbols in descending turnover", meta
