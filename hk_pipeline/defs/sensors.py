"""Freshness of each snapshot: a missed or late review shows as a failed check in the UI.

Dagster's freshness policies do not see partitions, so lateness is judged here per
(trading day, snapshot). Two checks on ``mart/market_report``, ``midday_on_time`` and
``close_on_time``, are declared (so the UI lists them) but not part of the snapshot job; the
``snapshot_freshness_sensor`` evaluates them every few minutes and records the result as a
runless check evaluation (WARN severity) whenever it changes:

- deadline: midday 12:45 HKT; close 16:45 HKT, or 12:45 on a half day;
- judged only while the snapshot's own schedule (``midday_schedule`` / ``close_schedule``) is
  on, and only for partitions requested after it was turned on: a fresh home, or a laptop that
  runs snapshots by hand, has nothing that promised a review, so nothing is late;
- passed when the partition's first ``mart/market_report`` materialisation is no later than
  the deadline; failed ("missed") when there is none, or ("late") when it came after. The
  description names the snapshot, the deadline and when the snapshot's review was last
  materialised.

The schedule's state is read from the Dagster instance (``DagsterInstance.all_instigator_state``,
what the UI's *Automation* page shows). Dagster has no documented Python API for "is this
schedule on"; this instance method needs no private import, and the sensor, the UI and any run
share the instance, so all three see the same state. When the checks run inside a run (the
UI's *Materialize* and its backfills include an asset's checks; ``snapshot_job`` and the CLI
leave them out), they apply the same rule to the same latest due partition: a backfill of past
days neither fails them nor hides a real failure. Such a run is recognised by its
``dagster/backfill`` tag, which the description names.
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
SCHEDULE_NAMES = {"midday": "midday_schedule", "close": "close_schedule"}
# When each schedule requests its partition (the crons in schedules.py): a schedule turned on
# after this moment of a day never requested that day's partition, so it is not judged.
MIDDAY_REQUEST = time(12, 15)
CLOSE_REQUEST = time(16, 20)
HALF_DAY_CLOSE_REQUEST = time(12, 20)
BACKFILL_TAG = "dagster/backfill"  # set by Dagster on every run of a backfill
# How many of the report's latest materialisations are searched for the snapshot's last one.
_LAST_SEARCH = 50


def deadline(d: date, snapshot: str) -> datetime:
    """When the snapshot's review must exist (HKT)."""
    if snapshot == "midday" or calendar.is_half_day(d):
        return datetime.combine(d, MIDDAY_DEADLINE, tzinfo=calendar.TZ)
    return datetime.combine(d, CLOSE_DEADLINE, tzinfo=calendar.TZ)


def requested_at(d: date, snapshot: str) -> datetime:
    """When the snapshot's schedule requests partition ``d`` (HKT)."""
    if snapshot == "midday":
        at = MIDDAY_REQUEST
    else:
        at = HALF_DAY_CLOSE_REQUEST if calendar.is_half_day(d) else CLOSE_REQUEST
    return datetime.combine(d, at, tzinfo=calendar.TZ)


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


def last_materialized(instance: dg.DagsterInstance, snapshot: str) -> str:
    """When ``snapshot``'s review was last materialised, for any day: '<at> HKT (<key>)' or
    'never'."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=REPORT_KEY), limit=_LAST_SEARCH, ascending=False
    )
    for record in result.records:
        key = record.partition_key or ""
        if key.endswith(f"|{snapshot}"):
            at = datetime.fromtimestamp(record.timestamp, tz=calendar.TZ)
            return f"{at:%Y-%m-%d %H:%M} HKT ({key})"
    if len(result.records) == _LAST_SEARCH:  # a long backfill of the other snapshot
        return f"not among the latest {_LAST_SEARCH} market reports"
    return "never"


def schedule_started_at(instance: dg.DagsterInstance, schedule_name: str) -> datetime | None:
    """When ``schedule_name`` was turned on, if it is on now; None while it is off.

    A schedule whose stored state is RUNNING without a start time (turned on by an older
    Dagster, or running by default) counts as on since the project's first trading day."""
    if instance.schedule_storage is None:
        return None  # an ephemeral instance (tests, dg.materialize): no schedule can be on
    for state in instance.all_instigator_state():
        if state.name != schedule_name or state.instigator_type.value != "SCHEDULE":
            continue
        if state.status.value not in ("RUNNING", "DECLARED_IN_CODE"):
            return None
        started = getattr(state.instigator_data, "start_timestamp", None)
        if started is None:
            return datetime.combine(calendar.START_DATE, time(0), tzinfo=calendar.TZ)
        return datetime.fromtimestamp(started, tz=calendar.TZ)
    return None  # never turned on: the schedules are off by default


def on_time_evaluation(
    instance: dg.DagsterInstance, snapshot: str, now: datetime, backfill: str | None = None
) -> dg.AssetCheckEvaluation:
    """The ``<snapshot>_on_time`` evaluation for the latest partition that is due at ``now``.

    Not judged (passed, saying why) while the snapshot's schedule is off or was turned on
    after that partition's request time. ``backfill``: the id of the backfill whose run
    evaluates the check, named in the description."""
    d = latest_due(snapshot, now)
    key = str(partition_key(d, snapshot))
    due = deadline(d, snapshot)
    schedule = SCHEDULE_NAMES[snapshot]
    started = schedule_started_at(instance, schedule)
    at = first_materialized_at(instance, key)
    judged = started is not None and started <= requested_at(d, snapshot)
    if started is None:
        passed, message = (
            True,
            (
                f"{snapshot} snapshot not judged: {schedule} is off, so no review is expected"
                " (turn it on under Automation to have lateness flagged)"
            ),
        )
    elif not judged:
        passed, message = (
            True,
            (
                f"{snapshot} snapshot not judged for {key}: {schedule} was turned on at"
                f" {started:%Y-%m-%d %H:%M} HKT, after that partition's request at"
                f" {requested_at(d, snapshot):%H:%M}; the next trading day is the first judged"
            ),
        )
    elif at is None:
        passed, message = (
            False,
            (
                f"{snapshot} snapshot {key} missed: expected by {due:%Y-%m-%d %H:%M} HKT"
                f" ({schedule} is on), no market report yet; last {snapshot} report"
                f" materialised: {last_materialized(instance, snapshot)}"
            ),
        )
    elif at > due:
        late = int((at - due).total_seconds() // 60)
        passed, message = (
            False,
            (
                f"{snapshot} snapshot {key} late: expected by {due:%Y-%m-%d %H:%M} HKT"
                f" ({schedule} is on), first materialised {at:%Y-%m-%d %H:%M} HKT, {late} min late"
            ),
        )
    else:
        passed, message = (
            True,
            (
                f"{snapshot} snapshot {key} on time: materialised {at:%Y-%m-%d %H:%M} HKT,"
                f" expected by {due:%H:%M} HKT"
            ),
        )
    if backfill:
        message += f" [evaluated inside backfill {backfill}]"
    return dg.AssetCheckEvaluation(
        asset_key=REPORT_KEY,
        check_name=CHECK_NAMES[snapshot],
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=message,
        metadata={
            "partition": key,
            "judged": judged,
            "schedule": f"{schedule} {'on' if started else 'off'}",
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
            f" snapshot_freshness_sensor, and only while {SCHEDULE_NAMES[snapshot]} is on."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        backfill = context.run.tags.get(BACKFILL_TAG)
        ev = on_time_evaluation(
            context.instance, snapshot, datetime.now(calendar.TZ), backfill=backfill
        )
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
    """Evaluations that changed since ``cursor`` (reported) and the new cursor.

    A snapshot not judged is reported only when it was judged before (to clear a failure once
    its schedule is turned off): on a fresh home the checks stay "not evaluated"."""
    seen: dict[str, str] = json.loads(cursor) if cursor else {}
    changed: list[dg.AssetCheckEvaluation] = []
    for snapshot in calendar.SNAPSHOTS:
        ev = on_time_evaluation(instance, snapshot, now)
        if ev.metadata["judged"].value:
            state = f"{ev.metadata['partition'].value}:{ev.passed}"
        else:
            state = "not judged"
            if snapshot not in seen:
                continue
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
