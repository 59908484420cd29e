"""The day's review from the marts: Markdown, a PNG chart and terminal tables (no Dagster)."""

from hk_pipeline.report.chart import render_chart
from hk_pipeline.report.files import write_report
from hk_pipeline.report.markdown import render_review
from hk_pipeline.report.summary import render_summary

__all__ = ["render_chart", "render_review", "render_summary", "write_report"]
