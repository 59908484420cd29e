"""``mart/market_report``: the review of one snapshot, as Markdown and a PNG chart.

The files go to ``<reports_dir>``; the Markdown and the chart are attached as metadata so the
review reads in the Dagster UI (the chart as a base64 data URI image, plus its path).
"""

import base64
from pathlib import Path

import dagster as dg

from hk_pipeline.defs.marts import MART_KEYS
from hk_pipeline.defs.partitions import parse_partition_key, snapshot_partitions_def
from hk_pipeline.defs.resources import PipelineSettingsResource, WarehouseResource

REPORT_KEY = dg.AssetKey(["mart", "market_report"])
BARS = dg.AssetKey(["raw", "intraday_bars"])


def chart_markdown(png_path: Path) -> str:
    """A Markdown image embedding the PNG, so the UI shows it without serving files."""
    data = base64.b64encode(png_path.read_bytes()).decode("ascii")
    return f"![{png_path.name}](data:image/png;base64,{data})"


@dg.asset(
    key=REPORT_KEY,
    deps=[*MART_KEYS, BARS],
    description=(
        "The snapshot's market review (overview, sector performance, macro background, top-10"
        " turnover) as Markdown, with a PNG of the indices' intraday path and breadth; written to"
        " the reports directory and shown here as metadata."
    ),
    group_name="mart",
    partitions_def=snapshot_partitions_def,
    kinds={"markdown", "python"},
)
def market_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline: PipelineSettingsResource,
) -> dg.MaterializeResult:
    from hk_pipeline.report.files import write_report

    trade_date, snapshot = parse_partition_key(context.partition_key)
    with warehouse.connection() as con:
        md_path, png_path = write_report(con, trade_date, snapshot, Path(pipeline.reports_dir))
    md_path, png_path = Path(md_path), Path(png_path)
    return dg.MaterializeResult(
        metadata={
            "review": dg.MetadataValue.md(md_path.read_text(encoding="utf-8")),
            "chart": dg.MetadataValue.md(chart_markdown(png_path)),
            "markdown_path": dg.MetadataValue.path(str(md_path)),
            "chart_path": dg.MetadataValue.path(str(png_path)),
        }
    )
