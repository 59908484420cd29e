"""The project's Definitions: every asset, check, job, schedule, sensor and resource.

Loaded by ``workspace.yaml`` (``dg dev``, ``dagster definitions validate``) and by the
CLI. Execution is in-process: the default multiprocess executor would start a process per
step (~1 s each) and a snapshot's assets share one lake connection.
"""

from __future__ import annotations

import dagster as dg

from hk_pipeline.config import Settings
from hk_pipeline.defs.jobs import snapshot_job
from hk_pipeline.defs.landing import landing_sensor
from hk_pipeline.defs.marts import MART_ASSETS
from hk_pipeline.defs.raw import RAW_ASSETS
from hk_pipeline.defs.ref import REF_ASSETS
from hk_pipeline.defs.report import market_report
from hk_pipeline.defs.resources import default_resources
from hk_pipeline.defs.schedules import SCHEDULES
from hk_pipeline.defs.sensors import FRESHNESS_CHECKS, SENSORS
from hk_pipeline.defs.upkeep import lake_upkeep_job, lake_upkeep_schedule

ASSETS: list[dg.AssetsDefinition] = [
    *REF_ASSETS,
    *RAW_ASSETS,
    *MART_ASSETS,
    market_report,
]


def build_definitions(
    settings: Settings | None = None, resources: dict[str, object] | None = None
) -> dg.Definitions:
    """Definitions with resources from ``settings`` (default: the environment), overridable."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=FRESHNESS_CHECKS,
        jobs=[snapshot_job, lake_upkeep_job],
        schedules=[*SCHEDULES, lake_upkeep_schedule],
        sensors=[*SENSORS, landing_sensor],
        resources={**default_resources(settings), **(resources or {})},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
