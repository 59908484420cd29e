"""Reliability suite: counts per area, one summary line each, and the shared warehouses.

Each test adds what it tried to a ``tally`` (area, trials, survived, cases); the counts travel
to the controller in the reports' ``user_properties`` (so they add up under pytest-xdist) and
``pytest_terminal_summary`` prints one line per area. ``HK_PIPELINE_RELIABILITY=long`` runs
more trials and examples.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hk_pipeline_tests.reliability.harness import BASE, NEW, run_cli, snapshot_state

LONG = os.environ.get("HK_PIPELINE_RELIABILITY", "").strip().lower() == "long"
# The summary hooks live in hk_pipeline_tests/conftest.py: under pytest-xdist only the root
# conftest is loaded in the controller, where the reports arrive.
from hk_pipeline_tests.conftest import RELIABILITY_PROPERTY as _PROPERTY  # noqa: E402


@dataclass
class Tally:
    area: str
    trials: int = 0
    survived: int = 0
    cases: int = 0


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[callable]:
    """``tally("killed runs")`` -> a Tally recorded with the test's report."""
    made: list[Tally] = []

    def make(area: str) -> Tally:
        made.append(Tally(area))
        return made[-1]

    yield make
    for t in made:
        request.node.user_properties.append((_PROPERTY, (t.area, t.trials, t.survived, t.cases)))


@pytest.fixture(scope="session")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with one good partition (BASE), published; never modified (copy it)."""
    home = tmp_path_factory.mktemp("base") / "home"
    result = run_cli(home, "run", "--date", BASE[0], "--snapshot", BASE[1])
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture(scope="session")
def base_state(base_home: Path) -> dict:
    return snapshot_state(base_home)


@pytest.fixture(scope="session")
def reference(base_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The state after BASE then NEW, each run once without faults: what a trial must reach."""
    home = tmp_path_factory.mktemp("reference") / "home"
    shutil.copytree(base_home, home)
    result = run_cli(home, "run", "--date", NEW[0], "--snapshot", NEW[1])
    assert result.returncode == 0, result.stderr
    return snapshot_state(home)


@pytest.fixture
def trial_home(base_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(base_home, home)
    return home
