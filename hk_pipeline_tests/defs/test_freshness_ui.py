"""The UI's first view: freshness checks on mart/market_report, read over the UI's GraphQL API.

A fresh home with its schedules off shows no failed check; once ``midday_schedule`` is turned
on (the UI's *Automation* toggle, the ``startSchedule`` mutation) a missed midday review fails
``midday_on_time`` with a description naming the snapshot, the deadline and the last review,
while ``close_on_time`` (its schedule still off) stays unjudged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_graphql.test.utils import (
    define_out_of_process_context,
    execute_dagster_graphql,
    infer_schedule_selector,
)

from hk_pipeline import calendar
from hk_pipeline.defs.report import REPORT_KEY
from hk_pipeline.defs.sensors import evaluate_freshness, snapshot_freshness_sensor

WORKSPACE = str(Path(__file__).resolve().parents[2] / "workspace.yaml")

CHECKS_QUERY = """
query Checks($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 5) {
    status
    evaluation { description }
  }
}
"""

START_SCHEDULE = """
mutation Start($scheduleSelector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $scheduleSelector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dg.DagsterInstance]]:
    """A fresh home and the UI's GraphQL context on it (the code location in a code server)."""
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    with (
        dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance,
        define_out_of_process_context(WORKSPACE, None, instance) as context,
    ):
        yield context, instance


def executions(context: Any, check: str) -> list[dict[str, Any]]:
    result = execute_dagster_graphql(
        context,
        CHECKS_QUERY,
        {"assetKey": {"path": REPORT_KEY.path}, "checkName": check},
    )
    assert result.errors is None, result.errors
    return result.data["assetCheckExecutions"]


def test_fresh_home_shows_no_failed_check_until_a_schedule_is_on(ui) -> None:
    context, instance = ui
    # What the daemon does every 5 minutes, at the real time of day.
    snapshot_freshness_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    for check in ("midday_on_time", "close_on_time"):
        assert [e["status"] for e in executions(context, check)] == []

    selector = infer_schedule_selector(context, "midday_schedule")
    started = execute_dagster_graphql(context, START_SCHEDULE, {"scheduleSelector": selector})
    assert started.data["startSchedule"]["scheduleState"]["status"] == "RUNNING", started.data

    # Just turned on: the partition due now was requested before, so it is not judged either.
    snapshot_freshness_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert executions(context, "midday_on_time") == []

    # The first trading day after today, 12:50: its 12:15 request came with the schedule on
    # and no review exists, so the midday check fails and says why.
    day = calendar.next_trading_day(datetime.now(calendar.TZ).date())
    now = datetime.combine(day, datetime.min.time(), tzinfo=calendar.TZ).replace(hour=12, minute=50)
    evaluate_freshness(instance, now, None)
    (midday,) = executions(context, "midday_on_time")
    assert midday["status"] == "FAILED"
    assert midday["evaluation"]["description"] == (
        f"midday snapshot {day}|midday missed: expected by {day} 12:45 HKT (midday_schedule is"
        " on), no market report yet; last midday report materialised: never"
    )
    assert executions(context, "close_on_time") == []  # close_schedule is still off
