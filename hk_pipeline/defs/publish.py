"""``analyst/catalogue``: the last asset of every snapshot run publishes for readers.

An asset rather than a hook or a sensor: it runs inside the run, on the run's own DuckDB
connection, after every table of the partition is written (a sensor would be another process
contending for DuckDB's single writer). It depends on every ref/raw/mart table, so a run whose
blocking check failed does not publish: readers keep the last consistent state. Runs from the
CLI, the schedules and the UI (the job, or *Materialize all*) all include it.
"""

import dagster as dg

from hk_pipeline.defs.marts import MART_KEYS
from hk_pipeline.defs.partitions import BACKFILL_POLICY, run_partitions, snapshot_partitions_def
from hk_pipeline.defs.raw import RAW_KEYS
from hk_pipeline.defs.ref import REF_KEYS
from hk_pipeline.defs.resources import WarehouseResource

CATALOGUE_KEY = dg.AssetKey(["analyst", "catalogue"])


@dg.asset(
    key=CATALOGUE_KEY,
    deps=[*REF_KEYS, *RAW_KEYS, *MART_KEYS],
    description=(
        "The read-only copy analysts query: a new version of published/ (Parquet per partition,"
        " hard links to unchanged files) and its catalogue published/analyst.duckdb (views,"
        " openable by DuckDB 1.4+ clients), swapped atomically. Query it with `hk-pipeline"
        " sql`, the DuckDB CLI (-readonly) or SQLAlchemy; see docs/analysts.md."
    ),
    group_name="analyst",
    partitions_def=snapshot_partitions_def,
    backfill_policy=BACKFILL_POLICY,
    kinds={"duckdb", "parquet"},
)
def analyst_catalogue(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from hk_pipeline.warehouse.publish import PublishPolicy, publish

    # one new version for the whole run: a batch of partitions publishes once
    partitions = run_partitions(context)
    policy = PublishPolicy(
        keep_versions=warehouse.publish_keep_versions,
        grace_seconds=warehouse.publish_grace_seconds,
    )
    with warehouse.connection() as con:
        result = publish(con, warehouse.published_path, partitions, policy=policy)
    for view, error in result.skipped_views.items():
        context.log.warning(f"analyst view {view} skipped: {error}")
    context.log.info(
        f"published v{result.version}: {result.exported} file(s) exported,"
        f" {result.linked} linked in {result.seconds['total']:.2f}s"
    )
    return dg.MaterializeResult(
        metadata={
            "version": result.version,
            "directory": dg.MetadataValue.path(str(result.directory)),
            "catalogue": dg.MetadataValue.path(str(result.catalogue)),
            "files": result.files,
            "files_exported": result.exported,
            "files_linked": result.linked,
            "files_copied": result.copied,
            "versions_removed": dg.MetadataValue.json(result.removed_versions),
            "skipped_views": dg.MetadataValue.json(result.skipped_views),
            "seconds": dg.MetadataValue.float(result.seconds["total"]),
            "seconds_by_stage": dg.MetadataValue.json(result.seconds),
        }
    )
