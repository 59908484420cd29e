"""Fixtures of the browser test: headless Debian Chromium, and the Dagster UI + daemon.

``browser`` drives /usr/bin/chromium through /usr/bin/chromedriver (Debian's packages
chromium and chromium-driver; selenium never downloads a browser or a driver here). When
either is missing or the browser does not start, the test is skipped with the reason.

``dagster_ui`` runs ``hk-pipeline ui`` (``dg dev``: webserver, daemon and code servers)
on a free loopback port against a temporary HK_PIPELINE_HOME, and always kills its whole
process group afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hk_pipeline_tests.postgres import fresh_database

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HK_PIPELINE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HK_PIPELINE_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# closed network refuses; a fresh --user-data-dir keeps every run independent.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,2400",  # tall enough for the whole expanded asset graph
)
SERVER_START_TIMEOUT_S = 120.0
SHUTDOWN_GRACE_S = 5.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser test first: it mostly waits on the Dagster daemon, so the other xdist
    worker gets through the rest of the suite meanwhile instead of idling at the end."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("browser") else 1)


def artifacts_dir() -> Path:
    """Where screenshots go: ``test-artifacts/`` at the repository root (git-ignored)."""
    path = Path(os.environ.get("HK_PIPELINE_TEST_ARTIFACTS", PROJECT_DIR / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def artifacts() -> Path:
    """The folder for screenshots and logs that CI keeps (see artifacts_dir)."""
    return artifacts_dir()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium session (selenium WebDriver); skips the test when there is none."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.skip(f"selenium is not installed ({exc}); install requirements.lock")
    for what, path in (("Chromium", CHROMIUM), ("ChromeDriver", CHROMEDRIVER)):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{what} not found at {path}: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # An explicit driver path: selenium skips Selenium Manager and downloads nothing.
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as exc:
        first_line = (exc.msg or str(exc)).strip().splitlines()[0]
        pytest.skip(f"Chromium at {CHROMIUM} did not start: {first_line}")
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterUI:
    """A running ``hk-pipeline ui`` and the HK_PIPELINE_HOME it writes to."""

    base_url: str
    home: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    """The environment of the UI's processes: the team setup's settings."""

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST to the UI's own GraphQL endpoint; the ``data``, or AssertionError on errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


LOCATIONS_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def _wait_until_ready(ui: DagsterUI) -> None:
    """Poll /server_info, then the workspace, until the hk_pipeline code location is loaded."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            pytest.fail(
                f"hk-pipeline ui exited with {ui.process.returncode} before answering:\n"
                + ui.log_tail()
            )
        try:
            with urllib.request.urlopen(f"{ui.base_url}/server_info", timeout=5) as response:
                json.load(response)
            entries = ui.graphql(LOCATIONS_QUERY)["workspaceOrError"].get("locationEntries", [])
        except (OSError, urllib.error.URLError, ValueError, AssertionError) as exc:
            last = repr(exc)
        else:
            loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
            for entry in loaded:
                error = entry["locationOrLoadError"]
                if error and error["__typename"] == "PythonError":
                    pytest.fail(f"code location {entry['name']} failed to load: {error['message']}")
            if loaded and len(loaded) == len(entries):
                return
            last = f"locations {[(e['name'], e['loadStatus']) for e in entries]}"
        time.sleep(0.5)
    pytest.fail(
        f"the Dagster UI did not come up in {SERVER_START_TIMEOUT_S:.0f}s ({last}):\n"
        + ui.log_tail()
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop ``dg dev`` and everything it started.

    SIGINT first (dg dev's own shutdown: it tells the webserver and daemon to stop), then,
    after a grace period, SIGKILL to the whole process group: webserver, daemon, code servers and
    any run worker still running. SIGTERM is not used: dg dev does not handle it and would
    leave its children behind.
    """
    if process.poll() is None:
        try:
            os.kill(process.pid, signal.SIGINT)
            process.wait(timeout=SHUTDOWN_GRACE_S)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    with contextlib.suppress(ProcessLookupError):  # an empty group is already gone
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@pytest.fixture
def dagster_ui(tmp_path: Path, pg_database, s3_endpoint) -> Iterator[DagsterUI]:
    """``hk-pipeline ui`` on a free 127.0.0.1 port, on the team setup, with a temporary home.

    The team setup as the README gives it: the lake's catalog in PostgreSQL (a fresh
    database), its data on S3 (moto's server, a fresh bucket), Dagster's runs, event log and
    schedules in PostgreSQL (another fresh database). The CLI writes
    $HK_PIPELINE_HOME/dagster/dagster.yaml (hk_pipeline/instance_config.py), sets that folder
    as DAGSTER_HOME and runs ``dg dev -w workspace.yaml``, which starts the webserver and
    the daemon (the daemon executes backfills). The source is the offline sample market.
    """
    home = tmp_path / "home"
    home.mkdir()
    port = free_loopback_port()
    bucket = s3_endpoint.new_bucket()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HK_PIPELINE_", "DAGSTER_"))}
    env.update(s3_endpoint.env())
    env.update(
        HK_PIPELINE_HOME=str(home),
        HK_PIPELINE_SOURCE="sample",
        HK_PIPELINE_CATALOG=f"postgres:{pg_database.dsn}",
        HK_PIPELINE_DATA_PATH=f"s3://{bucket}/lake",
        # this checkout's package, also in the code servers and run workers dg dev starts
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    with fresh_database("hk_test_dagster") as dagster_db:
        env["HK_PIPELINE_DAGSTER_POSTGRES_URL"] = dagster_db.url
        yield from _run_ui(tmp_path, home, port, env)


def _run_ui(tmp_path: Path, home: Path, port: int, env: dict[str, str]) -> Iterator[DagsterUI]:
    log_path = tmp_path / "dagster-dev.log"
    command = [sys.executable, "-m", "hk_pipeline.cli", "ui", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole afterwards
        )
    ui = DagsterUI(f"http://127.0.0.1:{port}", home, log_path, process, env)
    try:
        _wait_until_ready(ui)
        yield ui
    finally:
        _stop(process)
        kept = artifacts_dir() / "dagster-dev.log"
        shutil.copyfile(log_path, kept)
