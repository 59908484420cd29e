"""Writing the review of one partition to ``<reports_dir>/<date>_<snapshot>.md`` and ``.png``."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from hk_pipeline.report.chart import render_chart
from hk_pipeline.report.markdown import render_review


def report_paths(trade_date: date, snapshot: str, reports_dir: Path) -> tuple[Path, Path]:
    """``(reports_dir/2025-11-21_midday.md, reports_dir/2025-11-21_midday.png)``."""
    stem = f"{trade_date.isoformat()}_{snapshot}"
    return reports_dir / f"{stem}.md", reports_dir / f"{stem}.png"


def write_report(
    con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str, reports_dir: Path
) -> tuple[Path, Path]:
    """Write the Markdown review and its chart; return (markdown path, PNG path).

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    The Markdown links the chart by its file name.
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    md_path, png_path = report_paths(trade_date, snapshot, reports_dir)

    tmp_png = png_path.with_name(f".{png_path.name}.tmp")
    render_chart(con, trade_date, snapshot, tmp_png)
    os.replace(tmp_png, png_path)

    text = render_review(con, trade_date, snapshot)
    text += f"\n![{trade_date.isoformat()} {snapshot} chart]({png_path.name})\n"
    tmp_md = md_path.with_name(f".{md_path.name}.tmp")
    tmp_md.write_text(text, encoding="utf-8")
    os.replace(tmp_md, md_path)
    return md_path, png_path
