"""The project's Dagster event log (hk_pipeline.defs.event_log) as the UI and the CLI use it:
a ranged run's materialisations are recorded for every partition, in one batch, readable by
another instance at once, and each run's shard file is left checkpointed for the UI's live
log view."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline.defs.event_log import RunHistoryEventLogStorage
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


def test_a_run_shard_is_checkpointed_after_each_write_for_the_ui_log_view(
    project_instance: dg.DagsterInstance,
) -> None:
    result = _run_range(project_instance)
    shard = Path(project_instance.event_log_storage.path_for_shard(result.run_id))
    assert shard.exists()
    # the UI watches <run_id>.db itself: events left in a WAL file would not reach it
    wal = shard.with_name(shard.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    events = project_instance.all_logs(result.run_id)
    assert sum(e.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS for e in events) == 1


def test_without_a_home_or_a_folder_the_storage_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match="needs DAGSTER_HOME set, or a config: base_dir:"):
        RunHistoryEventLogStorage.from_config_value(None, {})
