"""landing_sensor: launches a snapshot when its complete set arrives, once per set of files."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline import calendar
from hk_pipeline.defs.ingest import LANDING_FILES_METADATA
from hk_pipeline.defs.landing import LANDING_SET_TAG, evaluate_landing, landing_sensor
from hk_pipeline.defs.resources import SourceResource
from hk_pipeline.sources.landing import landing_manifest
from hk_pipeline.sources.landing_sets import relative

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "landing"
KEY = "2025-11-21|midday"
MIDDAY_FILES = ("quotes/2025-11-21_midday.csv", "index_levels/2025-11-21_midday.csv")


def drop(root: Path, *names: str) -> None:
    """Copy fixture files into the landing folder, as a vendor's upload would."""
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURE / name, root / name)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    drop(
        root,
        "securities/2025-11-03.csv",
        "securities/2025-11-21.csv",
        "index_constituents/2025-09-08.csv",
        "macro_series/readings.csv",
    )
    return tmp_path


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def tick(instance: dg.DagsterInstance, home: Path, cursor: str | None = None, source="landing"):
    from hk_pipeline.definitions import defs

    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources={"source": SourceResource(source_name=source, home=str(home))},
    )
    return landing_sensor.evaluate_tick(context)


def test_does_nothing_unless_the_source_is_landing(instance, home: Path) -> None:
    drop(home / "landing", *MIDDAY_FILES)
    result = tick(instance, home, source="sample")
    assert not result.run_requests
    assert "HK_PIPELINE_SOURCE=landing" in result.skip_message


def test_incomplete_set_names_what_is_missing(instance, home: Path) -> None:
    drop(home / "landing", "quotes/2025-11-21_midday.csv")
    result = tick(instance, home)
    assert not result.run_requests
    assert f"incomplete in {home / 'landing'}" in result.skip_message
    assert f"{KEY} waits for index_levels/2025-11-21_midday.csv" in result.skip_message


def test_complete_set_launches_once_and_again_only_when_a_file_changes(
    instance, home: Path
) -> None:
    root = home / "landing"
    drop(root, *MIDDAY_FILES)
    first = tick(instance, home)
    assert [r.partition_key for r in first.run_requests] == [KEY]
    request = first.run_requests[0]
    assert request.run_key.startswith(f"landing:{KEY}:")
    assert len(request.tags[LANDING_SET_TAG]) == 64

    again = tick(instance, home, first.cursor)
    assert not again.run_requests
    assert "already loaded or launched" in again.skip_message

    # same bytes, new modification time (a re-upload): still the same set
    (root / MIDDAY_FILES[0]).touch()
    same = tick(instance, home, again.cursor)
    assert not same.run_requests

    # a vendor's correction: a new set, a new run key
    with (root / MIDDAY_FILES[0]).open("a", encoding="utf-8") as f:
        f.write("00003,10,10,10,10,10,100,1000\n")
    corrected = tick(instance, home, same.cursor)
    assert [r.partition_key for r in corrected.run_requests] == [KEY]
    assert corrected.run_requests[0].run_key != request.run_key


def test_a_set_loaded_by_a_cli_run_is_not_launched(instance, home: Path) -> None:
    root = home / "landing"
    drop(root, *MIDDAY_FILES)
    files = landing_manifest(root, calendar.START_DATE.replace(2025, 11, 21), "midday")
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            dg.AssetKey(["raw", "quotes"]),
            partition=KEY,
            metadata={
                LANDING_FILES_METADATA: dg.MetadataValue.json(
                    [{"path": relative(root, f.path), "sha256": f.sha256} for f in files]
                )
            },
        )
    )
    result = tick(instance, home)
    assert not result.run_requests


def test_latest_due_snapshot_with_nothing_says_what_it_waits_for(instance, home: Path) -> None:
    now = datetime(2025, 11, 24, 12, 30, tzinfo=calendar.TZ)  # Monday, after the mid-day
    found = evaluate_landing(instance, home / "landing", None, now)
    assert not found.run_requests
    assert found.waiting == [
        "2025-11-24|midday waits for quotes/2025-11-24_midday.csv,"
        " index_levels/2025-11-24_midday.csv"
    ]


def test_files_for_a_day_without_trading_are_reported(instance, home: Path) -> None:
    root = home / "landing"
    (root / "quotes").mkdir()
    shutil.copyfile(FIXTURE / MIDDAY_FILES[0], root / "quotes" / "2025-11-22_midday.csv")
    found = evaluate_landing(
        instance, root, None, datetime(2025, 11, 21, 12, 30, tzinfo=calendar.TZ)
    )
    assert any("2025-11-22|midday: not a partition" in p for p in found.problems)
