"""Killed runs: SIGKILL at every named fault point and at random moments, then check.

A trial copies the base warehouse (one good partition, published), runs the NEW partition
with ``HK_PIPELINE_FAULT`` naming a point (or kills it after a random delay), and checks:
the warehouse opens; every (table, partition) is its old or its new state, never partial or
doubled; the published copy is the old or the new publication as a whole, raw and marts
agreeing. Default mode chains the points on one copy (each run after a kill is itself a
re-run that must get past where the last one died) and ends each chain with a clean re-run
that must reach the reference state exactly; long mode gives every point its own copy and
re-run, kills at the 2nd reach of each point, and tries more random moments.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hk_pipeline.faults import FAULT_POINTS
from hk_pipeline_tests.reliability.conftest import LONG
from hk_pipeline_tests.reliability.harness import (
    BASE,
    NEW,
    check_old_or_new,
    child_env,
    run_cli,
    snapshot_state,
    start_cli,
)

AREA = "killed runs"
# reached only off the CLI's path on a base copy: a fresh warehouse's DDL, a refused
# partition's quarantine, a landing load; tried by their own tests below
SPECIAL = ("ddl.mid_transaction", "quarantine.deleted", "landing.loads.deleted")
CLI_POINTS = [p for p in FAULT_POINTS if p not in SPECIAL]
CHAINS = 3
RUN = ("run", "--date", NEW[0], "--snapshot", NEW[1])


def _kill_at(home: Path, fault: str) -> subprocess.CompletedProcess[str]:
    return run_cli(home, *RUN, env={"HK_PIPELINE_FAULT": fault})


def _kill_randomly(home: Path, rng: random.Random) -> float:
    delay = rng.uniform(1.5, 8.0)
    proc = start_cli(home, *RUN)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return delay


def _verify(home: Path, base_state: dict, reference: dict, what: str) -> None:
    state = snapshot_state(home)  # the warehouse and the published copy both open
    problems = check_old_or_new(state, base_state, reference)
    assert not problems, f"after {what}: " + "; ".join(problems)


def _rerun_reaches_reference(home: Path, reference: dict) -> None:
    result = run_cli(home, *RUN)
    assert result.returncode == 0, result.stderr
    state = snapshot_state(home)
    assert state["warehouse"] == reference["warehouse"]
    assert state["published"] == reference["published"]
    published = home / "published"
    leftovers = [p.name for p in published.iterdir() if p.name.endswith((".partial", ".tmp"))]
    assert not leftovers, f"a killed publish left {leftovers} behind"


def _chains() -> list[list[str]]:
    return [CLI_POINTS[i::CHAINS] for i in range(CHAINS)]


@pytest.mark.skipif(LONG, reason="long mode runs every point on its own copy")
@pytest.mark.parametrize("chain", range(CHAINS))
def test_killed_chain(chain: int, trial_home: Path, base_state, reference, tally) -> None:
    t = tally(AREA)
    rng = random.Random(chain)
    for point in _chains()[chain]:
        result = _kill_at(trial_home, point)
        assert result.returncode == -signal.SIGKILL, (
            f"{point} was never reached (exit {result.returncode}): {result.stderr[-400:]}"
        )
        t.trials += 1
        _verify(trial_home, base_state, reference, f"SIGKILL at {point}")
        t.survived += 1
    delay = _kill_randomly(trial_home, rng)
    t.trials += 1
    _verify(trial_home, base_state, reference, f"SIGKILL after {delay:.1f}s")
    _rerun_reaches_reference(trial_home, reference)
    t.survived += 1


@pytest.mark.skipif(not LONG, reason="long mode only (HK_PIPELINE_RELIABILITY=long)")
@pytest.mark.parametrize("point", [*CLI_POINTS, *(f"{p}@2" for p in CLI_POINTS), "random"])
def test_killed_alone(point: str, trial_home: Path, base_state, reference, tally) -> None:
    t = tally(AREA)
    rounds = 5 if point == "random" else 1
    for i in range(rounds):
        if point == "random":
            _kill_randomly(trial_home, random.Random(i))
        else:
            result = _kill_at(trial_home, point)
            if result.returncode == 0:  # an @2 the run reaches only once
                continue
            assert result.returncode == -signal.SIGKILL, result.stderr[-400:]
        t.trials += 1
        _verify(trial_home, base_state, reference, f"SIGKILL at {point}")
        _rerun_reaches_reference(trial_home, reference)
        t.survived += 1
        if point == "random":
            shutil.rmtree(trial_home / "published", ignore_errors=True)
            break  # later rounds need a fresh copy; one is enough per test


def test_killed_creating_a_fresh_warehouse(tmp_path: Path, tally) -> None:
    """SIGKILL inside the DDL transaction of a brand-new warehouse: the next run completes."""
    t = tally(AREA)
    home = tmp_path / "home"
    result = run_cli(
        home,
        "run",
        "--date",
        BASE[0],
        "--snapshot",
        BASE[1],
        env={"HK_PIPELINE_FAULT": "ddl.mid_transaction"},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-400:]
    t.trials += 1
    if (home / "warehouse.duckdb").exists():  # DuckDB may not have created it yet
        read_home(home / "warehouse.duckdb").close()
    assert not (home / "published" / "analyst.duckdb").exists()
    result = run_cli(home, "run", "--date", BASE[0], "--snapshot", BASE[1])
    assert result.returncode == 0, result.stderr
    t.survived += 1


CHILD = """
import sys
from datetime import date
from functools import partial
import pandas as pd
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.writes import replace_partition
from hk_pipeline.warehouse.landing_loads import LoadedFile, replace_landing_loads
from hk_pipeline.warehouse.quarantine import replace_quarantine
from hk_pipeline_tests.lake_access import read_home
con = connect(sys.argv[1])
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
    ("point", "mode"), [("quarantine.deleted", "quarantine"), ("landing.loads.deleted", "landing")]
)
def test_killed_inside_other_writes(
    point: str, mode: str, trial_home: Path, base_state, tally
) -> None:
    """The two points a sample run never reaches, killed in a child doing just that write."""
    t = tally(AREA)
    db = str(trial_home / "warehouse.duckdb")
    env = child_env(trial_home, HK_PIPELINE_FAULT=point)
    killed = subprocess.run([sys.executable, "-c", CHILD, db, mode], env=env, check=False)
    assert killed.returncode == -signal.SIGKILL
    t.trials += 1
    assert snapshot_state(trial_home)["warehouse"] == base_state["warehouse"]
    env.pop("HK_PIPELINE_FAULT")
    done = subprocess.run([sys.executable, "-c", CHILD, db, mode], env=env, check=False)
    assert done.returncode == 0
    con = read_home(db)
    try:
        table = "quarantine.quotes" if mode == "quarantine" else "raw.landing_loads"
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1
    finally:
        con.close()
    t.survived += 1
    time.sleep(0)
