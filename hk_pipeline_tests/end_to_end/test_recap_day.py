"""The main job on the real sample source: every asset of 2025-11-21 mid-day, end to end.

The warehouse is built once per session by ``hk-pipeline run --date 2025-11-21 --snapshot
midday`` (conftest.py). Every figure is compared with the reference recap
(``fixtures/reference/market-recap-2025-11-21-midday.json`` and its ``.txt``), never with a
copy typed into this file.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.tables import source_tables
from hk_pipeline_tests.end_to_end.conftest import (
    MART_TABLES,
    MEMBERSHIP_DAY,
    RECAP_DAY,
    RECAP_SNAPSHOT,
    RECAP_TXT,
    Built,
    pipeline_env,
)

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

D, SNAP = RECAP_DAY, RECAP_SNAPSHOT
PART = [D, SNAP]
INDEX_ORDER = ("HSI", "HSCEI", "HSTECH")


def code_hk(symbol: str) -> str:
    """``09988`` -> ``9988.HK``, as the recap writes codes."""
    return f"{symbol.lstrip('0')}.HK"


def prev_close_of(index: dict[str, Any]) -> float:
    return float(index.get("prev_close", index.get("prev_close_chosen")))


# --- the recap's figures, read back by SQL ------------------------------------------------


def test_index_levels_in_raw_match_the_recap(
    recap_con: duckdb.DuckDBPyConnection, recap: dict
) -> None:
    rows = recap_con.execute(
        """
        SELECT index_code, last, prev_close, round((last / prev_close - 1) * 100, 2), source
        FROM raw.index_levels WHERE trade_date = ? AND snapshot = ? ORDER BY index_code
        """,
        PART,
    ).fetchall()
    got = {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
    assert set(got) == set(INDEX_ORDER)
    for index in recap["indices"]:
        last, prev, pct, source = got[index["index_code"]]
        assert last == pytest.approx(index["level"], abs=0.005), index["index_code"]
        assert prev == pytest.approx(prev_close_of(index), abs=0.005), index["index_code"]
        assert pct == pytest.approx(index["change_pct"], abs=1e-9), index["index_code"]
        assert source == "sample"


def test_breadth_from_raw_quotes_matches_the_recap(
    recap_con: duckdb.DuckDBPyConnection, recap: dict
) -> None:
    up, down, flat, untraded, total, alive = recap_con.execute(
        """
        SELECT
            count(*) FILTER (WHERE last > prev_close),
            count(*) FILTER (WHERE last < prev_close),
            count(*) FILTER (WHERE last = prev_close OR last IS NULL),
            count(*) FILTER (WHERE last IS NULL),
            count(*),
            (SELECT count(*) FROM ref.securities
             WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1))
        FROM raw.quotes WHERE trade_date = $1 AND snapshot = $2
        """,
        PART,
    ).fetchone()
    b = recap["breadth"]
    assert (up, down, flat, total) == (
        b["advancers"],
        b["decliners"],
        b["unchanged"],
        b["total"],
    )
    assert alive == b["total"]
    assert 0 < untraded < flat  # untraded shares exist and are counted as flat


def _turnover_row(t: dict) -> tuple:
    """A recap top-turnover entry as the queries return it: symbol, name, last, change (%),
    turnover (HKD bn)."""
    return (t["symbol"], t["name"], t["last"], t["change_pct"], round(t["turnover_hkd"] / 1e9, 3))


def test_top_turnover_from_raw_quotes_matches_the_recap(
    recap_con: duckdb.DuckDBPyConnection, recap: dict
) -> None:
    rows = recap_con.execute(
        """
        SELECT q.symbol, s.name, round(q.last, 2), round((q.last / q.prev_close - 1) * 100, 2),
               round(q.turnover / 1e9, 3)
        FROM raw.quotes AS q
        JOIN ref.securities AS s
          ON s.symbol = q.symbol AND s.valid_from <= q.trade_date
         AND (s.valid_to IS NULL OR s.valid_to > q.trade_date)
        WHERE q.trade_date = ? AND q.snapshot = ?
        ORDER BY q.turnover DESC, q.symbol LIMIT 10
        """,
        PART,
    ).fetchall()
    assert rows == [_turnover_row(t) for t in recap["top_turnover"]]


def test_index_moves_mart_matches_the_recap(
    recap_con: duckdb.DuckDBPyConnection, recap: dict
) -> None:
    moves = recap_con.execute(
        "SELECT * FROM mart.index_moves WHERE trade_date = ? AND snapshot = ?", PART
    ).fetchdf()
    assert sorted(moves["index_code"]) == sorted(INDEX_ORDER)
    moves = moves.set_index("index_code")
    for index in recap["indices"]:
        row = moves.loc[index["index_code"]]
        assert row["level"] == pytest.approx(index["level"], abs=0.005)
        assert row["prev_close"] == pytest.approx(prev_close_of(index), abs=0.005)
        assert round(row["change_pct"], 2) == index["change_pct"]
        assert row["change_points"] == pytest.approx(row["level"] - row["prev_close"], abs=1e-6)
        assert row["low"] <= row["level"] <= row["high"]


def test_market_breadth_mart_matches_the_recap(
    recap_con: duckdb.DuckDBPyConnection, recap: dict
) -> None:
    rows = recap_con.execute(
        """
        SELECT advancers, decliners, unchanged, total, no_prev_close, untraded
        FROM mart.market_breadth WHERE trade_date = ? AND snapshot = ? AND universe = 'all'
        """,
        PART,
    ).fetchall()
    assert len(rows) == 1
    adv, dec, unch, total, no_prev, untraded = rows[0]
    b = recap["breadth"]
    assert (adv, dec, unch, total) == (b["advancers"], b["decliners"], b["unchanged"], b["total"])
    assert no_prev == 0 and 0 < untraded < unch


def test_top_turnover_mart_matches_the_recap(
    recap_con: duckdb.DuckDBPyConnection, recap: dict
) -> None:
    rows = recap_con.execute(
        """
        SELECT rank, symbol, name, round(last, 2), round(change_pct, 2), round(turnover / 1e9, 3)
        FROM mart.top_turnover WHERE trade_date = ? AND snapshot = ? AND rank <= 10
        ORDER BY rank
        """,
        PART,
    ).fetchall()
    assert rows == [(t["rank"], *_turnover_row(t)) for t in recap["top_turnover"]]


def test_the_run_prints_the_recap_figures(recap_home: Built, recap: dict) -> None:
    """The README's first command ends with the figures, read back from the warehouse."""
    out = recap_home.info["run_stdout"]
    assert f"{D.isoformat()}|{SNAP}: run" in out and "succeeded" in out
    figures = []
    for index in recap["indices"]:
        figures += [f"{index['level']:,.2f}", f"{index['change_pct']:.2f}%"]
    b = recap["breadth"]
    figures += [f"{b[k]:,}" for k in ("advancers", "decliners", "unchanged", "total")]
    for t in recap["top_turnover"]:
        figures += [code_hk(t["symbol"]), t["name"], f"{t['last']:.2f}", f"{t['change_pct']:.2f}%"]
        figures.append(f"{t['turnover_hkd'] / 1e9:.3f} billion")
    assert_in_order(out, figures)


# --- the Hang Seng arithmetic ---------------------------------------------------------------


def test_computed_levels_within_one_basis_point(recap_con: duckdb.DuckDBPyConnection) -> None:
    rows = recap_con.execute(
        """
        SELECT index_code, level, computed_level, diff_bp, constituents, constituents_priced
        FROM mart.index_moves WHERE trade_date = ? AND snapshot = ?
        """,
        PART,
    ).fetchall()
    assert len(rows) == 3
    for code, level, computed, diff_bp, members, priced in rows:
        assert abs(level / computed - 1) * 1e4 <= 1.0, (code, level, computed)
        assert diff_bp == pytest.approx((level / computed - 1) * 1e4, abs=1e-6)
        assert members == priced > 0, code  # every member priced: no term missing


def test_constituent_counts(recap_con: duckdb.DuckDBPyConnection) -> None:
    counts = dict(
        recap_con.execute(
            """
            SELECT index_code, count(*) FROM mart.index_attribution
            WHERE trade_date = ? AND snapshot = ? GROUP BY ALL
            """,
            PART,
        ).fetchall()
    )
    hsi_nov = pd.read_csv(SAMPLE_DATA_DIR / "hsi_constituents" / "2025-11.csv")
    assert counts == {"HSI": len(hsi_nov), "HSCEI": 50, "HSTECH": 30}


def test_attribution_adds_up_to_the_computed_change(recap_con: duckdb.DuckDBPyConnection) -> None:
    rows = recap_con.execute(
        """
        SELECT m.index_code, m.computed_level - m.prev_close, m.change_points,
               sum(a.contribution_points), sum(a.weight)
        FROM mart.index_moves AS m
        JOIN mart.index_attribution AS a USING (trade_date, snapshot, index_code)
        WHERE m.trade_date = ? AND m.snapshot = ?
        GROUP BY ALL
        """,
        PART,
    ).fetchall()
    assert len(rows) == 3
    for code, computed_change, official_change, contributions, weights in rows:
        assert contributions == pytest.approx(computed_change, abs=1e-6), code
        assert weights == pytest.approx(1.0, abs=1e-9), code
        # and within a basis point of the level from the official move
        assert abs(contributions - official_change) < 3.0, code


# --- the review -----------------------------------------------------------------------------

_FIGURE = re.compile(r"\d+\.HK|\d[\d,]*(?:\.\d+)?%?")


def recap_figures_from_text(recap: dict) -> list[str]:
    """Every figure of the recap text, in the text's order, as the text writes it.

    The numbers are parsed out of the .txt from "Market Overview" on (the headline's "below
    25,000" is the article's slip, and the intro's "more than 3%" is not a figure of the
    recap); the JSON says which numbers are figures (a date's "21" or "Top 10" are not).
    """
    text = RECAP_TXT.read_text(encoding="utf-8")
    body = text[text.index("Market Overview") :]
    wanted: set[str] = set()
    for index in recap["indices"]:
        wanted |= {f"{index['level']:,.2f}", f"{abs(index['change_pct']):.2f}%"}
    wanted |= {f"{v:,}" for k, v in recap["breadth"].items() if k != "total"}
    for m in recap["sectors"]["named_movers"]:
        wanted.add(f"{abs(m['change_pct']):.2f}%")
    for m in recap["macro"]:
        wanted.add(f"{m['value']}%" if m["unit"] == "percent" else f"{m['value']}")
    for t in recap["top_turnover"]:
        wanted |= {
            code_hk(t["symbol"]),
            f"{t['last']:.2f}",
            f"{abs(t['change_pct']):.2f}%",
            f"{t['turnover_hkd'] / 1e9:.3f}",
        }
    return [tok for tok in _FIGURE.findall(body) if tok in wanted]


def find_figure(text: str, figure: str, start: int) -> int:
    """Position of ``figure`` at or after ``start`` as a whole number (not inside another)."""
    m = re.compile(r"(?<![\d.,])" + re.escape(figure) + r"(?![\d])").search(text, start)
    return -1 if m is None else m.start()


def assert_in_order(text: str, figures: list[str]) -> None:
    pos = 0
    for fig in figures:
        found = find_figure(text, fig, pos)
        assert found >= 0, f"{fig!r} missing after position {pos}:\n{text[pos : pos + 600]}"
        pos = found + len(fig)


def test_recap_text_parses_to_the_json_figures(recap: dict) -> None:
    """The figures parsed from the .txt are the JSON's, in the recap's order (53 of them)."""
    figures = recap_figures_from_text(recap)
    expected = []
    for index in recap["indices"]:
        expected += [f"{abs(index['change_pct']):.2f}%", f"{index['level']:,.2f}"]
    expected += [f"{recap['breadth'][k]:,}" for k in ("advancers", "decliners", "unchanged")]
    expected += [f"{abs(m['change_pct']):.2f}%" for m in recap["sectors"]["named_movers"]]
    expected += ["3.8%", "51.2"]
    for t in recap["top_turnover"]:
        expected += [
            code_hk(t["symbol"]),
            f"{t['last']:.2f}",
            f"{abs(t['change_pct']):.2f}%",
            f"{t['turnover_hkd'] / 1e9:.3f}",
        ]
    assert figures == expected
    assert len(figures) == 6 + 3 + 2 + 2 + 40


@pytest.fixture(scope="module")
def review(recap_home: Built) -> str:
    from hk_pipeline.report.markdown import render_review

    con = recap_home.connect()
    try:
        return render_review(con, D, SNAP)
    finally:
        con.close()


def test_report_command_and_file_carry_the_review(
    recap_home: Built, review: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from hk_pipeline import cli

    with pipeline_env(recap_home.home):
        code = cli.main(["report", "--date", D.isoformat(), "--snapshot", SNAP])
    out = capsys.readouterr().out
    assert code == 0
    assert out == review + "\n"
    written = (recap_home.settings.reports_dir / f"{D.isoformat()}_{SNAP}.md").read_text(
        encoding="utf-8"
    )
    assert written.startswith(review)
    assert f"]({D.isoformat()}_{SNAP}.png)" in written[len(review) :]


def test_review_carries_every_recap_figure_in_order(review: str, recap: dict) -> None:
    figures = recap_figures_from_text(recap)
    assert len(figures) == 53
    assert_in_order(review, figures)
    # and the sections in the recap's order, the names in the turnover table's order
    assert_in_order(
        review,
        [
            "## Market Overview",
            "## Sector Performance",
            "## Macroeconomic Background",
            "## Top 10 Market Turnover",
            *[t["name"] for t in recap["top_turnover"]],
        ],
    )


def test_review_words_the_figures_as_the_recap(review: str, recap: dict) -> None:
    for index in recap["indices"]:
        assert f"fell {abs(index['change_pct']):.2f}% to {index['level']:,.2f} points" in review
    b = recap["breadth"]
    rose, fell, flat = (f"{b[k]:,}" for k in ("advancers", "decliners", "unchanged"))
    assert f"{rose} stocks rose, {fell} fell and {flat} were flat" in review
    for t in recap["top_turnover"]:
        assert (
            f"{t['rank']}. {t['name']} ({code_hk(t['symbol'])}) latest price HKD"
            f" {t['last']:.2f}, down {abs(t['change_pct']):.2f}%, turnover HKD"
            f" {t['turnover_hkd'] / 1e9:.3f} billion"
        ) in review
    assert "Source: simulated sample market — not real prices" in review


def test_review_names_the_biggest_hsi_draggers(
    review: str, recap_con: duckdb.DuckDBPyConnection
) -> None:
    draggers = recap_con.execute(
        """
        SELECT name, symbol, contribution_points FROM mart.index_attribution
        WHERE trade_date = ? AND snapshot = ? AND index_code = 'HSI'
        ORDER BY contribution_points LIMIT 3
        """,
        PART,
    ).fetchall()
    assert all(points < 0 for _, _, points in draggers)
    sentence = next(
        line for line in review.splitlines() if "dragged the Hang Seng Index most" in line
    )
    assert_in_order(
        sentence,
        [f"{name} ({code_hk(symbol)}, " for name, symbol, _ in draggers],
    )
    for _, _, points in draggers:
        assert f"{points:+,.2f} points" in sentence


def test_sectors_technology_leads_the_decline_property_and_healthcare_up(
    recap_con: duckdb.DuckDBPyConnection, review: str, recap: dict
) -> None:
    sectors = recap_con.execute(
        """
        SELECT industry, change_pct, rank FROM mart.sector_performance
        WHERE trade_date = ? AND snapshot = ? ORDER BY change_pct
        """,
        PART,
    ).fetchdf()
    worst = sectors.iloc[0]
    assert worst["industry"] == recap["sectors"]["led_decline"]
    assert worst["rank"] == sectors["rank"].max()
    up = set(sectors.loc[sectors["change_pct"] > 0, "industry"])
    assert set(recap["sectors"]["up"]) <= up
    assert f"{recap['sectors']['led_decline']} led the decline" in review
    for industry in recap["sectors"]["up"]:
        assert industry in review.split("## Sector Performance")[1]


# --- the chart ------------------------------------------------------------------------------


def test_chart_is_a_real_png_of_the_snapshot(recap_home: Built, recap: dict) -> None:
    from PIL import Image

    path = recap_home.settings.reports_dir / f"{D.isoformat()}_{SNAP}.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    with Image.open(path) as im:
        assert im.format == "PNG"
        width, height = im.size
        pixels = np.asarray(im.convert("RGB"))
    assert width > 600 and height > 400
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not one flat colour

    # The breadth panel is there and drawn to scale: the red "Down" bar over the green "Up".
    def count(hex_colour: str) -> int:
        rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(pixels.astype(int) - rgb).sum(axis=2) <= 6).sum())

    up, down = count("#2e7d32"), count("#c62828")
    b = recap["breadth"]
    assert up > 0 and down > 0
    assert down / up == pytest.approx(b["decliners"] / b["advancers"], rel=0.15)


# --- re-runs and point in time --------------------------------------------------------------


def test_second_run_leaves_identical_contents(recap_home: Built) -> None:
    info = recap_home.info
    first, second = info["checksums_first"], info["checksums_second"]
    tables = set(first)
    assert {
        "raw.quotes",
        "raw.index_levels",
        "raw.intraday_bars",
        "raw.macro_series",
        *MART_TABLES,
        "ref.securities",
        "ref.index_constituents",
    } <= tables
    assert first["raw.quotes"][0] == 2726
    assert first["raw.index_levels"][0] == 3
    assert first["raw.intraday_bars"][0] > 2726 * 10
    assert second == first
    # the rows were really rewritten by the second run, not left alone
    assert len(info["run_ids_first"]) == len(info["run_ids_second"]) == 1
    assert info["run_ids_first"] != info["run_ids_second"]
    assert info["markdown_first"] == info["markdown_second"]


def _hsi_list(month: str) -> set[str]:
    frame = pd.read_csv(SAMPLE_DATA_DIR / "hsi_constituents" / f"{month}.csv", dtype=str)
    return {s.removesuffix(".HK").zfill(5) for s in frame["Symbol"]}


def test_hsi_members_point_in_time(recap_home: Built) -> None:
    assert recap_home.info["ref_run_success"] is True
    con = recap_home.connect()
    try:

        def members(d) -> set[str]:
            rows = con.execute(
                """
                SELECT symbol FROM ref.index_constituents
                WHERE index_code = 'HSI' AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
                """,
                [d, d],
            ).fetchall()
            return {r[0] for r in rows}

        august, november = members(MEMBERSHIP_DAY), members(D)
    finally:
        con.close()
    assert august == _hsi_list("2025-08")
    assert november == _hsi_list("2025-11")
    assert august != november
    assert november - august == _hsi_list("2025-11") - _hsi_list("2025-08")
    assert august - november == _hsi_list("2025-08") - _hsi_list("2025-11")


def test_every_row_says_sample(recap_con: duckdb.DuckDBPyConnection) -> None:
    # every validated table but raw.index_contributions, which only the live source fills
    for table in (t for t in source_tables() if t != "raw.index_contributions"):
        sources = recap_con.execute(f"SELECT DISTINCT source FROM {table}").fetchall()
        assert sources == [("sample",)], table


def test_nothing_quarantined(recap_con: duckdb.DuckDBPyConnection) -> None:
    for (table,) in recap_con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_schema = 'quarantine'"
    ).fetchall():
        assert recap_con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
