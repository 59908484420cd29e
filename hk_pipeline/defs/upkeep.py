"""The lake's weekly upkeep as a Dagster job and schedule (off until turned on in the UI).

Sunday 03:00 Hong Kong time: no session, no scheduled snapshot, and analysts are rarely on.
The upkeep commits like any writer, so a run that overlaps it is retried, never lost.
"""

import dagster as dg

from hk_pipeline.defs.partitions import TIMEZONE
from hk_pipeline.defs.resources import WarehouseResource
from hk_pipeline.warehouse.upkeep import retention_days, upkeep

UPKEEP_CRON = "0 3 * * 0"


class UpkeepConfig(dg.Config):
    retention_days: float | None = None
    """Snapshots kept for time travel; default HK_PIPELINE_RETENTION_DAYS or 30."""


@dg.op(description="Flush, compact, expire snapshots past the retention, remove unused files.")
def lake_upkeep(
    context: dg.OpExecutionContext, config: UpkeepConfig, warehouse: WarehouseResource
) -> None:
    days = retention_days() if config.retention_days is None else config.retention_days
    with warehouse.connection() as con:
        result = upkeep(con, retention_days=days)
    context.log.info(result.summary())
    context.log_event(
        dg.AssetObservation(
            asset_key=dg.AssetKey(["meta", "lake_files"]),
            metadata={
                "live_files_before": result.before.live_files,
                "live_mib_before": round(result.before.live_bytes / 2**20, 1),
                "tracked_files_before": result.before.tracked_files,
                "live_files_after": result.after.live_files,
                "live_mib_after": round(result.after.live_bytes / 2**20, 1),
                "tracked_files_after": result.after.tracked_files,
                "snapshots_expired": result.snapshots_expired,
                "files_cleaned": result.files_cleaned,
                "orphans_removed": result.orphans_removed,
                "retention_days": days,
            },
        )
    )


@dg.job(
    description="The lake's upkeep: compaction, snapshot expiry and file clean-up.",
    executor_def=dg.in_process_executor,
)
def lake_upkeep_job() -> None:
    lake_upkeep()


lake_upkeep_schedule = dg.ScheduleDefinition(
    name="lake_upkeep_schedule",
    job=lake_upkeep_job,
    cron_schedule=UPKEEP_CRON,
    execution_timezone=TIMEZONE,
    description="Sunday 03:00 HKT: the lake's weekly upkeep (off by default).",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
