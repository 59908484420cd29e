"""Session hooks for the whole suite.

The reliability suite's summary lines are printed here: under pytest-xdist the controller
process loads only this root conftest, and it is where the test reports (carrying each test's
tally in ``user_properties``) arrive.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator

import pytest

from hk_pipeline_tests.postgres import PgDatabase, fresh_database

RELIABILITY_PROPERTY = "hk_reliability"
LONG = os.environ.get("HK_PIPELINE_RELIABILITY", "").strip().lower() == "long"
_totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
_PROPERTY = RELIABILITY_PROPERTY


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == _PROPERTY:
            area, trials, survived, cases = value
            row = _totals[area]
            row[0] += trials
            row[1] += survived
            row[2] += cases


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _totals:
        return
    mode = "long" if LONG else "default"
    terminalreporter.section(f"reliability ({mode} mode)")
    for area, (trials, survived, cases) in sorted(_totals.items()):
        terminalreporter.write_line(
            f"reliability | {area}: {trials} trial(s), {survived} survived, {cases} case(s) tried"
        )


@pytest.fixture
def pg_database() -> Iterator[PgDatabase]:
    """An empty PostgreSQL database on 127.0.0.1:5432, dropped after the test (skipped without
    a server, failed under CI): see hk_pipeline_tests/postgres.py."""
    with fresh_database() as database:
        yield database


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1 for the whole session (hk_pipeline_tests/s3.py)."""
    from hk_pipeline_tests.s3 import s3_server

    with s3_server() as server:
        yield server
