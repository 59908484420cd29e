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
import shlex
import shutil
import subprocess
import sys
import tempfile
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


def copy_home(source: Path, dest: Path) -> Path:
    """Copy a home (lake, catalog, Dagster storage, reports); the built sample market in
    ``cache/`` is hard-linked, not copied (44 MB; it is only ever replaced by a rename)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("cache"))
    if (source / "cache").is_dir():
        shutil.copytree(source / "cache", dest / "cache", copy_function=os.link)
    return dest


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HK_PIPELINE_", "DAGSTER_"))}
    env.update(HK_PIPELINE_HOME=str(home), **extra)
    return env


def _finished(
    command: list[str],
    home: Path,
    env: dict[str, str] | None,
    preexec_fn: Callable[[], None] | None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """``command`` run to its end on ``home`` (child_env plus ``env``), output captured."""
    return subprocess.run(
        command,
        env=child_env(home, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )


def run_cli(
    home: Path,
    *argv: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    return _finished([HK_PIPELINE, *argv], home, env, preexec_fn, timeout)


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


def one_error_line(stderr: str, *needles: str) -> str:
    """The failure a command reported in one line: asserts exactly one ``error:`` line, no
    traceback, and every needle in that line; returns it."""
    errors = error_lines(stderr)
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    line = errors[0]
    for needle in needles:
        assert needle in line, f"{needle!r} not in: {line}"
    return line


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[str]]]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, list(column_name ORDER BY column_index)"
        " FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name IN ? GROUP BY ALL ORDER BY 1",
        [list(SCHEMAS)],
    ).fetchall()
    return [(table, list(cols)) for table, cols in rows]


def fingerprint(con: duckdb.DuckDBPyConnection) -> Fingerprint:
    """Of every ref/raw/mart/quarantine table of ``con``'s current database (lake or file)."""
    parts = []
    for table, cols in _tables(con):
        kept = ", ".join(f'"{c}"' for c in cols if c not in LINEAGE)
        row = f"hash({kept})::HUGEINT"
        if "trade_date" in cols and "snapshot" in cols:
            key, group = "trade_date::VARCHAR, snapshot", " GROUP BY ALL"
        else:
            key, group = "NULL::VARCHAR, NULL::VARCHAR", ""
        parts.append(
            f"SELECT '{table}', {key}, count(*), coalesce(sum({row}), 0) FROM {table}{group}"
        )
    if not parts:
        return {}
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    return {(table, d, s): (n, int(h)) for table, d, s, n, h in rows}


def non_empty(fp: Fingerprint) -> Fingerprint:
    return {k: v for k, v in fp.items() if v[0]}


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


@dataclass
class State:
    """What a reader opened now sees: the tables' fingerprint, the snapshot it reads, the
    views that fail to answer (none, in a healthy lake) and the lake's files."""

    tables: Fingerprint
    version: int
    broken_views: dict[str, str] = field(default_factory=dict)
    files: Files | None = None


def read_state(where: Where, *, snapshot_version: int | None = None) -> State:
    """Open a reader (optionally at an older snapshot), fingerprint every table, query every
    view, list the files (not for an older snapshot)."""
    settings = settings_of(where)
    con = open_reader(settings, snapshot_version=snapshot_version)
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
        files = None if snapshot_version is not None else _files(con, settings)
        con.execute("COMMIT")
    finally:
        con.close()
    return State(tables=tables, version=int(version), broken_views=broken, files=files)


def check_old_or_new(state: State, old: State, new: State) -> list[str]:
    """Problems: a partition that is neither its old nor its new complete state, a view that
    no longer answers, a file the catalog references that is missing."""
    problems = []
    for key in sorted(set(state.tables) | set(old.tables) | set(new.tables), key=str):
        got = state.tables.get(key)
        if got not in (old.tables.get(key), new.tables.get(key)):
            problems.append(
                f"{key}: {got} is neither old {old.tables.get(key)} nor new {new.tables.get(key)}"
            )
    problems += [f"view {v} fails: {e}" for v, e in state.broken_views.items()]
    if state.files is not None and state.files.missing:
        problems.append(f"catalog references missing files {sorted(map(str, state.files.missing))}")
    return problems


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


def _files(con: duckdb.DuckDBPyConnection, settings: Settings) -> Files:
    data_dir = Path(settings.lake_data_path)
    files = _file_paths(con, data_dir, "data") | _file_paths(con, data_dir, "delete")
    scheduled = {
        Path(p) if not rel else data_dir / p
        for p, rel in con.execute(
            "SELECT path, path_is_relative"
            " FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion"
        ).fetchall()
    }
    on_disk = {p for p in data_dir.rglob("*") if p.is_file()} if data_dir.exists() else set()
    return Files(
        on_disk=on_disk,
        live={p for p, live in files.items() if live},
        tracked=set(files),
        scheduled=scheduled,
    )


def lake_files(where: Where) -> Files:
    settings = settings_of(where)
    con = open_reader(settings)
    try:
        return _files(con, settings)
    finally:
        con.close()


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


# --- storage that refuses writes: a private mount namespace for one command -----------------
#
# A full disk and a read-only home are modelled with real mounts (a small tmpfs, a read-only
# bind mount) in a mount namespace of the command's own (``unshare --mount``): they give the
# kernel's own errors (ENOSPC, EROFS), hold for root too (CI runs as root: chmod stops nobody
# there) and vanish with the command. Needs root or CAP_SYS_ADMIN, as CI has.


UNSHARE = ("unshare", "--mount", "--propagation", "private", "sh", "-c")
SETUP_FAILED = 99
"""Exit code of :func:`run_cli_mounted` when a setup line failed (the command did not run)."""


def mounts_available() -> str | None:
    """None when ``unshare --mount`` and ``mount`` work here; else why not."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run(
            [*UNSHARE, 'mount -t tmpfs -o size=4096 tmpfs "$0"', folder],
            capture_output=True,
            text=True,
            check=False,
        )
    if probe.returncode != 0:
        return probe.stderr.strip() or f"unshare exited {probe.returncode}"
    return None


def read_only_mount(path: Path) -> list[str]:
    """Shell lines making ``path`` (a folder or a file) read-only, for root as well."""
    q = shlex.quote(str(path))
    return [f"mount --bind {q} {q}", f"mount -o remount,bind,ro {q}"]


def full_tmpfs(path: Path, size: int = 4096) -> list[str]:
    """Shell lines mounting a tmpfs of ``size`` bytes on ``path``, then filling it up."""
    q = shlex.quote(str(path))
    return [
        f"mkdir -p {q}",
        f"mount -t tmpfs -o size={size} tmpfs {q}",
        f"cat /dev/zero > {q}/.fill 2>/dev/null || true",
    ]


def run_cli_mounted(
    home: Path,
    *argv: str,
    setup: list[str],
    after: list[str] | None = None,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """:func:`run_cli` in a private mount namespace: the shell lines ``setup`` run first (if
    one fails, nothing else runs: exit SETUP_FAILED), then the command, then ``after``
    (whatever the command did: e.g. copying out what a tmpfs holds before the namespace, and
    the tmpfs, go). Returns the command's exit code."""
    script = "\n".join(
        [
            *(f"{{ {line}; }} || exit {SETUP_FAILED}" for line in setup),
            '"$@"',
            "rc=$?",
            *(after or []),
            "exit $rc",
        ]
    )
    return _finished([*UNSHARE, script, "sh", HK_PIPELINE, *argv], home, env, preexec_fn, timeout)
