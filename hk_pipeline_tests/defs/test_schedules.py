"""Schedule ticks, evaluated with Dagster's own schedule-evaluation API."""

from datetime import datetime

import dagster as dg
import pytest

from hk_pipeline import calendar
from hk_pipeline.definitions import defs
from hk_pipeline.defs.schedules import close_schedule, midday_schedule

REPO = defs.get_repository_def()


def _tick(schedule: dg.ScheduleDefinition, when: str) -> list[str] | str:
    """Partition keys the tick at ``when`` (HKT) requests, or its skip message."""
    at = datetime.fromisoformat(when).replace(tzinfo=calendar.TZ)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=REPO
        )
        data = schedule.evaluate_tick(context)
    if data.run_requests:
        return [r.partition_key for r in data.run_requests]
    return data.skip_message or ""


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2025-11-20 12:15", ["2025-11-20|midday"]),  # a Thursday
        ("2025-11-21 12:15", ["2025-11-21|midday"]),  # a Friday
        ("2025-12-24 12:15", ["2025-12-24|midday"]),  # half day, before Christmas
        ("2025-12-29 12:15", ["2025-12-29|midday"]),  # after Christmas and Boxing Day
    ],
)
def test_midday_requests_its_own_day(when: str, expected: list[str]) -> None:
    assert _tick(midday_schedule, when) == expected


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2025-12-25 12:15", "Christmas"),
        ("2025-12-26 12:15", "Boxing Day"),
        ("2025-11-22 12:15", "Saturday"),
        ("2023-09-08 12:15", "2023-09-08"),  # black rainstorm closure
    ],
)
def test_midday_skips_closed_days(when: str, reason: str) -> None:
    result = _tick(midday_schedule, when)
    assert isinstance(result, str) and reason in result and "not a trading day" in result


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2025-11-20 16:20", ["2025-11-20|close"]),
        ("2025-11-21 16:20", ["2025-11-21|close"]),  # Friday
        ("2025-12-24 12:20", ["2025-12-24|close"]),  # half day: after the 12:10 auction
        ("2025-12-29 16:20", ["2025-12-29|close"]),
    ],
)
def test_close_requests_after_the_auction(when: str, expected: list[str]) -> None:
    assert _tick(close_schedule, when) == expected


@pytest.mark.parametrize(
    "when",
    [
        "2025-11-21 12:20",  # full day: the 12:20 tick is only for half days
        "2025-12-24 16:20",  # half day: already requested at 12:20
        "2025-12-25 16:20",
        "2025-12-26 12:20",
        "2025-11-22 16:20",
        "2025-11-23 12:20",
    ],
)
def test_close_requests_nothing_otherwise(when: str) -> None:
    assert isinstance(_tick(close_schedule, when), str)


def test_schedules_run_in_hong_kong_time() -> None:
    assert midday_schedule.execution_timezone == "Asia/Hong_Kong"
    assert close_schedule.execution_timezone == "Asia/Hong_Kong"
    assert midday_schedule.job_name == close_schedule.job_name == "snapshot_job"


def test_utc_execution_time_is_read_as_hkt() -> None:
    """04:15 UTC is 12:15 HKT: the HKT date decides, not the UTC one."""
    at = datetime.fromisoformat("2025-11-21 04:15+00:00")
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=REPO
        )
        data = midday_schedule.evaluate_tick(ctx)
    assert [r.partition_key for r in data.run_requests] == ["2025-11-21|midday"]
