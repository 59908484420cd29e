"""Terminal tables for the CLI after a run: index moves, breadth, top-10 turnover (rich)."""

from __future__ import annotations

import io
from datetime import date

import duckdb
from rich.console import Console
from rich.table import Table

from hk_pipeline.indices import INDEX_CODES, INDEX_NAMES
from hk_pipeline.marts.runner import read_mart
from hk_pipeline.report.markdown import (
    SNAPSHOT_LABELS,
    billions,
    missing,
    num,
    quote_sources,
    signed,
    source_line,
    stock_code,
)

WIDTH = 110
# All six universes of mart.market_breadth, in the order of views.latest_market_breadth: the
# whole market and its two boards, then the members of each index.
BREADTH_UNIVERSES = ("all", "main_board", "gem", *INDEX_CODES)


def _index_table(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> Table:
    table = Table(title="Index moves")
    for col in ("Index", "Level", "Change", "Change %", "High", "Low", "Formula", "Diff bp"):
        table.add_column(col, justify="left" if col == "Index" else "right")
    moves = read_mart(con, "index_moves", trade_date, snapshot)
    for r in moves.itertuples():
        table.add_row(
            INDEX_NAMES.get(r.index_code, r.index_code),
            num(r.level),
            signed(r.change_points),
            signed(r.change_pct, suffix="%"),
            num(r.high),
            num(r.low),
            num(r.computed_level),
            signed(r.diff_bp),
        )
    return table


def _breadth_table(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> Table:
    table = Table(title="Breadth")
    for col in (
        "Universe",
        "Up",
        "Down",
        "Flat",
        "of which untraded",
        "No prev close",
        "Total",
        "A/D",
        "Turnover HKD",
    ):
        table.add_column(col, justify="left" if col == "Universe" else "right")
    breadth = read_mart(con, "market_breadth", trade_date, snapshot)
    order = {u: i for i, u in enumerate(BREADTH_UNIVERSES)}
    breadth = breadth.sort_values("universe", key=lambda col: col.map(order))
    for r in breadth.itertuples():
        table.add_row(
            r.universe,
            f"{int(r.advancers):,}",
            f"{int(r.decliners):,}",
            f"{int(r.unchanged):,}",
            f"{int(r.untraded):,}",
            f"{int(r.no_prev_close):,}",
            f"{int(r.total):,}",
            num(r.ad_ratio),
            billions(r.total_turnover),
        )
    return table


def _turnover_table(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> Table:
    table = Table(title="Top 10 turnover")
    for col in ("#", "Code", "Name", "Last HKD", "Change %", "Turnover HKD"):
        table.add_column(col, justify="left" if col in ("Code", "Name") else "right")
    top = read_mart(con, "top_turnover", trade_date, snapshot).sort_values("rank").head(10)
    for r in top.itertuples():
        table.add_row(
            str(int(r.rank)),
            stock_code(r.symbol),
            "" if missing(r.name) else str(r.name),
            num(r.last),
            signed(r.change_pct, suffix="%"),
            billions(r.turnover),
        )
    return table


def render_summary(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> str:
    """The partition's key tables as plain text, WIDTH columns wide."""
    console = Console(record=True, width=WIDTH, file=io.StringIO(), color_system=None)
    label = SNAPSHOT_LABELS.get(snapshot, snapshot)
    console.print(f"Hong Kong market, {trade_date.isoformat()} {label}", style="bold")
    console.print(source_line(quote_sources(con, trade_date, snapshot)))
    console.print(_index_table(con, trade_date, snapshot))
    console.print(_breadth_table(con, trade_date, snapshot))
    console.print(_turnover_table(con, trade_date, snapshot))
    return console.export_text()
