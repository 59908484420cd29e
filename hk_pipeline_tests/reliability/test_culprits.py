"""Messages name the real culprit: the proxy, not the provider; the reader, not "a writer".

**The proxy.** With HTTPS_PROXY/HTTP_PROXY set (httpx honours them) every connection goes to
the proxy, so "connection refused" is the proxy's refusal, and a 407 or a refused CONNECT is
the proxy's answer. The live source's error names the proxy (host and port, credentials shown
as ``***``) and the variable that set it, and says the fix is there. Real local listeners
play the proxy: a closed port, and a stub answering 407, 403 or 502.

**The reader.** On the lake there is no single file a reader holds open against writers: the
catalog is SQLite in WAL mode, where a reader never blocks a commit. Shown here: a run
completes while an ``hk-pipeline sql`` shell is open and while a Python reader holds a
transaction (which keeps seeing its snapshot). A catalog in SQLite's rollback-journal mode
(made by another client, or switched by hand) is where a reader *does* block every commit:
the run's wait line then names the reader's process, says it is a reader, and how to release
it; SIGTERM ends the wait. A program holding a write transaction is named as such
(``test_interrupts``). The names come from the kernel's lock table (Linux ``/proc/locks``).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hk_pipeline.sources.http import (
    HttpClient,
    ProviderError,
    ProviderUnreachable,
    RetryPolicy,
    environment_proxy,
)
from hk_pipeline.warehouse.catalog_locks import lock_culprit
from hk_pipeline_tests.reliability.harness import (
    HK_PIPELINE,
    NEW,
    State,
    child_env,
    one_error_line,
    read_state,
    run_args,
    run_cli,
    start_cli,
)

AREA = "messages"
HOST = "www.hkex.com.hk"
SECRET = "s3cr3t-pa55"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
LINUX_LOCKS = Path("/proc/locks").exists()


# --- the proxy ------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProxyStub:
    """A local proxy that answers every request (a CONNECT or a plain GET) with ``status``."""

    def __init__(self, status_line: str) -> None:
        self.answer = f"HTTP/1.1 {status_line}\r\nContent-Length: 0\r\n\r\n".encode()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with conn:
                self.requests.append(conn.recv(65536))
                conn.sendall(self.answer)


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    yield monkeypatch


def _use_proxy(mp: pytest.MonkeyPatch, url: str) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        mp.setenv(name, url)


def _fail(url: str) -> Exception:
    client = HttpClient(
        "hkex", sleep=lambda _s: None, min_interval=0, policy=RetryPolicy(max_attempts=2)
    )
    with client, pytest.raises((ProviderUnreachable, ProviderError)) as caught:
        client.get(url)
    return caught.value


def _names_the_proxy(message: str, port: int, variable: str) -> None:
    assert f"the proxy http://***@127.0.0.1:{port} (from {variable})" in message, message
    assert SECRET not in message and "alice" not in message, message


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_refusing_proxy_is_named_not_the_provider(proxy_env, scheme: str, tally) -> None:
    t = tally(AREA)
    t.trials += 1
    port = _closed_port()
    _use_proxy(proxy_env, f"http://alice:{SECRET}@127.0.0.1:{port}")
    error = _fail(f"{scheme}://{HOST}/x")
    message = str(error)
    assert isinstance(error, ProviderUnreachable)
    _names_the_proxy(message, port, f"{scheme.upper()}_PROXY")
    assert "is unreachable (connection refused" in message and "not retried" in message
    # the provider's host is the destination, never the one said to refuse
    assert f"cannot reach {HOST}: the proxy" in message
    t.cases += 1
    t.survived += 1


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize(
    ("status_line", "says"),
    [
        ("407 Proxy Authentication Required", "wants credentials"),
        ("403 Forbidden", "does not allow www.hkex.com.hk"),
        ("502 Bad Gateway", "the proxy failed, not the provider"),
    ],
)
def test_a_proxys_own_refusal_is_named_as_the_proxys(
    proxy_env, scheme: str, status_line: str, says: str, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    stub = ProxyStub(status_line)
    _use_proxy(proxy_env, f"http://alice:{SECRET}@127.0.0.1:{stub.port}")
    error = _fail(f"{scheme}://{HOST}/x")
    message = str(error)
    assert stub.requests, "the request never reached the proxy"
    if scheme == "https":  # a tunnel: the proxy saw only CONNECT www.hkex.com.hk:443
        assert stub.requests[0].startswith(f"CONNECT {HOST}:443".encode())
    status = status_line.split()[0]
    if status == "403" and scheme == "http":
        # through a plain-http proxy a 403 may be the provider's own: said as the host's
        assert f"{HOST} answered HTTP 403" in message, message
    else:
        _names_the_proxy(message, stub.port, f"{scheme.upper()}_PROXY")
        assert status in message and says in message, message
    if status == "502":
        assert isinstance(error, ProviderError) and "2 attempt(s)" in message  # retried
    elif status == "403" and scheme == "http":
        assert isinstance(error, ProviderError) and "not retried" in message
    else:
        assert isinstance(error, ProviderUnreachable) and "not retried" in message
    t.cases += 1
    t.survived += 1


def test_no_proxy_and_injected_transports_name_no_proxy(proxy_env, tally) -> None:
    t = tally(AREA)
    t.trials += 1
    _use_proxy(proxy_env, "http://127.0.0.1:3128")
    assert environment_proxy(f"https://{HOST}/x") is not None
    for no_proxy in ("*", "hkex.com.hk", ".hkex.com.hk", HOST, "example.com,www.hkex.com.hk"):
        proxy_env.setenv("NO_PROXY", no_proxy)
        assert environment_proxy(f"https://{HOST}/x") is None, no_proxy
        t.cases += 1
    proxy_env.setenv("NO_PROXY", "ex.com.hk.org,hkex.com")  # neither matches the host
    assert environment_proxy(f"https://{HOST}/x") is not None
    proxy_env.delenv("NO_PROXY")
    # httpx ignores the variables when a transport is injected: so does the message

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = HttpClient(
        "hkex", transport=httpx.MockTransport(refuse), sleep=lambda _s: None, min_interval=0
    )
    with client, pytest.raises(ProviderUnreachable) as caught:
        client.get(f"https://{HOST}/x")
    assert "the proxy" not in str(caught.value), str(caught.value)
    assert f"cannot reach {HOST} (connection refused" in str(caught.value)
    t.cases += 2
    t.survived += 1


def test_a_live_run_behind_a_refusing_proxy_says_so_in_one_line(
    trial_home: Path, base_state: State, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    port = _closed_port()
    env = {
        k: v
        for k, v in child_env(trial_home, HK_PIPELINE_SOURCE="live").items()
        if "proxy" not in k.lower()
    }
    proxy = f"http://alice:{SECRET}@127.0.0.1:{port}"
    env.update({name: proxy for name in ("HTTP_PROXY", "HTTPS_PROXY")})
    env["HK_PIPELINE_LIVE_TODAY"] = NEW[0]
    result = subprocess.run(
        [HK_PIPELINE, *run_args(NEW)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    one_error_line(result.stderr, f"127.0.0.1:{port} (from HTTP", "is unreachable")
    assert SECRET not in result.stderr
    assert read_state(trial_home).tables == base_state.tables
    t.cases += 1
    t.survived += 1


# --- the reader -----------------------------------------------------------------------------

READER = """
import sys
from hk_pipeline.config import load_settings
from hk_pipeline.warehouse.readers import open_reader
con = open_reader(load_settings())
con.execute("BEGIN TRANSACTION")
count = lambda: con.execute("SELECT count(*) FROM raw.quotes").fetchone()[0]
print(count(), flush=True)
sys.stdin.readline()  # the test says when
print(count(), flush=True)
con.execute("COMMIT")
print(count(), flush=True)
"""


def start_reader(home: Path) -> subprocess.Popen:
    """A Python reader of the lake at ``home`` (READER): it holds one transaction until told."""
    return subprocess.Popen(
        [sys.executable, "-c", READER],
        env=child_env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def reader(trial_home: Path) -> Iterator[subprocess.Popen]:
    """A Python reader of the lake holding one transaction (one snapshot) until told."""
    proc = start_reader(trial_home)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_on_the_lake_readers_do_not_block_a_run(
    trial_home: Path, base_state: State, reference: State, reader: subprocess.Popen, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    assert reader.stdout is not None
    before = int(reader.stdout.readline())
    shell = subprocess.Popen(  # the analysts' shell, open on the lake during the run
        [HK_PIPELINE, "sql", "--format", "csv"],
        env=child_env(trial_home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert shell.stdin is not None
    shell.stdin.write("SELECT count(*) AS n FROM raw.quotes;\n")
    shell.stdin.flush()
    try:
        result = run_cli(trial_home, *run_args(NEW), timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "locked" not in result.stderr and "another writer" not in result.stderr
        t.cases += 1
        # the reader kept its snapshot while the run committed, and sees the run after COMMIT
        out, err = reader.communicate("go\n", timeout=60)
        assert reader.returncode == 0, err[-2000:]
        held, after = (int(x) for x in out.split())
        assert before == held and after > held, (before, held, after)
        t.cases += 1
        shell.stdin.write("SELECT count(*) AS n FROM raw.quotes;\n")
    finally:
        out, err = shell.communicate(".quit\n", timeout=60)
    assert shell.returncode == 0 and "error" not in err, err
    assert out.split() == ["n", str(before), "n", str(after)], out  # old, then the run's
    assert read_state(trial_home).tables == reference.tables
    t.cases += 1
    t.survived += 1


def _journal_mode(catalog: Path, mode: str) -> None:
    """Set the catalog's journal mode from another process (two SQLite libraries in this one
    must not hold the same file)."""
    code = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "print(db.execute('PRAGMA journal_mode=' + sys.argv[2]).fetchone()[0])\n"
        "db.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(catalog), mode], capture_output=True, text=True
    )
    assert result.stdout.strip() == mode, result.stderr


@pytest.mark.skipif(not LINUX_LOCKS, reason="the lock's holder is read from /proc/locks")
def test_a_reader_blocking_a_rollback_journal_catalog_is_named_as_a_reader(
    trial_home: Path, base_state: State, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    catalog = trial_home / "catalog.sqlite"
    _journal_mode(catalog, "delete")
    reader = start_reader(trial_home)
    run = None
    try:
        assert reader.stdout is not None and int(reader.stdout.readline()) > 0
        run = start_cli(trial_home, *run_args(NEW))
        line = _wait_line(run, "catalog is locked", 180)
        assert f"pid {reader.pid}" in line and "is a reader holding it" in line, line
        assert "End that reader's transaction" in line and "journal_mode=WAL" in line, line
        assert "another writer committed first" not in line
        t.cases += 1
        run.send_signal(signal.SIGTERM)
        run.wait(15)
        assert run.returncode == 143
        t.cases += 1
    finally:
        for proc in (run, reader):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    _journal_mode(catalog, "wal")
    assert read_state(trial_home).tables == base_state.tables
    t.survived += 1


def _wait_line(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    """The first stderr line of ``proc`` holding ``needle`` (read on a thread)."""
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = [line for line in lines if needle in line]
        if found:
            return found[0]
        time.sleep(0.1)
    pytest.fail(f"no line with {needle!r}: {''.join(lines)[-2000:]}")


# --- the lock table, unit by unit ---------------------------------------------------------


def _sqlite_file(path: Path, wal: bool) -> Path:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA journal_mode={'wal' if wal else 'delete'}")
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    (path.parent / f"{path.name}-shm").write_bytes(b"\0" * 32768)
    return path


def _lock_line(n: int, path: Path, pid: int, mode: str, start: int, end: int | str) -> str:
    st = os.stat(path)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return f"{n}: POSIX  ADVISORY  {mode} {pid} {dev} {start} {end}"


def test_the_lock_table_names_writers_and_readers(tmp_path: Path, tally) -> None:
    t = tally(AREA)
    t.trials += 1
    sleeper = subprocess.Popen(["sleep", "60"])
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "hk-pipeline"])
    try:
        other = sleeper.pid
        wal = _sqlite_file(tmp_path / "wal.sqlite", wal=True)
        shm = wal.with_name("wal.sqlite-shm")
        writer = _lock_line(1, shm, other, "WRITE", 120, 120)
        culprit = lock_culprit(wal, writer)
        assert culprit is not None and not culprit.pipeline
        assert f"pid {other}: sleep 60 holds a write transaction" in culprit.text, culprit
        # this process's own locks never count; a WAL reader never blocks
        assert lock_culprit(wal, _lock_line(1, shm, os.getpid(), "WRITE", 120, 120)) is None
        reading = _lock_line(1, wal, other, "READ", 1073741826, 1073742335)
        assert lock_culprit(wal, reading) is None
        # another run of the pipeline committing: the ordinary race, it releases by itself
        ours = lock_culprit(wal, _lock_line(1, shm, run.pid, "WRITE", 120, 120))
        assert ours is not None and ours.pipeline, ours
        t.cases += 4
        legacy = _sqlite_file(tmp_path / "legacy.sqlite", wal=False)
        reading = _lock_line(1, legacy, other, "READ", 1073741826, 1073742335)
        culprit = lock_culprit(legacy, reading)
        assert culprit is not None and f"pid {other}: sleep 60 is a reader" in culprit.text
        assert "journal_mode=WAL" in culprit.text
        # a process with a write lock as well is a writer, not "a reader"
        both = reading + "\n" + _lock_line(2, legacy, other, "WRITE", 1073741825, 1073741825)
        assert "write transaction" in getattr(lock_culprit(legacy, both), "text", "")
        # nobody holds it, rollback-journal mode: this process is the one stuck
        stuck = lock_culprit(legacy, "")
        assert stuck is not None and "unable to go on" in stuck.text
        # waiting for a lock ("->") is not holding it
        waiting = _lock_line(1, shm, other, "WRITE", 120, 120).replace("1: ", "1: -> ")
        assert lock_culprit(wal, waiting) is None
        t.cases += 4
    finally:
        for proc in (sleeper, run):
            proc.kill()
            proc.wait()
    t.survived += 1
