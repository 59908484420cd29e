"""Freshness: a missed or late review is recorded as a failed on-time check on market_report."""

from datetime import datetime

import dagster as dg
import pytest

from hk_pipeline import calendar
from hk_pipeline.definitions import ASSETS, defs
from hk_pipeline.defs import sensors
from hk_pipeline.defs.report import REPORT_KEY
from hk_pipeline.defs.sensors import (
    FRESHNESS_CHECKS,
    deadline,
    evaluate_freshness,
    latest_due,
    on_time_evaluation,
    snapshot_freshness_sensor,
)


def hkt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=calendar.TZ)


def _materialize_report(instance: dg.DagsterInstance, key: str) -> None:
    """Record a report materialisation now (wall clock) for partition ``key``."""
    instance.report_runless_asset_event(dg.AssetMaterialization(REPORT_KEY, partition=key))


def _latest_check(instance: dg.DagsterInstance, name: str):
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(REPORT_KEY, name)]
    )[dg.AssetCheckKey(REPORT_KEY, name)]
    return record.event.dagster_event.event_specific_data


@pytest.fixture
def schedules_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both schedules on since the project's first day (test_freshness_ui turns one on
    through the UI's API)."""
    since = hkt(f"{calendar.START_DATE} 00:00")
    monkeypatch.setattr(sensors, "schedule_started_at", lambda instance, name: since)


def test_deadlines_and_due_partitions() -> None:
    assert deadline(calendar.START_DATE, "midday").strftime("%H:%M") == "12:45"
    assert deadline(hkt("2025-11-21 00:00").date(), "close").strftime("%H:%M") == "16:45"
    assert deadline(hkt("2025-12-24 00:00").date(), "close").strftime("%H:%M") == "12:45"
    assert str(latest_due("midday", hkt("2025-11-21 12:50"))) == "2025-11-21"
    assert str(latest_due("midday", hkt("2025-11-21 12:30"))) == "2025-11-20"
    assert str(latest_due("close", hkt("2025-12-24 13:00"))) == "2025-12-24"  # half day
    assert str(latest_due("close", hkt("2025-12-27 10:00"))) == "2025-12-24"  # over Christmas


def test_missed_midday_is_reported_late_and_only_once(schedules_on: None) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        changed, cursor = evaluate_freshness(instance, hkt("2025-11-21 12:50"), None)
        midday = next(ev for ev in changed if ev.check_name == "midday_on_time")
        assert not midday.passed and midday.severity == dg.AssetCheckSeverity.WARN
        assert "2025-11-21|midday missed" in midday.description
        stored = _latest_check(instance, "midday_on_time")
        assert stored.passed is False and stored.metadata["partition"].value == "2025-11-21|midday"
        again, _ = evaluate_freshness(instance, hkt("2025-11-21 12:55"), cursor)
        assert again == []  # no duplicate report while nothing changed


def test_report_after_deadline_is_late(schedules_on: None) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        _materialize_report(instance, "2025-11-21|midday")  # wall clock: long after 12:45
        ev = on_time_evaluation(instance, "midday", hkt("2025-11-21 13:00"))
        assert not ev.passed and "late" in ev.description


def test_report_before_deadline_is_on_time(schedules_on: None) -> None:
    future = calendar.trading_days(
        calendar.last_calendar_date().replace(day=1), calendar.last_calendar_date()
    )[-1]
    key = f"{future}|close"
    with dg.DagsterInstance.ephemeral() as instance:
        _materialize_report(instance, key)  # wall clock: well before that day's 16:45
        now = deadline(future, "close").replace(minute=50)
        changed, _ = evaluate_freshness(instance, now, None)
        close = next(ev for ev in changed if ev.check_name == "close_on_time")
        assert close.passed and key in close.description
        assert _latest_check(instance, "close_on_time").passed is True


def test_sensor_evaluates(schedules_on: None) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
        data = snapshot_freshness_sensor.evaluate_tick(ctx)
        assert data.run_requests == []
        assert data.cursor and "midday" in data.cursor


def test_schedules_off_nothing_is_judged_and_a_failure_is_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        changed, cursor = evaluate_freshness(instance, hkt("2025-11-21 12:50"), None)
        assert changed == []  # a fresh home: the checks stay "not evaluated"
        since = hkt("2025-11-20 09:00")
        monkeypatch.setattr(sensors, "schedule_started_at", lambda instance, name: since)
        changed, cursor = evaluate_freshness(instance, hkt("2025-11-21 12:50"), cursor)
        assert [ev.passed for ev in changed] == [False, False]  # 11-21 midday, 11-20 close
        monkeypatch.setattr(sensors, "schedule_started_at", lambda instance, name: None)
        changed, _ = evaluate_freshness(instance, hkt("2025-11-21 12:55"), cursor)
        assert [ev.passed for ev in changed] == [True, True]
        assert changed[0].description.startswith("midday snapshot not judged: midday_schedule")
        assert _latest_check(instance, "midday_on_time").passed is True


def test_schedule_turned_on_after_the_request_does_not_judge_that_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    since = hkt("2025-11-21 12:30")  # after the 12:15 request of 2025-11-21|midday
    monkeypatch.setattr(sensors, "schedule_started_at", lambda instance, name: since)
    with dg.DagsterInstance.ephemeral() as instance:
        ev = on_time_evaluation(instance, "midday", hkt("2025-11-21 12:50"))
        assert ev.passed and "not judged for 2025-11-21|midday" in ev.description
        ev = on_time_evaluation(instance, "midday", hkt("2025-11-24 12:50"))  # next Monday
        assert not ev.passed and "2025-11-24|midday missed" in ev.description


def test_check_inside_a_ui_backfill_follows_the_schedule_rule() -> None:
    """The UI's Materialize includes an asset's checks; in a backfill run (schedules off) the
    check passes unjudged and names the backfill instead of calling every past day late."""
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*ASSETS, *FRESHNESS_CHECKS],
            selection=dg.AssetSelection.checks(dg.AssetCheckKey(REPORT_KEY, "midday_on_time")),
            instance=instance,
            tags={"dagster/backfill": "abcdefgh"},
            resources={"warehouse": None, "source": None, "pipeline": None},
        )
        (ev,) = result.get_asset_check_evaluations()
        assert ev.passed
        assert ev.description.startswith("midday snapshot not judged: midday_schedule is off")
        assert ev.description.endswith("[evaluated inside backfill abcdefgh]")
