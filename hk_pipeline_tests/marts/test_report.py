"""The review (Markdown, chart, terminal summary) on hand-built warehouses.

Besides the tiny warehouse of conftest.py, a recap-shaped one is built from the reference
recap's JSON (three index levels, 2,726 shares with 233 up / 1,592 down / 901 flat, the
top-10 turnover names, the two macro figures): the Markdown must carry the recap's figures,
written as the recap writes them, in the recap's order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg

from hk_pipeline.marts import MART_NAMES, compute_mart, write_mart
from hk_pipeline.report import render_chart, render_review, render_summary, write_report
from hk_pipeline.report.markdown import SAMPLE_SOURCE_LINE, stock_code
from hk_pipeline_tests.marts.conftest import D, _insert, hkt, populate, write_marts

RECAP_JSON = (
    Path(__file__).parents[1] / "fixtures" / "reference" / ("market-recap-2025-11-21-midday.json")
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_in_order(text: str, figures: list[str]) -> None:
    pos = 0
    for fig in figures:
        found = text.find(fig, pos)
        assert found >= 0, f"{fig!r} missing after position {pos}:\n{text[pos : pos + 400]}"
        pos = found + len(fig)


def test_stock_code_as_the_recap_writes_it() -> None:
    assert [stock_code(s) for s in ("09988", "00700", "00981", "01810")] == [
        "9988.HK",
        "700.HK",
        "981.HK",
        "1810.HK",
    ]


def test_review_sections_and_figures(warehouse) -> None:
    write_marts(warehouse)
    md = render_review(warehouse, D, "midday")
    assert_in_order(
        md,
        [
            "Mid-Day Review",
            SAMPLE_SOURCE_LINE,
            "## Market Overview",
            "Hang Seng Index fell 6.00% to 940.05 points",
            "Hang Seng TECH Index fell 0.71% to 4,964.29",
            "2 stocks rose, 3 fell and 3 were flat",
            "2 of the flat did not trade",
            "1 listing-day share without a previous close",
            "dragged the Hang Seng Index most were Gamma Chips (3.HK, -10.00%, -50.00 points)",
            "Beta Insurance (2.HK, -5.00%, -20.00 points)",
            "Alpha Bank (1.HK, +10.00%, +10.00 points)",
            "## Sector Performance",
            "Information Technology led the decline, down 6.94%",
            "with Gamma Chips down 10.00%",
            "No industry rose",
            "## Macroeconomic Background",
            "3.9% for Jul-Sep 2025",
            "51.2 for October 2025",
            "up 0.6 from 50.6",
            "US$424.0 billion at end-September 2025",
            "## Top 10 Market Turnover",
            "1. Gamma Chips (3.HK) latest price HKD 45.00, down 10.00%",
            "2. Beta Insurance",
            "3. Delta Soft",
            "Lambda New (8002.HK)",
            "no previous close",
        ],
    )
    assert "Iota Future" not in md  # not in force on the day
    close = render_review(warehouse, D, "close")
    assert "Close Review" in close and "at the close" in close


def test_review_reads_written_marts(warehouse) -> None:
    for name in MART_NAMES:
        frame = compute_mart(warehouse, name, D, "midday")
        write_mart(warehouse, name, frame, trade_date=D, snapshot="midday", run_id="r")
    # change raw after the marts were written: the report shows the marts' numbers
    warehouse.execute("UPDATE raw.index_levels SET last = 1.0")
    assert "fell 6.00% to 940.05" in render_review(warehouse, D, "midday")


def _png_ok(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000
    img = mpimg.imread(path)
    height, width = img.shape[:2]
    assert width >= 800 and height >= 400
    assert img[..., :3].std() > 0.05  # not a blank canvas
    return width, height


@pytest.mark.parametrize("snapshot", ["midday", "close"])
def test_chart_is_a_real_png(warehouse, tmp_path: Path, snapshot: str) -> None:
    write_marts(warehouse)
    path = render_chart(warehouse, D, snapshot, tmp_path / "c.png")
    _png_ok(path)


def test_chart_without_bars_does_not_fail(tmp_path: Path) -> None:
    from hk_pipeline.report.chart import index_paths
    from hk_pipeline_tests.lake_access import write_home

    con = write_home(tmp_path / "w")
    populate(con, with_bars=False)
    write_marts(con)
    assert index_paths(con, D, "midday").empty
    path = render_chart(con, D, "midday", tmp_path / "c.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    con.close()


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The tiny warehouse without intraday bars."""
    from hk_pipeline_tests.lake_access import write_home

    con = write_home(tmp_path / "bare")
    populate(con, with_bars=False)
    write_marts(con)
    try:
        yield con
    finally:
        con.close()


def _on_a_new_thread(fn: Callable[[], Path]) -> Path:
    """Run fn on a thread of its own: it draws on a figure built for it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def test_chart_does_not_depend_on_the_chart_drawn_before(warehouse, bare, tmp_path: Path) -> None:
    write_marts(warehouse)
    """The figure is reused between calls: every state (lines and legend, no bars, no breadth)
    must come out byte for byte as on a new figure, whatever was drawn before it."""
    from hk_pipeline.report.chart import draw_chart, index_paths

    no_breadth = pd.DataFrame({"universe": pd.Series([], dtype=str)})
    charts: dict[str, Callable[[Path], Path]] = {
        "midday": lambda p: render_chart(warehouse, D, "midday", p),
        "close": lambda p: render_chart(warehouse, D, "close", p),
        "no bars": lambda p: render_chart(bare, D, "midday", p),
        "no breadth": lambda p: draw_chart(
            D, "close", index_paths(warehouse, D, "close"), no_breadth, ["hkex"], p
        ),
    }
    fresh = {
        name: _on_a_new_thread(lambda draw=draw, name=name: draw(tmp_path / f"new {name}.png"))
        for name, draw in charts.items()
    }
    for order in (["midday", "no bars", "midday"], ["no breadth", "close", "no bars"]):
        for i, name in enumerate(order):
            drawn = charts[name](tmp_path / f"{i} {name}.png")
            assert drawn.read_bytes() == fresh[name].read_bytes(), (order, name)
    assert len({p.read_bytes() for p in fresh.values()}) == len(fresh)


def _paths(series: dict[str, list[float]]) -> pd.DataFrame:
    """Index paths as index_paths returns them, one point a minute from 09:30."""
    start = pd.Timestamp("2025-11-21 09:30")
    rows = [
        (code, start + pd.Timedelta(minutes=i), value)
        for code, values in series.items()
        for i, value in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["symbol", "ts_local", "change_pct"])


def test_legend_place_does_not_depend_on_the_chart_drawn_before(warehouse, tmp_path: Path) -> None:
    """The legend goes where no line is (loc="best"); a line of the previous chart that is
    not in this one must not count. Here HSCEI ran along the top left, where the legend of
    the HSI-only chart (a rising diagonal) goes."""
    from hk_pipeline.marts.runner import read_mart
    from hk_pipeline.report.chart import draw_chart

    write_marts(warehouse)
    breadth = read_mart(warehouse, "market_breadth", D, "midday")
    rising = list(np.linspace(0, 1, 30))
    hsi_only = _paths({"HSI": rising})
    with_hscei = _paths({"HSI": rising, "HSCEI": [1.0] * 30})

    def draw(paths: pd.DataFrame, name: str) -> bytes:
        return draw_chart(D, "midday", paths, breadth, [], tmp_path / name).read_bytes()

    fresh = _on_a_new_thread(lambda: draw_chart(D, "midday", hsi_only, breadth, [], tmp_path / "f"))
    draw(with_hscei, "before.png")
    assert draw(hsi_only, "after.png") == fresh.read_bytes()


def test_write_report_is_the_chart_and_the_review(warehouse, bare, tmp_path: Path) -> None:
    """write_report reads the partition once for both: the same files as the parts alone."""
    write_marts(warehouse)
    for con, note in ((warehouse, ""), (bare, "\n_Chart: no intraday bars for this snapshot; ")):
        md, png = write_report(con, D, "midday", tmp_path / "reports")
        assert png.read_bytes() == render_chart(con, D, "midday", tmp_path / "c.png").read_bytes()
        text = md.read_text(encoding="utf-8")
        review = render_review(con, D, "midday")
        assert text.startswith(review + note)
        assert text.endswith("\n![2025-11-21 midday chart](2025-11-21_midday.png)\n")


def test_close_chart_spans_the_whole_day(warehouse) -> None:
    from hk_pipeline.report.chart import index_paths

    midday = index_paths(warehouse, D, "midday")
    close = index_paths(warehouse, D, "close")
    assert set(midday["symbol"]) == {"HSI", "HSTECH"}
    assert len(close) == len(midday) + 2 * 181
    assert midday.groupby("symbol")["change_pct"].first().abs().max() < 0.1


def test_summary_and_files(warehouse, tmp_path: Path) -> None:
    write_marts(warehouse)
    text = render_summary(warehouse, D, "midday")
    for fig in ("Index moves", "940.05", "Breadth", "main_board", "Top 10 turnover", "3.HK"):
        assert fig in text
    assert max(len(line) for line in text.splitlines()) <= 110
    md, png = write_report(warehouse, D, "midday", tmp_path / "reports")
    assert md == tmp_path / "reports" / "2025-11-21_midday.md"
    assert png == tmp_path / "reports" / "2025-11-21_midday.png"
    assert "## Top 10 Market Turnover" in md.read_text(encoding="utf-8")
    assert "(2025-11-21_midday.png)" in md.read_text(encoding="utf-8")
    _png_ok(png)
    assert not list((tmp_path / "reports").glob(".*tmp"))


# --- a warehouse shaped like the recap ------------------------------------------------------


def _recap_warehouse(con: duckdb.DuckDBPyConnection) -> dict:
    recap = json.loads(RECAP_JSON.read_text(encoding="utf-8"))
    day = date.fromisoformat(recap["trade_date"])
    top = pd.DataFrame(recap["top_turnover"])
    n_up, n_down, n_flat = (recap["breadth"][k] for k in ("advancers", "decliners", "unchanged"))
    others = n_up + n_down + n_flat - len(top)
    symbols = [f"{i:05d}" for i in range(20000, 20000 + others)]
    # the ten named shares all fell: the rest give the remaining advancers/decliners/flat
    states = ["up"] * n_up + ["down"] * (n_down - len(top)) + ["flat"] * n_flat
    rest = pd.DataFrame({"symbol": symbols, "state": states})
    rest["prev_close"] = 10.0
    rest["last"] = rest["state"].map({"up": 10.1, "down": 9.9, "flat": 10.0})
    rest.loc[rest.index[-50:], "last"] = None  # 50 of the flat did not trade
    rest["turnover"] = 1e6
    rest["name"] = "Share " + rest["symbol"]
    rest["industry"] = rest["state"].map(
        {"up": "Healthcare", "down": "Financials", "flat": "Utilities"}
    )
    property_risers = rest.index[: n_up // 2]  # rise more than the Healthcare risers
    rest.loc[property_risers, "industry"] = "Properties & Construction"
    rest.loc[property_risers, "last"] = 10.2
    named = top.rename(columns={"turnover_hkd": "turnover"}).assign(
        industry="Information Technology"
    )
    quotes = pd.concat([named, rest], ignore_index=True)
    sec = quotes[["symbol", "name", "industry"]].assign(
        board="Main Board", issued_shares=1_000_000, valid_from=date(2020, 1, 1), valid_to=None
    )
    _insert(con, "ref.securities", sec)
    cons = named[["symbol"]].assign(
        index_code="HSI",
        issued_shares=1_000_000,
        faf=1.0,
        cap_factor=1.0,
        valid_from=date(2020, 1, 1),
        valid_to=None,
    )
    _insert(con, "ref.index_constituents", cons)
    q = quotes[["symbol", "prev_close", "last", "turnover"]].assign(
        trade_date=day, snapshot="midday", volume=0
    )
    _insert(con, "raw.quotes", q)
    prev = {"HSI": 25835.57, "HSCEI": 9143.0, "HSTECH": 5574.6}
    levels = pd.DataFrame(
        [(i["index_code"], prev[i["index_code"]], i["level"]) for i in recap["indices"]],
        columns=["index_code", "prev_close", "last"],
    ).assign(trade_date=day, snapshot="midday")
    _insert(con, "raw.index_levels", levels)
    macro = pd.DataFrame(
        [
            ("unemployment_rate_sa", "2025-09", 3.9, "percent", date(2025, 10, 17), None),
            ("unemployment_rate_sa", "2025-10", 3.8, "percent", date(2025, 11, 18), None),
            ("pmi", "2025-09", 50.8, "index", date(2025, 10, 6), hkt(date(2025, 10, 6), 8, 30)),
            ("pmi", "2025-10", 51.2, "index", date(2025, 11, 5), hkt(date(2025, 11, 5), 8, 30)),
        ],
        columns=["series_id", "period", "value", "unit", "released_on", "released_at"],
    )
    macro["released_at"] = pd.to_datetime(macro["released_at"], utc=True)
    _insert(con, "raw.macro_series", macro)
    return recap


def test_review_carries_the_recap_figures_in_order(tmp_path: Path) -> None:
    from hk_pipeline_tests.lake_access import write_home

    con = write_home(tmp_path / "w")
    recap = _recap_warehouse(con)
    day = date.fromisoformat(recap["trade_date"])
    write_marts(con, day, ("midday",))
    md = render_review(con, day, "midday")
    attr = compute_mart(con, "index_attribution", day, "midday")
    worst = attr[(attr["index_code"] == "HSI") & (attr["drag_rank"] == 1)].iloc[0]
    figures = [
        "fell 2.07% to 25,300.28 points",
        "fell 2.14% to 8,947.36 points",
        "fell 3.11% to 5,401.25 points",
        "233 stocks rose, 1,592 fell and 901 were flat",
        f"dragged the Hang Seng Index most were {worst['name']} ({stock_code(worst['symbol'])}",
        "Information Technology led the decline",
        "Alibaba-W down 4.07%",
        "SMIC down 5.31%",
        "Properties & Construction",
        "Healthcare",
        "3.8% for Aug-Oct 2025",
        "down 0.1 percentage point from 3.9%",
        "51.2 for October 2025",
        "up 0.4 from 50.8",
    ]
    for row in recap["top_turnover"]:
        figures.append(
            f"{row['rank']}. {row['name']} ({stock_code(row['symbol'])}) latest price"
            f" HKD {row['last']:,.2f}, down {abs(row['change_pct']):.2f}%,"
            f" turnover HKD {row['turnover_hkd'] / 1e9:.3f} billion"
        )
    assert_in_order(md, figures)
    assert "11. " not in md
    con.close()
