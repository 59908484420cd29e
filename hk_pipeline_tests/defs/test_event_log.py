"""The project's Dagster event log (hk_pipeline.defs.event_log) as the UI and the CLI use it:
a ranged run's materialisations are recorded for every partition, in one batch, readable by
another instance at once, and each run's shard file is left checkpointed for the UI's live
log view."""

import shutil
import sqlite3
import time
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline.defs.event_log import CHECKPOINT_DELAY_SECONDS, RunHistoryEventLogStorage
from hk_pipeline.paths import PACKAGE_DIR

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-11")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"partitions": len(context.partition_keys)})


@pytest.fixture
def project_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """An instance configured by the project's dagster.yaml, as the CLI copies it."""
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(PACKAGE_DIR / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    with dg.DagsterInstance.get() as instance:
        yield instance


def _run_range(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = dg.Definitions(assets=[daily_rows]).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2025-01-01",
            "dagster/asset_partition_range_end": "2025-01-10",
        },
    )


def test_the_project_instance_uses_the_batched_event_log(
    project_instance: dg.DagsterInstance,
) -> None:
    storage = project_instance.event_log_storage
    assert isinstance(storage, RunHistoryEventLogStorage)
    # Dagster's own place for it: a home keeps its history when the yaml names this class
    assert Path(storage._base_dir) == Path(project_instance.root_directory) / "history" / "runs"


def test_a_ranged_run_is_recorded_for_every_partition_in_one_batch(
    project_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    original = RunHistoryEventLogStorage.store_event_batch

    def spy(self: RunHistoryEventLogStorage, events: list) -> None:
        batches.append(len(events))
        original(self, events)

    monkeypatch.setattr(RunHistoryEventLogStorage, "store_event_batch", spy)
    result = _run_range(project_instance)
    assert result.success
    assert 10 in batches  # the ten materialisations arrived together

    # another instance (the UI's, the next CLI's) reads what the run committed
    with dg.DagsterInstance.get() as reader:
        keys = reader.get_materialized_partitions(dg.AssetKey("daily_rows"))
        assert keys == {f"2025-01-{d:02d}" for d in range(1, 11)}
        records = reader.fetch_materializations(dg.AssetKey("daily_rows"), limit=100).records
        assert len(records) == 10
        assert {r.run_id for r in records} == {result.run_id}


def test_a_finished_run_is_all_in_its_shard_file_for_the_ui_log_view(
    project_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    result = _run_range(project_instance)
    shard = Path(project_instance.event_log_storage.path_for_shard(result.run_id))
    # the UI watches <run_id>.db itself: an event left only in the WAL would not reach it
    alone = tmp_path / "alone.db"
    shutil.copyfile(shard, alone)
    with sqlite3.connect(alone) as con:
        (stored,) = con.execute("SELECT count(*) FROM event_logs").fetchone()
    events = project_instance.all_logs(result.run_id)
    assert stored == len(events) > 10
    assert events[-1].dagster_event_type == dg.DagsterEventType.RUN_SUCCESS


def test_a_write_reaches_the_shard_file_within_the_checkpoint_delay(
    project_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """Between run status events (a long step), the view still follows within 0.2 s."""
    result = _run_range(project_instance)
    storage = project_instance.event_log_storage
    shard = Path(storage.path_for_shard(result.run_id))
    project_instance.report_engine_event(
        "a step's log line", project_instance.get_run_by_id(result.run_id)
    )

    def in_file() -> int:
        shutil.copyfile(shard, tmp_path / "alone.db")
        with sqlite3.connect(tmp_path / "alone.db") as con:
            return con.execute("SELECT count(*) FROM event_logs").fetchone()[0]

    total = len(project_instance.all_logs(result.run_id))
    time.sleep(CHECKPOINT_DELAY_SECONDS * 5)
    assert in_file() == total


def test_without_a_home_or_a_folder_the_storage_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match="needs DAGSTER_HOME set, or a config: base_dir:"):
        RunHistoryEventLogStorage.from_config_value(None, {})
