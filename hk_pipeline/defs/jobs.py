"""The snapshot job: every asset of a (trading day, snapshot) partition, or of a range of
them, in one in-process run.

Schedules run one partition. A backfill runs ranges: ``hk-pipeline backfill`` launches one run
per ``--batch-days`` trading days, and a backfill from the UI follows the assets' backfill
policy (``partitions.BACKFILL_POLICY``: up to 40 partitions per run, within the ranges
Dagster cuts a multi-partition selection into; see there). Every asset loops over
its run's partitions one at a time (``partitions.run_partitions``).
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
