"""`hk-pipeline ui` starts cleanly or not at all.

Before, a second ``hk-pipeline ui`` on a port already taken started `dagster dev`, whose
daemon came up and kept running on the home after the webserver failed to bind: two daemons
on one home. Now the port is checked before anything starts: exit 1 at once, one line naming
the port and ``--port``, no process left. A host other machines can reach is refused unless
``--public`` is given, and then a warning says the UI has no login.

Every command here runs in a session of its own, and the test checks that no process of that
session (the CLI, `dagster dev`, its webserver, daemon or code server) outlives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from hk_pipeline.cli import is_loopback
from hk_pipeline_tests.reliability.harness import (
    HK_PIPELINE,
    child_env,
    error_lines,
    one_error_line,
)

AREA = "ui start"
START_TIMEOUT = 120.0


def _processes(*names: str) -> Iterator[tuple[int, list[bytes]]]:
    """(pid, the bytes of ``/proc/<pid>/<name>`` for each of ``names``) of every process
    still there once read."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            contents = [(proc / name).read_bytes() for name in names]
        except OSError:  # ended while we looked
            continue
        yield int(proc.name), contents


def _session(sid: int) -> list[str]:
    """Command lines of the live processes of session ``sid`` (zombies excluded)."""
    out = []
    for _pid, (stat, cmdline) in _processes("stat", "cmdline"):
        fields = stat.decode().rsplit(")", 1)[1].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            out.append(cmdline.replace(b"\0", b" ").decode().strip())
    return out


def _daemons(home: Path) -> list[int]:
    """Pids of Dagster daemons running on ``home`` (by their DAGSTER_HOME)."""
    marker = f"DAGSTER_HOME={home}/dagster".encode()
    return [
        pid
        for pid, (cmdline, environ) in _processes("cmdline", "environ")
        if b"dagster._daemon" in cmdline and marker in environ.split(b"\0")
    ]


def _ui(home: Path, *argv: str, log: IO[str] | None = None) -> subprocess.Popen:
    """``hk-pipeline ui`` in a new session; output to ``log`` (a running UI writes more
    than a pipe holds) or to pipes."""
    return subprocess.Popen(
        [HK_PIPELINE, "ui", *argv],
        env=child_env(home),
        stdout=log or subprocess.PIPE,
        stderr=log or subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finished(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str, float]:
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(proc)
        pytest.fail(f"`hk-pipeline ui` still running after {timeout:.0f} s")
    return proc.returncode, out, err, time.monotonic() - started


def _kill_session(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone, all of it
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_taken_port_exits_at_once_naming_the_port_and_starts_nothing(
    tmp_path: Path, taken_port: int, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    proc = _ui(tmp_path, "--port", str(taken_port))
    code, out, err, took = _finished(proc, 60)
    assert code == 1, out + err
    one_error_line(err, f"port {taken_port}", "--port")
    assert took < 30, f"took {took:.0f} s"
    assert _session(proc.pid) == []
    assert _daemons(tmp_path) == []
    t.cases += 1
    t.survived += 1


def test_a_public_host_needs_public_and_then_warns_of_no_login(
    tmp_path: Path, taken_port: int, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    code, out, err, _ = _finished(_ui(tmp_path, "--host", "0.0.0.0"), 60)
    assert code == 2, out + err
    (line,) = error_lines(err)
    assert "--public" in line and "no login" in line, line
    t.cases += 1
    # --public: the warning, then (the port being taken) the port's refusal; nothing starts
    proc = _ui(tmp_path, "--host", "0.0.0.0", "--public", "--port", str(taken_port))
    code, out, err, _ = _finished(proc, 60)
    assert code == 1, out + err
    assert "warning: the Dagster UI has no login" in err, err
    assert f"port {taken_port}" in error_lines(err)[0]
    assert _session(proc.pid) == [] and _daemons(tmp_path) == []
    t.cases += 1
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.com", "hk-box"):
        assert not is_loopback(host), host
    t.cases += 11
    t.survived += 1


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_a_second_ui_on_a_running_ones_port_leaves_one_daemon_and_sigterm_ends_all(
    tmp_path: Path, free_port: int, tally
) -> None:
    """The issue's case: a UI runs; a second `hk-pipeline ui` on its port is refused and the
    home keeps one daemon. SIGTERM then ends the first with all its processes."""
    t = tally(AREA)
    t.trials += 1
    log_path = tmp_path / "ui.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed in finally, after the process ends)
    first = _ui(tmp_path, "--port", str(free_port), log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(free_port):
            assert first.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "the UI did not answer in time"
            time.sleep(0.5)
        while not _daemons(tmp_path):  # dagster dev starts its daemon with the webserver
            assert time.monotonic() < deadline, "no daemon"
            time.sleep(0.2)
        second = _ui(tmp_path, "--port", str(free_port))
        code, _, err, took = _finished(second, 60)
        assert code == 1 and f"port {free_port}" in err and "--port" in err, err
        assert took < 30, f"the refusal took {took:.0f} s"
        assert _session(second.pid) == []
        assert len(_daemons(tmp_path)) == 1, _daemons(tmp_path)
        t.cases += 1
        first.send_signal(signal.SIGTERM)  # to `dagster dev`: the CLI exec'd into it
        try:
            first.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the UI ignored SIGTERM: {_session(first.pid)}")
        deadline = time.monotonic() + 30
        while _session(first.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _session(first.pid) == [], _session(first.pid)
        assert _daemons(tmp_path) == []
        t.cases += 1
    finally:
        _kill_session(first)
        log.close()
    t.survived += 1
