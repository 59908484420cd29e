"""``landing_sensor``: launch a snapshot's run when its complete landing set has arrived.

Every evaluation (each minute while the sensor runs) looks at the landing folder:

- a (day, snapshot) with some files but not all the required ones is *incomplete*: the tick's
  skip reason names the paths still missing (and so does the latest due snapshot with no file
  at all);
- a complete set whose files (by checksum) have not been loaded is launched: one
  ``snapshot_job`` run for that partition, with run key ``landing:<partition>:<digest>``, so
  Dagster never launches the same files twice even if the cursor were lost;
- a set already loaded, by this sensor or by a CLI run (the ``landing_files`` metadata of the
  partition's latest materialisations lists the same checksums), is left alone. Changing any
  file (a vendor's correction) makes a new set, which is launched.

The cursor keeps, per partition, a fingerprint of the files' sizes and modification times and
the digest of their checksums, so an unchanged folder is not re-read on every tick. The sensor
acts only when the pipeline's source is ``landing`` (HK_PIPELINE_SOURCE or the resource).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import dagster as dg

from hk_pipeline import calendar
from hk_pipeline.config import load_settings
from hk_pipeline.defs.ingest import LANDING_FILES_METADATA
from hk_pipeline.defs.jobs import snapshot_job
from hk_pipeline.defs.partitions import partition_key, snapshot_partitions_def
from hk_pipeline.defs.resources import SourceResource
from hk_pipeline.sources.landing import LandingError, landing_manifest, missing_for
from hk_pipeline.sources.landing_sets import (
    candidate_partitions,
    relative,
    set_digest,
    set_fingerprint,
)

LANDING_SET_TAG = "hk_pipeline/landing_set"
LANDING_ASSET_KEYS = [
    dg.AssetKey(["ref", "securities"]),
    dg.AssetKey(["ref", "index_constituents"]),
    dg.AssetKey(["raw", "quotes"]),
    dg.AssetKey(["raw", "index_levels"]),
    dg.AssetKey(["raw", "intraday_bars"]),
    dg.AssetKey(["raw", "macro_series"]),
]
MAX_REPORTED = 10


@dataclass
class LandingTick:
    """What one evaluation found: runs to launch, what is still missing, the new cursor."""

    run_requests: list[dg.RunRequest] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    up_to_date: int = 0
    cursor: dict[str, dict[str, str]] = field(default_factory=dict)

    def summary(self, root: Path) -> str:
        parts = []
        if self.waiting:
            shown = self.waiting[:MAX_REPORTED]
            more = len(self.waiting) - len(shown)
            tail = f"; and {more} more" if more > 0 else ""
            parts.append(f"incomplete in {root}: " + "; ".join(shown) + tail)
        if self.problems:
            parts.append("cannot read: " + "; ".join(self.problems[:MAX_REPORTED]))
        if self.up_to_date:
            parts.append(f"{self.up_to_date} complete set(s) already loaded or launched")
        if not parts:
            parts.append(f"no landing files in {root}")
        return " | ".join(parts)


def loaded_checksums(instance: dg.DagsterInstance, key: str) -> set[tuple[str, str]]:
    """(relative path, sha256) of every landing file the partition's latest successful loads
    read, from their materialisation metadata (sensor runs and CLI runs alike)."""
    out: set[tuple[str, str]] = set()
    for asset_key in LANDING_ASSET_KEYS:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
        )
        for record in result.records:
            materialization = record.asset_materialization
            entry = (
                materialization.metadata.get(LANDING_FILES_METADATA) if materialization else None
            )
            for f in (entry.value if entry is not None else None) or []:
                out.add((str(f["path"]), str(f["sha256"])))
    return out


def _latest_due(now: datetime) -> tuple[date, str]:
    """The most recent (trading day, snapshot) whose snapshot time has passed at ``now``."""
    d = now.astimezone(calendar.TZ).date()
    if not calendar.is_trading_day(d):
        d = calendar.previous_trading_day(d)
    for snapshot in reversed(calendar.SNAPSHOTS):
        if calendar.snapshot_time(d, snapshot) <= now:
            return d, snapshot
    return calendar.previous_trading_day(d), calendar.SNAPSHOTS[-1]


def evaluate_landing(
    instance: dg.DagsterInstance, root: Path, cursor: str | None, now: datetime
) -> LandingTick:
    """One evaluation of the landing folder (see the module docstring)."""

    seen: dict[str, dict[str, str]] = json.loads(cursor) if cursor else {}
    tick = LandingTick(cursor=dict(seen))
    try:
        candidates = candidate_partitions(root)
    except OSError as exc:
        tick.problems.append(f"{root}: {exc}")
        return tick
    try:
        due: tuple[date, str] | None = _latest_due(now)
    except ValueError:  # the clock is outside the exchange calendar: report files only
        due = None
    if due is not None and due not in candidates and str(partition_key(*due)) not in seen:
        candidates.append(due)
    for d, snapshot in candidates:
        key = str(partition_key(d, snapshot))
        try:
            runnable = calendar.is_trading_day(d) and snapshot_partitions_def.has_partition_key(key)
        except ValueError:  # outside the exchange calendar
            runnable = False
        if not runnable:
            tick.problems.append(f"{key}: not a partition (not an HKEX trading day, or future)")
            continue
        try:
            missing = missing_for(root, d, snapshot)
            if missing:
                names = ", ".join(relative(root, p) for p in missing)
                tick.waiting.append(f"{key} waits for {names}")
                continue
            fingerprint = set_fingerprint(root, d, snapshot)
            known = seen.get(key, {})
            if known.get("fingerprint") == fingerprint:
                tick.up_to_date += 1
                continue
            manifest = landing_manifest(root, d, snapshot)
        except (LandingError, OSError) as exc:
            tick.problems.append(f"{key}: {exc}")
            continue
        digest = set_digest(root, manifest)
        files = {(relative(root, f.path), f.sha256) for f in manifest}
        if known.get("digest") == digest or files <= loaded_checksums(instance, key):
            tick.cursor[key] = {"fingerprint": fingerprint, "digest": digest}
            tick.up_to_date += 1
            continue
        tick.run_requests.append(
            dg.RunRequest(
                run_key=f"landing:{key}:{digest[:16]}",
                partition_key=key,
                tags={LANDING_SET_TAG: digest},
            )
        )
        tick.cursor[key] = {"fingerprint": fingerprint, "digest": digest}
    return tick


@dg.sensor(
    name="landing_sensor",
    job=snapshot_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Launches a snapshot's run when its complete landing set (masters in force, quotes,"
        " index levels) has arrived and those files have not been loaded; the skip reason"
        " names what an incomplete set still misses. Acts only when the source is landing."
    ),
)
def landing_sensor(
    context: dg.SensorEvaluationContext, source: SourceResource
) -> dg.SensorResult | dg.SkipReason:
    if source.source_name != "landing":
        return dg.SkipReason(
            f"the pipeline's source is {source.source_name!r}; the landing sensor acts only"
            " with HK_PIPELINE_SOURCE=landing"
        )
    root = load_settings({"HK_PIPELINE_HOME": source.home}).landing_dir
    tick = evaluate_landing(context.instance, root, context.cursor, datetime.now(calendar.TZ))
    summary = tick.summary(root)
    if tick.run_requests:
        context.log.info(summary)
    cursor = json.dumps(tick.cursor, sort_keys=True)
    return dg.SensorResult(
        run_requests=tick.run_requests,
        skip_reason=None if tick.run_requests else dg.SkipReason(summary),
        cursor=cursor,
    )
