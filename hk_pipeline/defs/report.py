"""``mart/market_report``: the review of one snapshot, as Markdown and a PNG chart.

The files go to ``<reports_dir>``; the Markdown and the chart are attached as metadata so the
review reads in the Dagster UI (the chart as a base64 data URI image, plus its path).
"""

import base64
from pathlib import Path

import dagster as dg

from hk_pipeline.defs.marts import MART_KEYS
from hk_pipeline.defs.partitions import BACKFILL_POLICY, run_partitions, snapshot_partitions_def
from hk_pipeline.defs.resources import PipelineSettingsResource, WarehouseResource
from hk_pipeline.report.files import write_report
from hk_pipeline.report.markdown import NoQuotesError

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
    backfill_policy=BACKFILL_POLICY,
    kinds={"markdown", "python"},
)
def market_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline: PipelineSettingsResource,
) -> dg.MaterializeResult:

    written: list[tuple[Path, Path]] = []
    with warehouse.connection() as con:
        for trade_date, snapshot in run_partitions(context):
            try:
                md, png = write_report(con, trade_date, snapshot, Path(pipeline.reports_dir))
            except NoQuotesError as exc:
                # refused, not a review of a market where every share was flat
                raise dg.Failure(
                    description=f"mart/market_report {trade_date}|{snapshot}: {exc}",
                    allow_retries=False,
                ) from exc
            written.append((Path(md), Path(png)))
    # the UI shows the last partition's review; a ranged run lists every file it wrote
    md_path, png_path = written[-1]
    metadata = {
        "review": dg.MetadataValue.md(md_path.read_text(encoding="utf-8")),
        "chart": dg.MetadataValue.md(chart_markdown(png_path)),
        "markdown_path": dg.MetadataValue.path(str(md_path)),
        "chart_path": dg.MetadataValue.path(str(png_path)),
    }
    if len(written) > 1:
        metadata["reports"] = dg.MetadataValue.json([str(md) for md, _ in written])
    return dg.MaterializeResult(metadata=metadata)
