"""A command that waits says so: held the Dagster instance's lock from another process, a run
announces what it waits for, who holds it and how long it has waited, then finishes."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hk_pipeline import cli
from hk_pipeline_tests.reliability.harness import NEW, read_state, run_args, start_cli

# Holds an exclusive flock on argv[1] until a line arrives on stdin (or stdin closes).
HOLDER = (
    "import fcntl, sys\n"
    "handle = open(sys.argv[1], 'a+b')\n"
    "fcntl.flock(handle, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.readline()\n"
)


def _hold(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()
    holder.wait(timeout=10)


def test_a_run_announces_the_instance_lock_it_waits_for(trial_home: Path, reference) -> None:
    lock = trial_home / "dagster" / ".open.lock"
    holder = _hold(lock)
    run = start_cli(trial_home, *run_args(NEW))
    lines: queue.Queue[str] = queue.Queue()
    out: list[str] = []
    assert run.stderr is not None and run.stdout is not None
    readers = [
        threading.Thread(target=lambda: [lines.put(x) for x in run.stderr], daemon=True),
        threading.Thread(target=lambda: out.extend(run.stdout), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        # without the announcement the run would sit silent here until the holder let go
        first = lines.get(timeout=120)
        assert first.startswith("hk-pipeline: waiting for the Dagster instance's lock ("), first
        assert str(lock) in first and f"pid {holder.pid}" in first, first
        assert run.poll() is None  # still waiting
    finally:
        _release(holder)
    run.wait(timeout=300)
    for reader in readers:
        reader.join(timeout=30)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert run.returncode == 0, "".join(rest)[-2000:]
    assert any(x.startswith("hk-pipeline: got the Dagster instance's lock after") for x in rest)
    assert f"{NEW[0]}|{NEW[1]}: run" in "".join(out)
    assert read_state(trial_home).tables == reference.tables  # nothing lost waiting


@pytest.mark.fast
def test_a_long_wait_is_announced_again_with_the_time_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "WAIT_NOTICE_SECONDS", 0.3)
    lock = tmp_path / ".open.lock"
    holder = _hold(lock)
    releaser = threading.Timer(1.2, _release, args=(holder,))
    releaser.start()
    started = time.monotonic()
    with open(lock, "a+b") as handle:
        cli.wait_for_flock(handle, lock, "the test's lock")
    waited = time.monotonic() - started
    releaser.join()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("hk-pipeline: waiting for the test's lock (")
    again = [x for x in lines if x.startswith("hk-pipeline: still waiting for the test's lock: ")]
    assert len(again) >= 2, lines
    assert lines[-1].startswith("hk-pipeline: got the test's lock after waiting ")
    assert waited >= 1.0
    with open(lock, "a+b") as handle:  # and taken at once, silently, when free
        cli.wait_for_flock(handle, lock, "the test's lock")
    assert capsys.readouterr().err == ""
