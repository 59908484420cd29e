"""Killed runs: SIGKILL at every named fault point and at random moments, then check the lake.

A trial copies the base lake (one good partition), runs a command with ``HK_PIPELINE_FAULT``
naming a point (or kills it after a random delay), and checks with a reader opened afterwards:
the lake opens; every (table, partition) is its old or its new complete state, never partial
or doubled; every view answers; every file the catalog references exists. Nothing a killed
transaction wrote is visible: its Parquet files are orphans no snapshot references.

- ``hk-pipeline run`` of the NEW partition: default mode chains the points on one copy (each
  run after a kill is itself a re-run that must get past where the last one died) and ends
  each chain with a random-moment kill and a clean re-run that must reach the reference state
  exactly, time travel to the base snapshot still showing the base state;
- ``hk-pipeline upkeep --retention-days 0`` (points ``upkeep.*``), at the end of each chain:
  the data must be exactly the reference; the upkeep is then run again to completion;
- ``hk-pipeline migrate --from <old warehouse.duckdb>`` (points ``migrate.*``) into a new
  lake: the lake holds all of the old file or none of it, and a re-run migrates it;
- a kill between writing a partition's Parquet files and committing (``write.partition.inserted``
  at its 1st, 2nd... reach until one leaves files) leaves orphans, which the upkeep keeps while
  they are young (a running writer may own them) and removes after ORPHAN_GRACE (the upkeep of
  two hours later, in-process), after which the disk holds exactly the files the catalog
  references and the data is unchanged;
- the DDL of a brand-new lake, a refused partition's quarantine write and a landing-load
  record, in children doing just that.

Long mode gives every run and upkeep point its own copy and re-run, kills at the 2nd reach of
each run point, and tries more random moments and migration points.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from hk_pipeline.faults import FAULT_POINTS, FAULT_VARIABLE
from hk_pipeline.warehouse.ddl import ddl_texts
from hk_pipeline.warehouse.readers import ReaderError
from hk_pipeline_tests.lake_access import read_home, write_home
from hk_pipeline_tests.reliability.conftest import LONG
from hk_pipeline_tests.reliability.harness import (
    BASE,
    LINEAGE,
    NEW,
    State,
    check_files_after_upkeep,
    check_old_or_new,
    child_env,
    copy_home,
    error_lines,
    fingerprint,
    lake_files,
    non_empty,
    read_state,
    run_args,
    run_cli,
    start_cli,
    upkeep_later,
)

AREA = "killed runs"
# reached only off `hk-pipeline run`'s path on a base copy: a new lake's DDL, a refused
# partition's quarantine, a landing load; tried by their own tests below
SPECIAL = (
    "ddl.mid_transaction",
    "quarantine.deleted",
    "quarantine.inserted",
    "landing.loads.deleted",
)
UPKEEP_POINTS = [p for p in FAULT_POINTS if p.startswith("upkeep.")]
MIGRATE_POINTS = [p for p in FAULT_POINTS if p.startswith("migrate.")]
RUN_POINTS = [
    p for p in FAULT_POINTS if p not in SPECIAL and p not in UPKEEP_POINTS + MIGRATE_POINTS
]
CHAINS = 2
ORPHANS_POINT = "write.partition.inserted"  # Parquet files written, catalog not committed
RUN = run_args(NEW)
UPKEEP = ("upkeep", "--retention-days", "0")
KILLED = -signal.SIGKILL


def _kill_at(home: Path, fault: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_cli(home, *(argv or RUN), env={FAULT_VARIABLE: fault})


def _killed(result: subprocess.CompletedProcess[str], point: str) -> None:
    assert result.returncode == KILLED, (
        f"{point} was never reached (exit {result.returncode}): {result.stderr[-600:]}"
    )


def _kill_randomly(home: Path, rng: random.Random) -> float:
    delay = rng.uniform(2.0, 8.0)
    proc = start_cli(home, *RUN)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return delay


def _verify(home: Path, old: State, new: State, what: str) -> State:
    """A reader opened now sees every partition old or new, every view answers, and no file
    the catalog references is missing."""
    state = read_state(home)
    problems = check_old_or_new(state, old, new)
    assert not problems, f"after {what}: " + "; ".join(problems)
    return state


def _rerun_reaches_reference(home: Path, base_state: State, reference: State) -> None:
    result = run_cli(home, *RUN)
    assert result.returncode == 0, result.stderr[-1500:]
    assert read_state(home).tables == reference.tables
    # what a reader pinned to the snapshot before the trials sees never changed
    assert read_state(home, snapshot_version=base_state.version).tables == base_state.tables


def _kill_leaving_orphans(home: Path, old: State, new: State, t) -> None:
    """Kill at ORPHANS_POINT, at its 1st, 2nd... reach, until a kill leaves data files behind
    (the first partitions a run writes may be small enough for DuckLake to keep in the catalog)."""
    for nth in range(1, 9):
        point = f"{ORPHANS_POINT}@{nth}"
        _killed(_kill_at(home, point), point)
        t.trials += 1
        files = _verify(home, old, new, f"SIGKILL at {point}").files
        t.survived += 1
        if files is not None and files.orphans:
            assert all(p.suffix == ".parquet" for p in files.orphans), files.orphans
            return
    raise AssertionError(f"no kill at {ORPHANS_POINT} left a data file: the trial proves nothing")


def _upkeep_trials(home: Path, points: list[str], reference: State, t) -> None:
    """Kill the upkeep at ``points``; the data stays the reference's. Then it completes and
    keeps the orphans (young files may belong to a write still running), and the upkeep of
    two hours later removes them: the disk holds exactly the current files, the data intact."""
    orphans = lake_files(home).orphans
    for point in points:
        _killed(_kill_at(home, point, *UPKEEP), point)
        t.trials += 1
        state = _verify(home, reference, reference, f"SIGKILL at {point}")
        assert state.tables == reference.tables
        t.survived += 1
    result = run_cli(home, *UPKEEP)
    assert result.returncode == 0, result.stderr[-1500:]
    assert orphans <= lake_files(home).orphans
    assert upkeep_later(home).orphans_removed >= len(orphans)
    problems = check_files_after_upkeep(home)
    assert not problems, problems
    assert read_state(home).tables == reference.tables


def _chains() -> list[tuple[list[str], list[str]]]:
    return [(RUN_POINTS[i::CHAINS], UPKEEP_POINTS[i::CHAINS]) for i in range(CHAINS)]


def test_every_fault_point_has_a_trial() -> None:
    """A new point lands in RUN_POINTS (and a chain fails if a run never reaches it)."""
    tried = set(RUN_POINTS) | set(UPKEEP_POINTS) | set(MIGRATE_POINTS) | set(SPECIAL)
    assert tried == set(FAULT_POINTS)
    assert not [p for p in FAULT_POINTS if p.startswith("publish.")]
    assert {p for chain in _chains() for p in chain[0] + chain[1]} == set(
        RUN_POINTS + UPKEEP_POINTS
    )


@pytest.mark.skipif(LONG, reason="long mode runs every point on its own copy")
@pytest.mark.parametrize("chain", range(CHAINS))
def test_killed_chain(chain: int, trial_home: Path, base_state, reference, tally) -> None:
    t = tally(AREA)
    rng = random.Random(chain)
    run_points, upkeep_points = _chains()[chain]
    for point in run_points:
        if point == ORPHANS_POINT:
            _kill_leaving_orphans(trial_home, base_state, reference, t)
            continue
        _killed(_kill_at(trial_home, point), point)
        t.trials += 1
        _verify(trial_home, base_state, reference, f"SIGKILL at {point}")
        t.survived += 1
    delay = _kill_randomly(trial_home, rng)
    t.trials += 1
    _verify(trial_home, base_state, reference, f"SIGKILL after {delay:.1f}s")
    _rerun_reaches_reference(trial_home, base_state, reference)
    t.survived += 1
    _upkeep_trials(trial_home, upkeep_points, reference, t)


@pytest.mark.skipif(not LONG, reason="long mode only (HK_PIPELINE_RELIABILITY=long)")
@pytest.mark.parametrize("point", [*RUN_POINTS, *(f"{p}@2" for p in RUN_POINTS), "random"])
def test_killed_alone(point: str, trial_home: Path, base_state, reference, tally) -> None:
    t = tally(AREA)
    for i in range(5 if point == "random" else 1):
        if point == "random":
            _kill_randomly(trial_home, random.Random(i))
        elif point == ORPHANS_POINT:
            _kill_leaving_orphans(trial_home, base_state, reference, t)
            continue
        else:
            result = _kill_at(trial_home, point)
            if result.returncode == 0:  # an @2 the run reaches only once
                continue
            _killed(result, point)
        t.trials += 1
        _verify(trial_home, base_state, reference, f"SIGKILL at {point}")
        t.survived += 1
    _rerun_reaches_reference(trial_home, base_state, reference)
    if point == ORPHANS_POINT:
        _upkeep_trials(trial_home, [], reference, t)


@pytest.mark.skipif(not LONG, reason="long mode only (HK_PIPELINE_RELIABILITY=long)")
@pytest.mark.parametrize("point", UPKEEP_POINTS)
def test_killed_upkeep_alone(
    point: str, reference_home: Path, reference, tmp_path: Path, tally
) -> None:
    t = tally(AREA)
    home = tmp_path / "home"
    copy_home(reference_home, home)
    _upkeep_trials(home, [point], reference, t)


def _schema(home: Path) -> set[tuple[str, str]]:
    con = read_home(home)
    try:
        return set(
            con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
                " WHERE database_name = current_database() UNION ALL"
                " SELECT schema_name, view_name FROM duckdb_views()"
                " WHERE database_name = current_database() AND NOT internal"
            ).fetchall()
        )
    finally:
        con.close()


def test_killed_creating_a_fresh_lake(tmp_path: Path, base_home: Path, tally) -> None:
    """SIGKILL inside the DDL transaction of a brand-new lake: the next writer sets it up."""
    t = tally(AREA)
    home = tmp_path / "home"
    result = _kill_at(home, "ddl.mid_transaction", *run_args(BASE))
    _killed(result, "ddl.mid_transaction")
    t.trials += 1
    try:
        state = read_state(home)
    except ReaderError as exc:  # the kill may come before the catalog holds a lake
        assert "no lake" in str(exc) or "run the pipeline first" in str(exc), exc
    else:  # no half-made schema: the set-up is one transaction
        assert not state.tables and not state.broken_views, state
        assert not _schema(home)
    write_home(home).close()  # what the next run does first
    assert _schema(home) == _schema(base_home)
    state = read_state(home)  # empty, every view answers
    assert not non_empty(state.tables) and not check_old_or_new(state, state, state)
    t.survived += 1


CHILD = """
import sys
from datetime import date
from functools import partial
import pandas as pd
from hk_pipeline.warehouse.writes import replace_partition
from hk_pipeline.warehouse.landing_loads import LoadedFile, replace_landing_loads
from hk_pipeline.warehouse.quarantine import replace_quarantine
from hk_pipeline_tests.lake_access import write_home
con = write_home(sys.argv[1])
d = date(2025, 11, 20)
rejected = pd.DataFrame({"row_number": [1], "record": ['{"symbol": "x"}'], "reason": ["bad"]})
if sys.argv[2] == "quarantine":
    replace_quarantine(con, "raw.quotes", rejected, trade_date=d, snapshot="close",
                       run_id="child", source="sample")
else:
    rows = con.execute("SELECT * EXCLUDE (run_id, loaded_at) FROM raw.index_levels"
                       " WHERE trade_date = ? AND snapshot = 'close'", [d]).fetchdf()
    record = partial(replace_landing_loads, files=[LoadedFile("index_levels/x.csv", "0" * 64, 1)],
                     trade_date=d, snapshot="close", kind="index_levels", run_id="child")
    replace_partition(con, "raw.index_levels", rows, trade_date=d, snapshot="close",
                      run_id="child", source="sample", also=record)
con.close()
"""


@pytest.mark.parametrize(
    ("point", "mode"),
    [
        ("quarantine.deleted", "quarantine"),
        ("quarantine.inserted", "quarantine"),
        ("landing.loads.deleted", "landing"),
    ],
)
def test_killed_inside_other_writes(
    point: str, mode: str, trial_home: Path, base_state, tally
) -> None:
    """The points a sample run never reaches, killed in a child doing just that write."""
    t = tally(AREA)
    env = child_env(trial_home, **{FAULT_VARIABLE: point})
    argv = [sys.executable, "-c", CHILD, str(trial_home), mode]
    killed = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
    _killed(killed, point)
    t.trials += 1
    assert read_state(trial_home).tables == base_state.tables
    env.pop(FAULT_VARIABLE)
    done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
    con = read_home(trial_home)
    try:
        table = "quarantine.quotes" if mode == "quarantine" else "raw.landing_loads"
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1
    finally:
        con.close()
    t.survived += 1


def test_killed_migration_is_all_or_nothing(tmp_path: Path, old_warehouse, tally) -> None:
    t = tally(AREA)
    source, expected = old_warehouse
    home = tmp_path / "home"
    migrate = ("migrate", "--from", str(source))
    tables = len(ddl_texts())  # migrate.table_copied is reached once per table
    copied = ["migrate.table_copied", "migrate.table_copied@7"]
    if LONG:
        copied = [f"migrate.table_copied@{n}" for n in range(1, tables + 1)]
    for point in [*copied, "migrate.before_commit"]:
        _killed(_kill_at(home, point, *migrate), point)
        t.trials += 1
        state = read_state(home)
        got = non_empty(state.tables)
        assert got in ({}, expected), f"after SIGKILL at {point}: the lake holds {sorted(got)}"
        assert not check_old_or_new(state, state, state)
        t.survived += 1
    result = run_cli(home, *migrate)
    assert result.returncode == 0, result.stderr[-1500:]
    assert non_empty(read_state(home).tables) == expected
    # a second migration would mix two histories: refused in one line, nothing changed
    again = run_cli(home, *migrate)
    assert again.returncode == 1 and len(error_lines(again.stderr)) == 1, again.stderr[-1500:]
    assert "already holds rows" in again.stderr and "Traceback" not in again.stderr
    assert non_empty(read_state(home).tables) == expected
    con = duckdb.connect(str(source), read_only=True)  # the old file is left as it was
    try:
        assert non_empty(fingerprint(con)) == expected
    finally:
        con.close()


# A kill inside the SQLite COMMIT of the catalog (changed pages already in the WAL, no commit
# frame yet): done by hand, as no fault point can stop DuckLake there.
HALF_COMMIT = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size = 1")  # spill the changed pages before the commit
con.execute("BEGIN IMMEDIATE")
for i in range(2000):
    con.execute("INSERT INTO ducklake_metadata VALUES (?, ?, NULL, NULL)", (f"k{i}", "x" * 500))
os.kill(os.getpid(), signal.SIGKILL)
"""


def _half_commit_keys(home: Path) -> int:
    con = read_home(home)
    try:
        return con.execute(
            "SELECT count(*) FROM __ducklake_metadata_lake.ducklake_metadata WHERE key LIKE 'k%'"
        ).fetchone()[0]
    finally:
        con.close()


def test_killed_inside_the_catalog_commit(trial_home: Path, base_state, tally) -> None:
    """Readers (READ_ONLY, which cannot repair the catalog file) and then writers open it."""
    t = tally(AREA)
    catalog = trial_home / "catalog.sqlite"
    wal = catalog.with_name("catalog.sqlite-wal")
    argv = [sys.executable, "-c", HALF_COMMIT, str(catalog)]
    assert subprocess.run(argv, check=False).returncode == KILLED
    left = catalog.with_name("catalog.sqlite-journal").exists() or wal.stat().st_size > 0
    assert left, "the kill left nothing half-committed: the trial proves nothing"
    t.trials += 1
    assert not check_old_or_new(read_state(trial_home), base_state, base_state)
    assert _half_commit_keys(trial_home) == 0
    write_home(trial_home).close()
    assert not check_old_or_new(read_state(trial_home), base_state, base_state)
    assert _half_commit_keys(trial_home) == 0
    t.survived += 1


# --- caught up: the lake's answer to "an interrupted publish" -------------------------------
#
# The single-file warehouse published a copy for analysts and a run killed while publishing
# left it stale until a `--full` publish. On the lake there is no copy: analysts' views read
# the catalog's current snapshot, so the "publish" is the commit itself. A run killed around
# its commits leaves each partition old or new (above); here the next plain run, with no
# option, must leave every analyst view exactly as an uninterrupted run does.

CAUGHT_UP = "caught up"
AROUND_COMMITS = [
    "write.partition.before_commit",
    "write.partition.committed",
    "write.upsert.committed",
    "mart.committed",
]


def _views(home: Path) -> dict[str, tuple[int, int]]:
    """(rows, content hash) of every analyst view, lineage columns left out."""
    con = read_home(home)
    try:
        columns = con.execute(
            "SELECT schema_name || '.' || table_name, list(column_name ORDER BY column_index)"
            " FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'views' GROUP BY ALL ORDER BY 1"
        ).fetchall()
        out = {}
        for view, cols in columns:
            kept = ", ".join(f'"{c}"' for c in cols if c not in LINEAGE)
            n, h = con.execute(
                f"SELECT count(*), coalesce(sum(hash({kept})::HUGEINT), 0) FROM {view}"
            ).fetchone()
            out[view] = (int(n), int(h))
        return out
    finally:
        con.close()


def test_killed_around_a_commit_is_caught_up_by_the_next_plain_run(
    trial_home: Path, reference_home: Path, tally
) -> None:
    t = tally(CAUGHT_UP)
    expected = _views(reference_home)
    assert expected and any(n for n, _ in expected.values()), "no analyst view holds rows"
    for point in AROUND_COMMITS:
        _killed(_kill_at(trial_home, point), point)
        t.trials += 1
    result = run_cli(trial_home, *RUN)  # plain: no --full, no repair step
    assert result.returncode == 0, result.stderr[-1500:]
    got = _views(trial_home)
    differ = sorted(v for v in expected if got.get(v) != expected[v])
    assert not differ, f"analyst views not caught up after a plain run: {differ}"
    t.survived += len(AROUND_COMMITS)
    t.cases += len(expected)
