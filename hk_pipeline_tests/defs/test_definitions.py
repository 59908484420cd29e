import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from hk_pipeline.definitions import defs
from hk_pipeline.paths import PROJECT_DIR

EXPECTED_ASSETS = [
    "mart/index_attribution",
    "mart/index_moves",
    "mart/macro_asof",
    "mart/market_breadth",
    "mart/market_report",
    "mart/sector_performance",
    "mart/top_movers",
    "mart/top_turnover",
    "raw/index_contributions",
    "raw/index_levels",
    "raw/intraday_bars",
    "raw/macro_series",
    "raw/quotes",
    "ref/index_constituents",
    "ref/securities",
]
INGESTED = [k for k in EXPECTED_ASSETS if k.startswith(("raw/", "ref/"))]


def test_asset_keys_snapshot() -> None:
    assert sorted(k.to_user_string() for k in defs.resolve_all_asset_keys()) == EXPECTED_ASSETS


def test_groups_descriptions_and_column_schemas() -> None:
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for key, spec in specs.items():
        assert spec.group_name == key.split("/")[0], key
        assert spec.description, f"{key} has no description"
    for key in INGESTED:
        schema = specs[key].metadata["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchema)
        assert schema.columns and all(c.description for c in schema.columns), key


def test_lineage() -> None:
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}

    def deps(key: str) -> set[str]:
        return {d.asset_key.to_user_string() for d in specs[key].deps}

    assert deps("ref/index_constituents") == {"ref/securities"}
    assert deps("raw/quotes") == {"ref/securities", "ref/index_constituents"}
    assert deps("mart/index_attribution") == {
        "raw/quotes",
        "raw/index_levels",
        "raw/index_contributions",
        "ref/index_constituents",
        "ref/securities",  # the constituents' names
    }
    assert deps("mart/top_turnover") == {"raw/quotes", "ref/securities"}
    assert deps("mart/macro_asof") == {"raw/macro_series"}
    assert deps("mart/market_report") >= {
        "raw/intraday_bars",
        *(k for k in EXPECTED_ASSETS if k.startswith("mart/") and k != "mart/market_report"),
    }


def test_schema_checks_are_blocking() -> None:
    graph = defs.resolve_asset_graph()
    checks = {
        (k.asset_key.to_user_string(), k.name): graph.get_check_spec(k)
        for k in graph.asset_check_keys
    }
    for key in INGESTED:
        assert checks[(key, "schema")].blocking, key
    for key, name in [
        ("mart/market_breadth", "breadth_adds_up"),
        ("mart/index_attribution", "contributions_add_up"),
        ("mart/index_moves", "levels_reconcile"),
        ("mart/top_turnover", "distinct_descending"),
    ]:
        assert checks[(key, name)].blocking
    assert ("mart/market_report", "midday_on_time") in checks
    assert ("mart/market_report", "close_on_time") in checks


def test_job_schedules_sensor_in_process() -> None:
    job = defs.resolve_job_def("snapshot_job")
    assert job.executor_def.name == "in_process"
    assert job.partitions_def is not None
    assert {s.name for s in defs.schedules} == {
        "midday_schedule",
        "close_schedule",
        "lake_upkeep_schedule",
    }
    upkeep = defs.resolve_schedule_def("lake_upkeep_schedule")
    # weekly, off-hours, off until turned on like the other schedules
    assert upkeep.cron_schedule == "0 3 * * 0"
    assert upkeep.execution_timezone == "Asia/Hong_Kong"
    assert upkeep.default_status == dg.DefaultScheduleStatus.STOPPED
    assert {s.name for s in defs.sensors} == {"snapshot_freshness_sensor", "landing_sensor"}


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "HK_PIPELINE_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
