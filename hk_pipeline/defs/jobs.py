"""The snapshot job: every asset of one (trading day, snapshot) partition, in one run.

Backfills launched from the UI use Dagster's default: one run per partition (a single-run
backfill policy is not set; multi-partitioned single-run backfills have open Dagster issues).
"""

from __future__ import annotations

import dagster as dg

from hk_pipeline.defs.partitions import snapshot_partitions_def

SNAPSHOT_JOB_NAME = "snapshot_job"
REPORT_KEY = dg.AssetKey(["mart", "market_report"])
# Judged by snapshot_freshness_sensor against the wall clock, not by the run itself (a
# backfilled partition would always be "late").
FRESHNESS_CHECK_KEYS = [
    dg.AssetCheckKey(REPORT_KEY, "midday_on_time"),
    dg.AssetCheckKey(REPORT_KEY, "close_on_time"),
]

snapshot_job = dg.define_asset_job(
    SNAPSHOT_JOB_NAME,
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*FRESHNESS_CHECK_KEYS),
    partitions_def=snapshot_partitions_def,
    description="Load, validate and derive every table of one (trading day, snapshot).",
    executor_def=dg.in_process_executor,
)
