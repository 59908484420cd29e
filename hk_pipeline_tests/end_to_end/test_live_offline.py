"""``HK_PIPELINE_SOURCE=live hk-pipeline run`` without a network: fails fast, changes nothing.

The warehouse is a copy of the one the sample run built (``recap_home``). The run is a real
subprocess of the command line. "No internet" is made certain on any machine, also one that
has a network, by pointing every proxy variable at a closed local port: each provider's first
request then fails to connect at once, exactly like a machine whose DNS or route is down (the
HTTP client does not retry an unreachable host). ``HK_PIPELINE_LIVE_TODAY`` pins the live
source's "today" to the run's date, so the "present only" guard passes and the providers are
really contacted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from hk_pipeline.sources import (
    eastmoney,
    hkex_quotations,
    hkex_securities,
    hkma,
    hsi_constituents,
    yahoo,
)
from hk_pipeline_tests.end_to_end.conftest import RECAP_DAY, RECAP_SNAPSHOT, Built
from hk_pipeline_tests.end_to_end.test_landing_two_days import all_checksums
from hk_pipeline_tests.lake_access import copy_lake

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
# provider -> host, from the provider modules themselves
PROVIDER_HOSTS = {
    m.PROVIDER: m.HOST
    for m in (eastmoney, hkex_quotations, hkex_securities, hkma, hsi_constituents, yahoo)
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_run_without_network_fails_fast_and_leaves_the_warehouse(
    recap_home: Built, tmp_path: Path
) -> None:
    home = tmp_path / "live"
    home.mkdir()
    copy_lake(recap_home.home, home)
    before = all_checksums(home / "warehouse.duckdb")

    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    dead = f"http://127.0.0.1:{closed_port()}"
    env.update({name: dead for name in PROXY_VARIABLES})
    env.update({name.lower(): dead for name in PROXY_VARIABLES})
    env.update(
        HK_PIPELINE_HOME=str(home),
        HK_PIPELINE_SOURCE="live",
        HK_PIPELINE_LIVE_TODAY=RECAP_DAY.isoformat(),
    )
    env.pop("DAGSTER_HOME", None)
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hk_pipeline.cli",
            "run",
            "--date",
            RECAP_DAY.isoformat(),
            "--snapshot",
            RECAP_SNAPSHOT,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert elapsed < 60, f"took {elapsed:.1f}s: the offline failure must not wait on retries"
    message = proc.stderr.strip()
    assert message.startswith("error: run ") and "Traceback" not in proc.stderr
    named = [(p, h) for p, h in PROVIDER_HOSTS.items() if f"{p}: cannot reach" in message]
    assert named, message
    _, host = named[0]
    assert f"cannot reach {host}" in message and "not retried" in message
    assert all_checksums(home / "warehouse.duckdb") == before


def test_record_without_network_fails_in_one_line_and_keeps_nothing(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """``hk-pipeline record`` offline: one error line naming the failing hop, no recording."""
    from hk_pipeline import cli
    from hk_pipeline.sources.replay import REPLAY_DIR

    dead = f"http://127.0.0.1:{closed_port()}"
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, dead)
        monkeypatch.setenv(name.lower(), dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.setenv("HK_PIPELINE_LIVE_TODAY", RECAP_DAY.isoformat())
    code = cli.main(["record", "--snapshot", "midday"])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "127.0.0.1" in lines[0] and "not retried" in lines[0], lines[0]
    assert not list((tmp_path / REPLAY_DIR).glob("*")), "a failed recording left files behind"
