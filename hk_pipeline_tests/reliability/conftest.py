"""Reliability suite: counts per area, one summary line each, and the shared lakes.

Each test adds what it tried to a ``tally`` (area, trials, survived, cases); the counts travel
to the controller in the reports' ``user_properties`` (so they add up under pytest-xdist) and
``pytest_terminal_summary`` prints one line per area. ``HK_PIPELINE_RELIABILITY=long`` runs
more trials and examples.

The base and reference homes cost a pipeline run each: under pytest-xdist the first worker
that needs one builds it in the session's shared temporary folder, under a file lock, and the
others copy it from there. Tests never change them: ``trial_home`` is a copy.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, settings

from hk_pipeline.warehouse.ddl import apply_ddl
from hk_pipeline_tests.lake_access import read_home
from hk_pipeline_tests.reliability.harness import (
    BASE,
    NEW,
    Fingerprint,
    State,
    copy_home,
    fingerprint,
    non_empty,
    read_state,
    run_args,
    run_cli,
)

LONG = os.environ.get("HK_PIPELINE_RELIABILITY", "").strip().lower() == "long"


# The summary hooks live in hk_pipeline_tests/conftest.py: under pytest-xdist only the root
# conftest is loaded in the controller, where the reports arrive.
from hk_pipeline_tests.conftest import RELIABILITY_PROPERTY as _PROPERTY  # noqa: E402


def hypothesis_settings(examples: int, long_examples: int) -> settings:
    """The reliability tests' Hypothesis settings: ``examples`` cases, the same every CI run (a
    red build names a real regression, not a new draw); long mode explores ``long_examples``
    fresh ones. No shrinking: CI time."""
    return settings(
        max_examples=long_examples if LONG else examples,
        deadline=None,
        derandomize=not LONG,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@dataclass
class Tally:
    area: str
    trials: int = 0
    survived: int = 0
    cases: int = 0


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Tally]]:
    """``tally("killed runs")`` -> a Tally recorded with the test's report."""
    made: list[Tally] = []

    def make(area: str) -> Tally:
        made.append(Tally(area))
        return made[-1]

    yield make
    for t in made:
        request.node.user_properties.append((_PROPERTY, (t.area, t.trials, t.survived, t.cases)))


def _shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder every worker of this session sees (its own temp folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def _built_once(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``root/name/home``, built by ``build`` by the first worker to get here."""
    folder = root / name
    folder.mkdir(exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        home = folder / "home"
        if not (folder / "done").exists():
            shutil.rmtree(home, ignore_errors=True)
            build(home)
            (folder / "done").touch()
    return home


def _run(home: Path, partition: tuple[str, str]) -> None:
    result = run_cli(home, *run_args(partition))
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return _shared_root(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def base_home(shared_root: Path) -> Path:
    """A lake with one good partition (BASE); never modified (copy it)."""
    return _built_once(shared_root, "hk_base", lambda home: _run(home, BASE))


@pytest.fixture(scope="session")
def base_state(base_home: Path) -> State:
    return read_state(base_home)


@pytest.fixture(scope="session")
def reference_home(base_home: Path, shared_root: Path) -> Path:
    """BASE then NEW, each run once without faults: what a trial must reach. Never modified."""

    def build(home: Path) -> None:
        copy_home(base_home, home)
        _run(home, NEW)

    return _built_once(shared_root, "hk_reference", build)


@pytest.fixture(scope="session")
def reference(reference_home: Path) -> State:
    return read_state(reference_home)


@pytest.fixture
def trial_home(base_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    copy_home(base_home, home)
    return home


MIGRATED = ("raw.quotes", "raw.index_levels", "ref.securities")


@pytest.fixture(scope="session")
def old_warehouse(
    base_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Fingerprint]:
    """A single-file warehouse as earlier versions wrote it (the DDL and a few tables' rows
    of the base lake), and its fingerprint."""
    path = tmp_path_factory.mktemp("old") / "warehouse.duckdb"
    lake = read_home(base_home)
    con = duckdb.connect(str(path))
    try:
        apply_ddl(con)
        for table in MIGRATED:
            rows = lake.execute(f"SELECT * FROM {table}").to_arrow_table()
            con.register("incoming", rows)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        expected = non_empty(fingerprint(con))
    finally:
        con.close()
        lake.close()
    assert {k[0] for k in expected} == set(MIGRATED)
    return path, expected
