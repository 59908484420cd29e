"""Running ``hk-pipeline`` in a child process and checking what it left in the lake.

A fingerprint maps (table, trade_date, snapshot) to (rows, sum of row hashes) for every
partitioned table (whole table for the effective-dated ones), without the lineage columns
(run_id, loaded_at, quarantined_at), which differ between two runs of the same data. A
partition written twice would change the row count; half a partition, the count or the hash.
Fingerprints are always taken by a reader opened afterwards (``open_reader``, DuckLake's
READ_ONLY attach): what an analyst would see, not what a writer's connection might.

The files: every Parquet file under the lake's data path is either tracked by the catalog
(data and delete files of the current snapshot and of those kept for time travel), scheduled
for deletion by an expiry, or an orphan: written by a transaction that never committed. A file
the catalog tracks must always exist; orphans are harmless and the upkeep removes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.readers import open_reader
from hk_pipeline.warehouse.upkeep import ORPHAN_GRACE, UpkeepResult, upkeep
from hk_pipeline_tests.lake_access import home_settings

BASE = ("2025-11-20", "close")  # in the base lake
NEW = ("2025-11-21", "midday")  # the partition the trials run
OTHER = ("2025-11-21", "close")  # a second new partition (two writers)
HK_PIPELINE = str(Path(sys.executable).with_name("hk-pipeline"))
LINEAGE = ("run_id", "loaded_at", "quarantined_at")
SCHEMAS = ("ref", "raw", "mart", "quarantine")

Key = tuple[str, str | None, str | None]
Fingerprint = dict[Key, tuple[int, int]]
Where = Path | Settings
"""A home (the embedded default: SQLite catalog, ``<home>/lake``) or full settings."""


def run_args(partition: tuple[str, str]) -> tuple[str, ...]:
    return ("run", "--date", partition[0], "--snapshot", partition[1])


def settings_of(where: Where) -> Settings:
    return where if isinstance(where, Settings) else home_settings(where)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HK_PIPELINE_", "DAGSTER_"))}
    env.update(HK_PIPELINE_HOME=str(home), **extra)
    return env


def run_cli(
    home: Path,
    *argv: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HK_PIPELINE, *argv],
        env=child_env(home, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )


def start_cli(home: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [HK_PIPELINE, *argv],
        env=child_env(home, **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def error_lines(stderr: str) -> list[str]:
    """The lines of a command's stderr that report its failure (not the waits it announced)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[str]]]:
    names = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables()"
        " WHERE database_name = current_database() AND schema_name IN ?",
        [list(SCHEMAS)],
    ).fetchall()
    out = []
    for schema, table in sorted(names):
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name ="
                " current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, table],
            ).fetchall()
        ]
        out.append((f"{schema}.{table}", cols))
    return out


def fingerprint(con: duckdb.DuckDBPyConnection) -> Fingerprint:
    """Of every ref/raw/mart/quarantine table of ``con``'s current database (lake or file)."""
    out: Fingerprint = {}
    for table, cols in _tables(con):
        kept = [c for c in cols if c not in LINEAGE]
        row = "hash(" + ", ".join(f'"{c}"' for c in kept) + ")::HUGEINT"
        if "trade_date" in cols and "snapshot" in cols:
            rows = con.execute(
                f"SELECT trade_date::VARCHAR, snapshot, count(*), sum({row}) FROM {table}"
                " GROUP BY ALL"
            ).fetchall()
            for d, s, n, h in rows:
                out[(table, d, s)] = (n, int(h))
        else:
            n, h = con.execute(f"SELECT count(*), coalesce(sum({row}), 0) FROM {table}").fetchone()
            out[(table, None, None)] = (n, int(h))
    return out


def non_empty(fp: Fingerprint) -> Fingerprint:
    return {k: v for k, v in fp.items() if v[0]}


@dataclass
class State:
    """What a reader opened now sees: the tables' fingerprint, the snapshot it reads, and the
    views that fail to answer (none, in a healthy lake)."""

    tables: Fingerprint
    version: int
    broken_views: dict[str, str] = field(default_factory=dict)


def read_state(where: Where, *, snapshot_version: int | None = None) -> State:
    """Open a reader (optionally at an older snapshot), fingerprint everything, query each view."""
    con = open_reader(settings_of(where), snapshot_version=snapshot_version)
    try:
        con.execute("BEGIN TRANSACTION")  # one snapshot for everything read below
        tables = fingerprint(con)
        version = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
        broken = {}
        views = con.execute(
            "SELECT schema_name || '.' || view_name FROM duckdb_views()"
            " WHERE database_name = current_database() AND NOT internal ORDER BY 1"
        ).fetchall()
        for (view,) in views:
            try:
                con.execute(f"SELECT count(*) FROM {view}").fetchall()
            except duckdb.Error as exc:
                broken[view] = str(exc).splitlines()[0]
        con.execute("COMMIT")
    finally:
        con.close()
    return State(tables=tables, version=int(version), broken_views=broken)


def check_old_or_new(state: State, old: State, new: State) -> list[str]:
    """Problems: a partition that is neither its old nor its new complete state, or a view
    that no longer answers."""
    problems = []
    for key in sorted(set(state.tables) | set(old.tables) | set(new.tables), key=str):
        got = state.tables.get(key)
        if got not in (old.tables.get(key), new.tables.get(key)):
            problems.append(
                f"{key}: {got} is neither old {old.tables.get(key)} nor new {new.tables.get(key)}"
            )
    problems += [f"view {v} fails: {e}" for v, e in state.broken_views.items()]
    return problems


@dataclass
class Files:
    """The lake's files: on disk under the data path, and as the catalog knows them."""

    on_disk: set[Path]
    live: set[Path]  # referenced by the current snapshot
    tracked: set[Path]  # live, plus those kept for time travel
    scheduled: set[Path]  # unreferenced since an expiry, waiting for the cleanup

    @property
    def missing(self) -> set[Path]:
        """Files the catalog still references but the disk lacks: data loss."""
        return self.tracked - self.on_disk

    @property
    def orphans(self) -> set[Path]:
        """Files no snapshot ever referenced: the leftovers of uncommitted writes."""
        return self.on_disk - self.tracked - self.scheduled


def _file_paths(con: duckdb.DuckDBPyConnection, data_dir: Path, kind: str) -> dict[Path, bool]:
    """{absolute path: live} of the catalog's data or delete files."""
    meta = "__ducklake_metadata_lake"
    rows = con.execute(
        f"""
        SELECT s.path, s.path_is_relative, t.path, t.path_is_relative, f.path,
               f.path_is_relative, f.end_snapshot IS NULL
        FROM {meta}.ducklake_{kind}_file AS f
        JOIN (SELECT DISTINCT table_id, schema_id, path, path_is_relative
              FROM {meta}.ducklake_table) AS t USING (table_id)
        JOIN (SELECT DISTINCT schema_id, path, path_is_relative
              FROM {meta}.ducklake_schema) AS s USING (schema_id)
        """
    ).fetchall()
    out: dict[Path, bool] = {}
    for s_path, s_rel, t_path, t_rel, f_path, f_rel, live in rows:
        path = Path(f_path)
        if f_rel:
            table_dir = Path(t_path)
            if t_rel:
                table_dir = (data_dir / s_path if s_rel else Path(s_path)) / t_path
            path = table_dir / f_path
        out[path] = out.get(path, False) or bool(live)
    return out


def lake_files(where: Where) -> Files:
    settings = settings_of(where)
    data_dir = Path(settings.lake_data_path)
    con = open_reader(settings)
    try:
        files = _file_paths(con, data_dir, "data") | _file_paths(con, data_dir, "delete")
        scheduled = {
            Path(p) if not rel else data_dir / p
            for p, rel in con.execute(
                "SELECT path, path_is_relative"
                " FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion"
            ).fetchall()
        }
    finally:
        con.close()
    on_disk = {p for p in data_dir.rglob("*") if p.is_file()} if data_dir.exists() else set()
    return Files(
        on_disk=on_disk,
        live={p for p, live in files.items() if live},
        tracked=set(files),
        scheduled=scheduled,
    )


def upkeep_later(where: Where, hours: float = 2) -> UpkeepResult:
    """The upkeep as it would run ``hours`` from now with no retention: every snapshot but the
    last expires, and files older than ORPHAN_GRACE (so every file written so far, when
    ``hours`` exceeds it) that no snapshot references are removed."""
    assert timedelta(hours=hours) > ORPHAN_GRACE
    con = connect(settings_of(where))
    try:
        return upkeep(con, retention_days=0, now=datetime.now(UTC) + timedelta(hours=hours))
    finally:
        con.close()


def check_files_after_upkeep(where: Where) -> list[str]:
    """Problems after :func:`upkeep_later`: the disk must hold exactly the current files."""
    files = lake_files(where)
    problems = []
    if files.missing:
        problems.append(f"catalog references missing files: {sorted(map(str, files.missing))}")
    if files.on_disk != files.live:
        extra = sorted(str(p) for p in files.on_disk - files.live)
        problems.append(f"{len(extra)} file(s) on disk no current snapshot uses: {extra[:5]}")
    if files.tracked != files.live or files.scheduled:
        problems.append("the catalog still tracks expired files after a 0-day retention upkeep")
    return problems
