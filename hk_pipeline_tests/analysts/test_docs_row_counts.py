"""The row counts the docs promise for the analyst views are what the views return.

docs/analysts.md lists each ``views.latest_*`` view with "(N rows"; the view's SQL header (and
so docs/catalogue.md and the lake's comments) says "N rows" on its grain line. Both are checked
against the views of a home built by ``hk-pipeline run`` on the sample market (the recap day).
"""

from __future__ import annotations

import re
from pathlib import Path

from hk_pipeline.paths import VIEWS_DIR
from hk_pipeline_tests.end_to_end.conftest import Built, recap_home  # noqa: F401 (fixture)

DOCS = Path(__file__).resolve().parents[2] / "docs"
CLAIM = re.compile(r"^\| `(views\.\w+)` \|.*?\((\d+) rows", re.M)


def analysts_claims() -> dict[str, int]:
    """``{view: rows}`` from the analyst views table of docs/analysts.md."""
    text = (DOCS / "analysts.md").read_text(encoding="utf-8")
    return {view: int(rows) for view, rows in CLAIM.findall(text)}


def header_claim(view: str) -> int | None:
    """The "N rows" of the view's SQL header, if it states one."""
    header = "\n".join(
        line
        for line in (VIEWS_DIR / f"{view}.sql").read_text(encoding="utf-8").splitlines()
        if line.startswith("--") and "per partition" not in line
    )
    found = re.search(r"\b(\d+) rows\b", header)
    return int(found.group(1)) if found else None


def test_docs_row_counts_match_the_views(recap_home: Built) -> None:  # noqa: F811
    claims = analysts_claims()
    assert claims == {
        "views.latest_index_moves": 3,
        "views.latest_market_breadth": 6,
        "views.latest_top_turnover": 10,
    }
    con = recap_home.connect()
    try:
        for view, rows in claims.items():
            (count,) = con.execute(f"SELECT count(*) FROM {view}").fetchone()
            assert count == rows, f"docs/analysts.md says {view} has {rows} rows; it has {count}"
        (kept,) = con.execute(
            "SELECT count(*) FROM mart.top_turnover WHERE (trade_date, snapshot) ="
            " (SELECT (trade_date, snapshot) FROM views.latest_top_turnover LIMIT 1)"
        ).fetchone()
        assert kept == 20  # the mart keeps twenty, the view shows the top ten
        ranks = [r for (r,) in con.execute("SELECT rank FROM views.latest_top_turnover").fetchall()]
        assert ranks == list(range(1, 11))
    finally:
        con.close()
    assert header_claim("views.latest_top_turnover") == 10
    catalogue = (DOCS / "catalogue.md").read_text(encoding="utf-8")
    assert "the ten shares with the highest turnover" in catalogue
