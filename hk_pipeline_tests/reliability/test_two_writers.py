"""Writers at once: CLI processes writing the lake together all succeed, and the end state is
the one they would have reached one after the other; a writer that keeps losing fails
clearly; readers neither block writers nor see them half-way.

- SQLite catalog, from the base lake, with a reader holding a snapshot open throughout:
  ``run`` of NEW, ``backfill`` of NEW (the same partition, not in the lake yet) and ``run`` of
  BASE (another partition, already there), all three at once;
- PostgreSQL catalog, from an empty lake: ``run`` of NEW and of BASE at once;
- on both catalogs, two writers replacing the same partition (new, or already in the lake),
  held inside their transactions until both are there, so that they overlap for sure.

Also: credentials never reach the runs' output, the Dagster storage or the reports (a fake
secret in the environment of every writer is grepped for afterwards).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hk_pipeline.config import CATALOG_VARIABLE, Settings
from hk_pipeline.instance_config import dagster_yaml
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.readers import open_reader
from hk_pipeline.warehouse.tx import WAIT_VARIABLE
from hk_pipeline_tests.lake_access import read_home, write_home
from hk_pipeline_tests.reliability.harness import (
    BASE,
    NEW,
    State,
    check_old_or_new,
    child_env,
    error_lines,
    fingerprint,
    non_empty,
    read_state,
    run_args,
    run_cli,
    start_cli,
)

AREA = "two writers"
SECRET = "hkp-fake-secret-7f3a9c"  # what a provider token would look like in the environment
RUN_NEW, RUN_BASE = run_args(NEW), run_args(BASE)
BACKFILL_NEW = ("backfill", "--start", NEW[0], "--end", NEW[0], "--snapshot", NEW[1])
RETRIED = "committed first"  # what a writer that lost a commit race says on stderr
Argv = tuple[str, ...]


def _at_once(home: Path, writers: list[Argv], env: dict[str, str], t) -> None:
    """Start ``writers`` at once; all must succeed and keep the secret to themselves."""
    env = {"HK_PIPELINE_EASTMONEY_TOKEN": SECRET, "HK_PIPELINE_API_KEY": SECRET, **env}
    env.setdefault(WAIT_VARIABLE, "120")  # a writer stuck behind a lock fails, not hangs
    procs = [start_cli(home, *argv, env=env) for argv in writers]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    t.trials += 1
    failed = [
        (argv, p.returncode, err[-800:])
        for argv, p, (_, err) in zip(writers, procs, outs, strict=True)
        if p.returncode != 0
    ]
    assert not failed, failed
    t.cases += sum(err.count(RETRIED) for _, err in outs)
    # credentials: never in stdout/stderr, the Dagster storage (event log, run tags) or reports
    assert all(SECRET not in out + err for out, err in outs)
    for path in home.rglob("*"):
        if path.is_file() and path.suffix != ".parquet":
            assert SECRET.encode() not in path.read_bytes(), path


def test_writers_at_once_on_the_sqlite_catalog(
    trial_home: Path, base_state: State, reference: State, tally
) -> None:
    t = tally(AREA)
    reader = open_reader(Settings(home=trial_home))
    try:
        reader.execute("BEGIN TRANSACTION")  # an analyst holding a snapshot all along
        seen = fingerprint(reader)
        _at_once(trial_home, [RUN_NEW, BACKFILL_NEW, RUN_BASE], {}, t)
        # the reader's snapshot did not move while three writers committed around it
        assert fingerprint(reader) == seen == base_state.tables
        reader.execute("COMMIT")
        assert fingerprint(reader) == reference.tables  # its next snapshot is the new one
    finally:
        reader.close()
    state = read_state(trial_home)
    assert state.tables == reference.tables  # nothing lost, nothing doubled
    assert not check_old_or_new(state, reference, reference)
    t.survived += 1


def test_writers_at_once_on_a_postgres_catalog(
    tmp_path: Path, pg_database, base_home: Path, reference: State, tally
) -> None:
    t = tally(AREA)
    home = tmp_path / "home"
    catalog = f"postgres:{pg_database.dsn}"
    # an empty lake and an existing Dagster storage: the first writers of a new home race to
    # create both (the lake: see below; Dagster's SQLite storage: "table ... already exists")
    connect(Settings(home=home, catalog=catalog)).close()
    shutil.copytree(base_home / "dagster", home / "dagster")
    _at_once(home, [RUN_NEW, RUN_BASE], {CATALOG_VARIABLE: catalog}, t)
    state = read_state(Settings(home=home, catalog=catalog))
    assert state.tables == reference.tables  # BASE then NEW on an empty lake
    assert not check_old_or_new(state, reference, reference)
    t.survived += 1


SAME_PARTITION = """
import os, sys, time
from datetime import date
from pathlib import Path
from hk_pipeline.config import Settings
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.writes import replace_partition
home, catalog, me, *flags = sys.argv[1:]
con = connect(Settings(home=Path(home), catalog=catalog))
rows = con.execute("SELECT * EXCLUDE (run_id, loaded_at) FROM raw.index_levels"
                   " WHERE trade_date = DATE '2025-11-20'").fetchdf()
rows["trade_date"], rows["snapshot"] = date(2025, 11, 21), "midday"

def hold(c):  # last thing inside the transaction: wait until both writers are here
    open(flags[int(me)], "w").close()
    while not all(os.path.exists(f) for f in flags):
        time.sleep(0.02)
    time.sleep(int(me))  # then commit one after the other

replace_partition(con, "raw.index_levels", rows, trade_date=date(2025, 11, 21),
                  snapshot="midday", run_id=f"writer{me}", source="sample", also=hold)
"""
KINDS = ["sqlite", "postgres"]


def _same_partition_race(
    kind: str, existing: bool, tmp_path: Path, base_home: Path, request, t
) -> None:
    """Two writers replace raw.index_levels' NEW partition with the same rows, held inside
    their transaction until both are there, then commit one after the other."""
    home = tmp_path / "home"
    catalog = ""
    if kind == "postgres":
        catalog = f"postgres:{request.getfixturevalue('pg_database').dsn}"
    base = read_home(base_home)  # the base partition of raw.index_levels: what both copy
    con = connect(Settings(home=home, catalog=catalog))
    try:
        con.register("incoming", base.execute("FROM raw.index_levels").to_arrow_table())
        con.execute("INSERT INTO raw.index_levels BY NAME SELECT * FROM incoming")
        if existing:  # a first version of the partition, which both writers replace
            con.execute(
                "INSERT INTO raw.index_levels BY NAME SELECT * REPLACE (?::DATE AS trade_date,"
                " ? AS snapshot, 'first' AS run_id) FROM incoming",
                list(NEW),
            )
    finally:
        con.close()
        base.close()
    flags = [str(tmp_path / f"ready{i}") for i in (0, 1)]
    env = child_env(home)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAME_PARTITION, str(home), catalog, str(i), *flags],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    t.trials += 1
    assert [p.returncode for p in procs] == [0, 0], [e[-600:] for e in errors]
    state = read_state(Settings(home=home, catalog=catalog))
    base_rows = state.tables[("raw.index_levels", *BASE)][0]
    assert state.tables[("raw.index_levels", *NEW)][0] == base_rows  # one copy, not two
    con = read_home(home) if not catalog else open_reader(Settings(home=home, catalog=catalog))
    try:
        writers = con.execute(
            "SELECT DISTINCT run_id FROM raw.index_levels WHERE trade_date = ?", [NEW[0]]
        ).fetchall()
    finally:
        con.close()
    assert len(writers) == 1, writers  # one writer's partition, whole
    # the overlap is certain, so the loser noticed and wrote again on the winner's state
    retries = sum(e.count(RETRIED) for e in errors)
    assert retries > 0, "the second writer committed without noticing the first"
    t.cases += retries
    t.survived += 1


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_same_new_partition_at_once(
    kind: str, tmp_path: Path, base_home: Path, request: pytest.FixtureRequest, tally
) -> None:
    _same_partition_race(kind, False, tmp_path, base_home, request, tally(AREA))


@pytest.mark.parametrize("kind", KINDS)
def test_same_existing_partition_at_once(
    kind: str, tmp_path: Path, base_home: Path, request: pytest.FixtureRequest, tally
) -> None:
    _same_partition_race(kind, True, tmp_path, base_home, request, tally(AREA))


CREATE = """
import sys
from pathlib import Path
from hk_pipeline.config import Settings
from hk_pipeline.warehouse.connection import connect
connect(Settings(home=Path(sys.argv[1]), catalog=sys.argv[2])).close()
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_first_writers_of_a_new_lake_all_open_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, tally
) -> None:
    """Writers opening a lake that does not exist yet (creating its catalog and schema)."""
    t = tally(AREA)
    catalog = ""
    if kind == "postgres":
        catalog = f"postgres:{request.getfixturevalue('pg_database').dsn}"
    home = tmp_path / "home"
    env = child_env(home)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, str(home), catalog],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    t.trials += 1
    failed = [e.strip()[-400:] for p, e in zip(procs, errors, strict=True) if p.returncode]
    assert not failed, failed
    state = read_state(Settings(home=home, catalog=catalog))
    assert not non_empty(state.tables) and not state.broken_views
    t.survived += 1


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")  # the catalog's write lock, as a writer committing holds it
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize(
    "command",
    [
        "migrate",
        "run",
        "upkeep",
    ],
)
def test_a_writer_that_keeps_losing_fails_clearly(
    command: str, trial_home: Path, tmp_path: Path, old_warehouse, tally
) -> None:
    """Another process holds the catalog's write lock for longer than HK_PIPELINE_WRITER_WAIT."""
    t = tally(AREA)
    home, argv = trial_home, {"run": run_args(NEW), "upkeep": ("upkeep",)}.get(command)
    if command == "migrate":  # into a new, empty lake
        home = tmp_path / "new"
        write_home(home).close()
        argv = ("migrate", "--from", str(old_warehouse[0]))
    before = read_state(home)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home / "catalog.sqlite")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = run_cli(home, *argv, env={WAIT_VARIABLE: "2"}, timeout=120)
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.communicate()
    t.trials += 1
    assert result.returncode == 1, result.stderr[-1500:]
    assert took < 60, f"{command} gave up after {took:.0f} s, not soon after 2 s"
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-1500:]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert WAIT_VARIABLE in errors[0] and "nothing" in errors[0], errors[0]
    after = read_state(home)
    assert after.tables == before.tables and after.version == before.version  # nothing written
    t.survived += 1


def test_killed_runs_do_not_hold_the_queue_slot_forever(tmp_path: Path) -> None:
    """The default launcher has no worker health check: max_runtime_seconds frees the slot."""
    config = yaml.safe_load(dagster_yaml(Settings(home=tmp_path)))
    assert config["run_monitoring"]["enabled"] is True
    assert 0 < config["run_monitoring"]["max_runtime_seconds"] <= 3600
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 4
