"""Two writers: concurrent runs serialise on the writer lock; a held lock fails clearly.

Also: credentials never reach the run's output or its Dagster event log (a fake secret in
the environment of both runs is grepped for afterwards).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from hk_pipeline.config import Settings
from hk_pipeline.instance_config import dagster_yaml
from hk_pipeline.warehouse.writer_lock import lock_path, writer_lock
from hk_pipeline_tests.reliability.harness import NEW, child_env, run_cli, snapshot_state, start_cli

AREA = "two writers"
SECRET = "hkp-fake-secret-7f3a9c"  # what a provider token would look like in the environment


def test_run_and_overlapping_backfill_serialise(trial_home: Path, reference, tally) -> None:
    t = tally(AREA)
    env = {"HK_PIPELINE_EASTMONEY_TOKEN": SECRET, "HK_PIPELINE_API_KEY": SECRET}
    a = start_cli(trial_home, "run", "--date", NEW[0], "--snapshot", NEW[1], env=env)
    b = start_cli(
        trial_home, "backfill", "--start", NEW[0], "--end", NEW[0], "--snapshot", NEW[1], env=env
    )
    outs = [p.communicate(timeout=300) for p in (a, b)]
    t.trials += 1
    assert (a.returncode, b.returncode) == (0, 0), [o[1][-800:] for o in outs]
    assert snapshot_state(trial_home)["warehouse"] == reference["warehouse"]
    assert snapshot_state(trial_home)["published"] == reference["published"]
    t.survived += 1
    # credentials: never in stdout/stderr, the Dagster storage (event log, run tags) or reports
    t.cases += 1
    assert all(SECRET not in o[0] + o[1] for o in outs)
    for path in trial_home.rglob("*"):
        if path.is_file() and path.suffix != ".parquet":
            assert SECRET.encode() not in path.read_bytes(), path


def test_held_lock_fails_clearly(trial_home: Path, base_state, tally) -> None:
    t = tally(AREA)
    with writer_lock(trial_home / "warehouse.duckdb", what="a test holding the lock"):
        result = run_cli(
            trial_home,
            "run",
            "--date",
            NEW[0],
            "--snapshot",
            NEW[1],
            env={"HK_PIPELINE_WRITER_WAIT": "0.5"},
        )
    t.trials += 1
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "another hk-pipeline run is writing the warehouse" in err
    assert f"pid {os.getpid()}" in err and "try again when it finishes" in err.lower()
    assert snapshot_state(trial_home)["warehouse"] == base_state["warehouse"]
    t.survived += 1


def test_lock_of_a_killed_holder_is_free(tmp_path: Path, tally) -> None:
    t = tally(AREA)
    warehouse = tmp_path / "warehouse.duckdb"
    code = (
        "import os, signal, sys\n"
        "from hk_pipeline.warehouse.writer_lock import writer_lock\n"
        "with writer_lock(sys.argv[1], what='doomed'):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = child_env(tmp_path)
    done = subprocess.run([sys.executable, "-c", code, str(warehouse)], env=env, check=False)
    t.trials += 1
    assert done.returncode == -signal.SIGKILL and lock_path(warehouse).exists()
    with writer_lock(warehouse, timeout=0):  # the kernel released the dead holder's lock
        pass
    t.survived += 1


def test_killed_runs_do_not_hold_the_queue_slot_forever(tmp_path: Path) -> None:
    """The default launcher has no worker health check: max_runtime_seconds frees the slot."""
    config = yaml.safe_load(dagster_yaml(Settings(home=tmp_path)))
    assert config["run_monitoring"]["enabled"] is True
    assert 0 < config["run_monitoring"]["max_runtime_seconds"] <= 3600
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 4
