"""Runs over a range of partitions (backfills): every asset loops over the range.

The range is given the way Dagster's backfills give it, by the run tags
``dagster/asset_partition_range_start`` and ``_end``; a range is a cartesian product of days and
snapshots.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from hk_pipeline.definitions import ASSETS
from hk_pipeline.defs.resources import PipelineSettingsResource, WarehouseResource
from hk_pipeline_tests.defs.fake_source import FakeSourceResource
from hk_pipeline_tests.lake_access import read_home

DAYS = ("2025-11-19", "2025-11-20", "2025-11-21")
BOTH = [(d, s) for d in DAYS for s in ("midday", "close")]


def _run(home: Path, instance, start: str, end: str, variant: str = "good"):
    resources = {
        "warehouse": WarehouseResource(home=str(home)),
        "source": FakeSourceResource(home=str(home), variant=variant),
        "pipeline": PipelineSettingsResource(reports_dir=str(home / "reports")),
    }
    return dg.materialize(
        ASSETS,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        },
    )


def _partitions(home: Path, table: str) -> list[tuple[str, str]]:
    con = read_home(home / "warehouse.duckdb")
    try:
        return con.execute(
            f"SELECT DISTINCT trade_date::VARCHAR, snapshot FROM {table} ORDER BY 1, 2 DESC"
        ).fetchall()
    finally:
        con.close()


def test_a_range_loads_every_partition_in_one_run(home: Path, instance) -> None:
    result = _run(home, instance, "2025-11-19|midday", "2025-11-21|close")
    assert result.success
    for table in ("raw.quotes", "raw.intraday_bars", "mart.index_moves", "mart.market_breadth"):
        assert _partitions(home, table) == BOTH, table
    expected = sorted(f"{d}|{s}" for d, s in BOTH)
    for key in (["raw", "quotes"], ["mart", "top_turnover"], ["mart", "market_report"]):
        assert sorted(instance.get_materialized_partitions(dg.AssetKey(key))) == expected
    reports = sorted(p.name for p in (home / "reports").glob("*.md"))
    assert reports == sorted(f"{d}_{s}.md" for d, s in BOTH)
    quotes = result.asset_materializations_for_node("raw_market")
    meta = next(m for m in quotes if m.asset_key == dg.AssetKey(["raw", "quotes"])).metadata
    assert meta["rows_by_partition"].value == {f"{d}|{s}": 4 for d, s in BOTH}
    assert meta["rows_written"].value == 24


def test_a_range_of_one_snapshot_loads_only_that_snapshot(home: Path, instance) -> None:
    assert _run(home, instance, "2025-11-19|midday", "2025-11-21|midday").success
    assert _partitions(home, "raw.quotes") == [(d, "midday") for d in DAYS]


def test_a_refused_partition_keeps_the_earlier_ones_and_stops_its_table(
    home: Path, instance
) -> None:
    result = _run(home, instance, "2025-11-19|midday", "2025-11-21|close", "all_bad@2025-11-20")
    assert not result.success
    # quotes stop at the refused partition; the day before stays written
    assert _partitions(home, "raw.quotes") == BOTH[:2]
    # the step's other tables finish the range
    assert _partitions(home, "raw.index_levels") == BOTH
    assert _partitions(home, "quarantine.quotes") == [("2025-11-20", "midday")]
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert "raw.quotes 2025-11-20|midday refused" in message
    assert "2 earlier partition(s) of this run were written" in message
    # nothing downstream of quotes ran for any partition of the range
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "mart__index_moves" not in started
    assert not instance.get_materialized_partitions(dg.AssetKey(["raw", "quotes"]))


def test_an_empty_range_fails_instead_of_doing_nothing(home: Path, instance) -> None:
    result = _run(home, instance, "2025-11-21|close", "2025-11-21|midday")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "empty partition range" in failure.step_failure_data.user_failure_data.description
    assert not (home / "warehouse.duckdb").exists() or _partitions(home, "raw.quotes") == []


def test_a_failing_mart_check_names_its_partition(home: Path, instance) -> None:
    bad_day = "2025-11-21"
    result = _run(home, instance, "2025-11-20|midday", "2025-11-21|close", f"level_off@{bad_day}")
    assert not result.success
    check = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "levels_reconcile"
    )
    assert not check.passed
    assert check.description.startswith(f"{bad_day}|midday: ")
    assert check.metadata["failed_partitions"].value == [f"{bad_day}|midday", f"{bad_day}|close"]


def test_ingest_runs_polars_only_on_its_read_ahead_thread(
    home: Path, instance, monkeypatch
) -> None:
    """Polars' thread pool is shared: a conversion on the writing thread while the read-ahead
    thread validates deadlocked a year backfill. Every polars call of ingest (validation, the
    conversion of its result for the writer) belongs on the read-ahead thread."""
    import threading

    import polars as pl

    from hk_pipeline.defs import ingest

    threads: set[str] = set()
    writing = threading.local()
    original_load = ingest.load_partition

    def load(*args, **kwargs):
        writing.active = True
        try:
            return original_load(*args, **kwargs)
        finally:
            writing.active = False

    def spy(name: str):
        original = getattr(pl.DataFrame, name)

        def call(self, *args, **kwargs):
            if getattr(writing, "active", False):
                threads.add(threading.current_thread().name)
            return original(self, *args, **kwargs)

        return call

    for name in ("to_arrow", "to_pandas"):
        monkeypatch.setattr(pl.DataFrame, name, spy(name))
    monkeypatch.setattr(ingest, "load_partition", load)
    assert _run(home, instance, "2025-11-19|midday", "2025-11-20|close").success
    assert threads == set()  # no conversion while a partition is being written
