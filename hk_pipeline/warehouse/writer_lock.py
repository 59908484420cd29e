"""One writer at a time: a file lock beside the warehouse, held while a run writes it.

DuckDB lets one process open a file for writing and fails any other at once ("Could not set
lock on file"). Each asset opens and closes its own connection, so two runs of the pipeline
would otherwise interleave: one of them fails half-way with DuckDB's message, at a step that
depends on timing. With this lock the second run waits for the first (up to
``HK_PIPELINE_WRITER_WAIT`` seconds, default 600), then runs; if the wait runs out it fails
before writing anything, naming the holder.

The lock is ``flock`` on ``<warehouse>.writer.lock``: the kernel releases it when the holder
exits, however it exits (SIGKILL included), so a dead holder never blocks anyone and there is
no stale pid file to clean up. The file's text names the last holder (pid, what, since) for
the message. Re-entrant within a process: the CLI holds it for a whole ``run`` (write plus
the summary it reads back) while each asset's connection takes it again.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

WAIT_VARIABLE = "HK_PIPELINE_WRITER_WAIT"
DEFAULT_WAIT_SECONDS = 600.0
POLL_SECONDS = 0.2

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (fd, depth) held by this process


class WriterBusy(RuntimeError):
    """Another process kept the warehouse's writer lock for longer than we may wait."""


def lock_path(warehouse: Path) -> Path:
    """``data/warehouse.duckdb`` -> ``data/warehouse.duckdb.writer.lock``."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.name}.writer.lock")


def wait_seconds(environ: dict[str, str] | None = None) -> float:
    """``HK_PIPELINE_WRITER_WAIT`` (seconds, >= 0); ValueError naming it on a bad value."""
    env = os.environ if environ is None else environ
    raw = env.get(WAIT_VARIABLE, str(DEFAULT_WAIT_SECONDS))
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{WAIT_VARIABLE}={raw!r} must be a number of seconds") from exc
    if value < 0:
        raise ValueError(f"{WAIT_VARIABLE}={value} must be >= 0")
    return value


def holder(path: Path) -> dict[str, object]:
    """What the lock file says about its last holder ({} if unreadable)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe_holder(info: dict[str, object]) -> str:
    if not info:
        return "another process"
    return f"{info.get('what', 'a writer')} (pid {info.get('pid')}, since {info.get('since')})"


def busy_message(path: Path, waited: float) -> str:
    return (
        f"another hk-pipeline run is writing the warehouse: {describe_holder(holder(path))};"
        f" waited {waited:.0f}s. Try again when it finishes (or set {WAIT_VARIABLE} to wait"
        " longer); the warehouse is unchanged by this attempt"
    )


@contextmanager
def writer_lock(
    warehouse: Path, *, what: str = "hk-pipeline", timeout: float | None = None
) -> Iterator[None]:
    """Hold the warehouse's writer lock; wait up to ``timeout`` seconds (default from
    ``HK_PIPELINE_WRITER_WAIT``), then raise WriterBusy naming the holder."""
    path = lock_path(warehouse).resolve()
    if path in _held:  # re-entrant: this process already holds it
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[path]
            _held[path] = (fd, depth - 1)
        return
    limit = wait_seconds() if timeout is None else timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= limit:
                    raise WriterBusy(busy_message(path, waited)) from None
                time.sleep(POLL_SECONDS)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": what, "since": since}).encode(), 0)
        _held[path] = (fd, 1)
        try:
            yield
        finally:
            del _held[path]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
