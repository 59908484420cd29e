"""How many runs a UI backfill of 2 days x both snapshots creates, as the UI launches it.

The backfill is launched with the UI's GraphQL mutation (``launchPartitionBackfill``, every
asset, four partitions) and Dagster's own daemon (``dagster-daemon run``) turns it into runs.
The queue is closed (``max_concurrent_runs: 0``) so the runs are only created, not executed.

What it shows: Dagster splits a backfill of a multi-partitioned asset into one partition range
per value of the dimension with fewer selected keys (the date on a tie), and the backfill
policy then packs each range into runs of up to 40 partitions. Two days x both snapshots is
therefore two runs, one per day, each with both snapshots (three or more days x both
snapshots: one run per snapshot and 40 days); two days x one snapshot is one run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from hk_pipeline_tests.backfill_graphql import LAUNCH_BACKFILL, backfill_params

PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKSPACE = str(PROJECT_DIR / "workspace.yaml")
DAEMON_TIMEOUT_S = 90.0
BOTH = ["2025-11-20|midday", "2025-11-20|close", "2025-11-21|midday", "2025-11-21|close"]
MIDDAY = ["2025-11-20|midday", "2025-11-21|midday"]

ASSET_KEYS = "{ assetNodes { assetKey { path } } }"
# What the backfill's page shows per asset: partitions targeted and in progress (requested).
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill {
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts { numPartitionsTargeted numPartitionsInProgress }
        }
      }
    }
  }
}
"""


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home whose run queue never starts a run."""
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text(
        "run_coordinator:\n"
        "  module: dagster.core.run_coordinator\n"
        "  class: QueuedRunCoordinator\n"
        "  config:\n"
        "    max_concurrent_runs: 0\n"
        "telemetry:\n"
        "  enabled: false\n",
        encoding="utf-8",
    )
    return tmp_path / "dagster"


@contextlib.contextmanager
def daemon(dagster_home: Path) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` on the workspace; its process group is killed afterwards."""
    log = (dagster_home / "daemon.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", WORKSPACE],
        cwd=PROJECT_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=dict(os.environ),
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


def launch(context: Any, partitions: list[str]) -> str:
    nodes = execute_dagster_graphql(context, ASSET_KEYS).data["assetNodes"]
    params = backfill_params(nodes, partitions)
    result = execute_dagster_graphql(context, LAUNCH_BACKFILL, {"backfillParams": params})
    launched = result.data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def backfill_pending(context: Any, backfill_id: str) -> bool:
    """True until the daemon has requested every targeted partition of every asset."""
    result = execute_dagster_graphql(context, BACKFILL_STATUS, {"id": backfill_id})
    data = result.data["partitionBackfillOrError"]["assetBackfillData"]
    counts = data["assetBackfillStatuses"]
    return not counts or any(
        c["numPartitionsInProgress"] < c["numPartitionsTargeted"] for c in counts
    )


def run_ranges(context: Any, instance: dg.DagsterInstance, backfill_id: str) -> list[tuple]:
    """The partition range of each run the daemon created for the backfill, once it has
    requested every partition."""
    deadline = time.monotonic() + DAEMON_TIMEOUT_S
    while time.monotonic() < deadline and backfill_pending(context, backfill_id):
        time.sleep(1.0)
    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    every_asset = {str(k) for k in context.asset_graph.get_all_asset_keys()}
    for r in runs:  # every run holds every asset: no split per asset
        assert {str(k) for k in r.dagster_run.asset_selection} == every_asset
    return sorted(
        (
            r.dagster_run.tags["dagster/asset_partition_range_start"],
            r.dagster_run.tags["dagster/asset_partition_range_end"],
        )
        for r in runs
    )


def test_ui_backfill_runs(dagster_home: Path) -> None:
    with (
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
        define_out_of_process_context(WORKSPACE, None, instance) as context,
    ):
        # Both launched before the daemon starts, so its first iteration takes both.
        both, midday = launch(context, BOTH), launch(context, MIDDAY)
        with daemon(dagster_home):
            both_runs = run_ranges(context, instance, both)
            midday_runs = run_ranges(context, instance, midday)
    log = (dagster_home / "daemon.log").read_text()[-3000:]
    # 2 days x both snapshots: two runs, one per day, each with both snapshots
    assert both_runs == [
        ("2025-11-20|midday", "2025-11-20|close"),
        ("2025-11-21|midday", "2025-11-21|close"),
    ], log
    # 2 days x one snapshot: one run over the range of dates
    assert midday_runs == [("2025-11-20|midday", "2025-11-21|midday")], log
