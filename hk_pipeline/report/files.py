"""Writing the review of one partition to ``<reports_dir>/<date>_<snapshot>.md`` and ``.png``."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from hk_pipeline.faults import fault_point
from hk_pipeline.marts.runner import read_mart
from hk_pipeline.report.chart import NO_BARS_TEXT, draw_chart, index_paths
from hk_pipeline.report.markdown import no_session_text, read_review_data, review_text


def report_paths(trade_date: date, snapshot: str, reports_dir: Path) -> tuple[Path, Path]:
    """``(reports_dir/2025-11-21_midday.md, reports_dir/2025-11-21_midday.png)``."""
    stem = f"{trade_date.isoformat()}_{snapshot}"
    return reports_dir / f"{stem}.md", reports_dir / f"{stem}.png"


def write_report(
    con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str, reports_dir: Path
) -> tuple[Path, Path]:
    """Write the Markdown review and its chart; return (markdown path, PNG path).

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    The Markdown links the chart by its file name, and says when there were no intraday bars
    to draw. The rows are read once for both (the chart's breadth and sources are the
    review's, and the bars tell whether to add that note). A partition without quotes raises
    ``NoQuotesError``: no review of missing data.
    """
    reports_dir = Path(reports_dir)
    md_path, png_path = report_paths(trade_date, snapshot, reports_dir)

    quiet = no_session_text(trade_date, snapshot)
    if quiet is not None:
        # a morning weather cancelled: a short review saying so and an empty chart
        reports_dir.mkdir(parents=True, exist_ok=True)
        paths = index_paths(con, trade_date, snapshot)
        breadth = read_mart(con, "market_breadth", trade_date, snapshot)
        draw_chart(trade_date, snapshot, paths, breadth, [], png_path)
        md_path.write_text(
            quiet + f"\n![{trade_date.isoformat()} {snapshot} chart]({png_path.name})\n",
            encoding="utf-8",
        )
        return md_path, png_path
    # read first: a partition without quotes (NoQuotesError) leaves no file nor folder behind
    data = read_review_data(con, trade_date, snapshot)
    paths = index_paths(con, trade_date, snapshot)
    reports_dir.mkdir(parents=True, exist_ok=True)

    tmp_png = png_path.with_name(f".{png_path.name}.tmp")
    draw_chart(trade_date, snapshot, paths, data.breadth, data.sources, tmp_png)
    fault_point("report.chart_before_rename")
    os.replace(tmp_png, png_path)

    text = review_text(trade_date, snapshot, data)
    if paths.empty:
        # a source without bars (a landing set without its optional bars file): say so
        text += f"\n_Chart: {NO_BARS_TEXT}; it shows breadth only._\n"
    text += f"\n![{trade_date.isoformat()} {snapshot} chart]({png_path.name})\n"
    tmp_md = md_path.with_name(f".{md_path.name}.tmp")
    tmp_md.write_text(text, encoding="utf-8")
    fault_point("report.markdown_before_rename")
    os.replace(tmp_md, md_path)
    return md_path, png_path
