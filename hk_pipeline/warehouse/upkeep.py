"""Keeping the lake small and fast with DuckLake's own maintenance functions.

Every write adds Parquet files and a snapshot; nothing is overwritten in place. Left alone, a
year of twice-daily runs leaves many small files (a mart partition is a few rows) and keeps
every replaced file for time travel. The upkeep, in order:

1. flush rows DuckLake kept inline in the catalog (tiny inserts) into Parquet files;
2. merge adjacent small files of the same partition (``ducklake_merge_adjacent_files``;
   the tables are partitioned by (trade_date, snapshot), so a merged file never mixes two);
3. rewrite files whose rows are mostly deleted (``ducklake_rewrite_data_files``);
4. expire snapshots older than the retention (time travel reaches back that far, no further);
5. delete the files no live snapshot references any more (``ducklake_cleanup_old_files``)
   and files no snapshot ever referenced: the leftovers of writes killed between writing
   a data file and committing (``ducklake_delete_orphaned_files``).

Files younger than ``ORPHAN_GRACE`` are never removed as orphans: they may belong to a write
that is still running in another process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from hk_pipeline.config import nonnegative_number
from hk_pipeline.faults import fault_point
from hk_pipeline.warehouse.tx import retry_on_conflict

RETENTION_VARIABLE = "HK_PIPELINE_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30.0
ORPHAN_GRACE = timedelta(hours=1)
REWRITE_DELETE_THRESHOLD = 0.5


@dataclass(frozen=True)
class FileStats:
    """Data and delete files the lake's current snapshot references, and every file the
    catalog still tracks (current ones plus those kept for time travel)."""

    live_files: int
    live_bytes: int
    tracked_files: int
    tracked_bytes: int

    def text(self) -> str:
        return (
            f"{self.live_files} live file(s), {self.live_bytes / 2**20:.1f} MiB;"
            f" {self.tracked_files} tracked with time travel, {self.tracked_bytes / 2**20:.1f} MiB"
        )


@dataclass
class UpkeepResult:
    before: FileStats
    after: FileStats
    retention_days: float
    snapshots_expired: int = 0
    files_cleaned: int = 0
    orphans_removed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"upkeep: before {self.before.text()}; after {self.after.text()};"
            f" {self.snapshots_expired} snapshot(s) older than {self.retention_days:g} day(s)"
            f" expired, {self.files_cleaned} old file(s) and {self.orphans_removed} orphaned"
            " file(s) removed"
        )


def retention_days(environ: dict[str, str] | None = None) -> float:
    """``HK_PIPELINE_RETENTION_DAYS`` (default 30); ValueError naming it on a bad value."""
    env = os.environ if environ is None else environ
    return nonnegative_number(env, RETENTION_VARIABLE, DEFAULT_RETENTION_DAYS, "days")


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchall()[0][0]


def file_stats(con: duckdb.DuckDBPyConnection) -> FileStats:
    """Counts and sizes from the lake's own metadata (works for local and S3 data paths)."""
    meta = f"__ducklake_metadata_{_catalog(con)}"
    rows = con.execute(
        f"""
        WITH files AS (
            SELECT file_size_bytes, end_snapshot FROM {meta}.ducklake_data_file
            UNION ALL
            SELECT file_size_bytes, end_snapshot FROM {meta}.ducklake_delete_file
        )
        SELECT count(*) FILTER (WHERE end_snapshot IS NULL),
               coalesce(sum(file_size_bytes) FILTER (WHERE end_snapshot IS NULL), 0),
               count(*), coalesce(sum(file_size_bytes), 0)
        FROM files
        """
    ).fetchall()[0]
    return FileStats(*(int(v) for v in rows))


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    return len(_retrying(con, sql, params).fetchall())


def _retrying(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> duckdb.DuckDBPyConnection:
    """One maintenance call (each commits on its own), again while a run's commit wins.

    Every step is safe to repeat: what one call did, the next finds done.
    """
    return retry_on_conflict(
        lambda: con.execute(sql, params or []),
        what="the upkeep",
        undone="the step it waited to run changed nothing (the steps before it are done)",
    )


def upkeep(
    con: duckdb.DuckDBPyConnection,
    *,
    retention_days: float | None = None,
    now: datetime | None = None,
) -> UpkeepResult:
    """Run the upkeep on the lake attached as ``con``'s current database (see module doc)."""
    days = globals()["retention_days"]() if retention_days is None else retention_days
    now = now or datetime.now(UTC)
    lake = _catalog(con)
    result = UpkeepResult(before=file_stats(con), after=file_stats(con), retention_days=days)
    t0 = time.monotonic()
    _retrying(con, "CALL ducklake_flush_inlined_data(?)", [lake])
    _retrying(con, "CALL ducklake_merge_adjacent_files(?)", [lake])
    fault_point("upkeep.merged")
    _retrying(
        con,
        "CALL ducklake_rewrite_data_files(?, delete_threshold => ?)",
        [lake, REWRITE_DELETE_THRESHOLD],
    )
    result.seconds["compact"] = time.monotonic() - t0
    t0 = time.monotonic()
    result.snapshots_expired = _count(
        con,
        "SELECT * FROM ducklake_expire_snapshots(?, older_than => ?)",
        [lake, now - timedelta(days=days)],
    )
    fault_point("upkeep.expired")
    result.files_cleaned = _count(
        con, "SELECT * FROM ducklake_cleanup_old_files(?, cleanup_all => true)", [lake]
    )
    fault_point("upkeep.cleaned")
    result.orphans_removed = _count(
        con,
        "SELECT * FROM ducklake_delete_orphaned_files(?, older_than => ?)",
        [lake, now - ORPHAN_GRACE],
    )
    fault_point("upkeep.orphans_removed")
    result.seconds["expire_and_clean"] = time.monotonic() - t0
    result.after = file_stats(con)
    return result
