"""Freshness of each snapshot: a missed or late review shows as a failed check in the UI.

Dagster's freshness policies do not see partitions, so lateness is judged here per
(trading day, snapshot). Two checks on ``mart/market_report``, ``midday_on_time`` and
``close_on_time``, are declared (so the UI lists them) but not part of the snapshot job; the
``snapshot_freshness_sensor`` evaluates them every few minutes and records the result as a
runless check evaluation (WARN severity) whenever it changes:

- deadline: midday 12:45 HKT; close 16:45 HKT, or 12:45 on a half day;
- passed when the partition's first ``mart/market_report`` materialisation is no later than
  the deadline; failed ("missed") when there is none, or ("late") when it came after.
"""

import json
from datetime import date, datetime, time

import dagster as dg

from hk_pipeline import calendar
from hk_pipeline.defs.partitions import partition_key
from hk_pipeline.defs.report import REPORT_KEY

MIDDAY_DEADLINE = time(12, 45)
CLOSE_DEADLINE = time(16, 45)
CHECK_NAMES = {"midday": "midday_on_time", "close": "close_on_time"}


def deadline(d: date, snapshot: str) -> datetime:
    """When the snapshot's review must exist (HKT)."""
    if snapshot == "midday" or calendar.is_half_day(d):
        return datetime.combine(d, MIDDAY_DEADLINE, tzinfo=calendar.TZ)
    return datetime.combine(d, CLOSE_DEADLINE, tzinfo=calendar.TZ)


def latest_due(snapshot: str, now: datetime) -> date:
    """The last trading day whose ``snapshot`` deadline has passed at ``now``."""
    d = now.astimezone(calendar.TZ).date()
    if not calendar.is_trading_day(d):
        d = calendar.previous_trading_day(d)
    while deadline(d, snapshot) > now:
        d = calendar.previous_trading_day(d)
    return d


def first_materialized_at(instance: dg.DagsterInstance, key: str) -> datetime | None:
    """When ``mart/market_report`` partition ``key`` was first materialised, if ever."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=REPORT_KEY, asset_partitions=[key]),
        limit=1,
        ascending=True,
    )
    if not result.records:
        return None
    return datetime.fromtimestamp(result.records[0].timestamp, tz=calendar.TZ)


def on_time_evaluation(
    instance: dg.DagsterInstance, snapshot: str, now: datetime
) -> dg.AssetCheckEvaluation:
    """The ``<snapshot>_on_time`` evaluation for the latest partition that is due at ``now``."""
    d = latest_due(snapshot, now)
    key = str(partition_key(d, snapshot))
    due = deadline(d, snapshot)
    at = first_materialized_at(instance, key)
    if at is None:
        passed, message = False, f"{key} missed: no market report by {due:%H:%M} HKT"
    elif at > due:
        late = int((at - due).total_seconds() // 60)
        passed, message = False, f"{key} late: report at {at:%Y-%m-%d %H:%M} HKT, {late} min late"
    else:
        passed, message = True, f"{key} on time: report at {at:%Y-%m-%d %H:%M} HKT"
    return dg.AssetCheckEvaluation(
        asset_key=REPORT_KEY,
        check_name=CHECK_NAMES[snapshot],
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=message,
        metadata={
            "partition": key,
            "deadline": due.isoformat(),
            "materialized_at": at.isoformat() if at else "never",
            "message": message,
        },
    )


def _make_on_time_check(snapshot: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=REPORT_KEY,
        name=CHECK_NAMES[snapshot],
        description=(
            f"The {snapshot} review of the latest due trading day was materialised by its"
            " deadline (midday 12:45 HKT; close 16:45, 12:45 on a half day). Evaluated by"
            " snapshot_freshness_sensor."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        ev = on_time_evaluation(context.instance, snapshot, datetime.now(calendar.TZ))
        return dg.AssetCheckResult(
            passed=ev.passed,
            severity=ev.severity,
            description=ev.description,
            metadata=ev.metadata,
        )

    return _check


midday_on_time = _make_on_time_check("midday")
close_on_time = _make_on_time_check("close")
FRESHNESS_CHECKS = [midday_on_time, close_on_time]


def evaluate_freshness(
    instance: dg.DagsterInstance, now: datetime, cursor: str | None
) -> tuple[list[dg.AssetCheckEvaluation], str]:
    """Evaluations that changed since ``cursor`` (reported) and the new cursor."""
    seen: dict[str, str] = json.loads(cursor) if cursor else {}
    changed: list[dg.AssetCheckEvaluation] = []
    for snapshot in calendar.SNAPSHOTS:
        ev = on_time_evaluation(instance, snapshot, now)
        state = f"{ev.metadata['partition'].value}:{ev.passed}"
        if seen.get(snapshot) != state:
            instance.report_runless_asset_event(ev)
            changed.append(ev)
            seen[snapshot] = state
    return changed, json.dumps(seen, sort_keys=True)


@dg.sensor(
    name="snapshot_freshness_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks a missed or late midday/close review on mart/market_report's checks.",
)
def snapshot_freshness_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    changed, cursor = evaluate_freshness(
        context.instance, datetime.now(calendar.TZ), context.cursor
    )
    context.update_cursor(cursor)
    if not changed:
        return dg.SkipReason("freshness unchanged")
    return dg.SkipReason("; ".join(str(ev.description) for ev in changed))


SENSORS = [snapshot_freshness_sensor]
