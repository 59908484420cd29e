"""Nothing in the landing zone can hang a run: what is not a regular file is refused at once.

Opening a FIFO blocks until a writer appears, for ever if none does; before this, a FIFO
named like the day's securities master hung ``hk-pipeline run`` (and the sensor's tick) with
no word. Every listing of the landing folder now checks each entry with ``os.stat`` before
anything opens it, so a FIFO, a socket, a device or a folder named like a data file is refused
with "not a regular file" and its path, in every folder, by the run and by the sensor.

Each source-level case runs in a watchdog thread: a hang fails the test after a few seconds
instead of hanging the suite, and the teardown opens every FIFO from the other end so that
no thread stays blocked.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline import calendar
from hk_pipeline.sources.landing import (
    LandingLayoutError,
    LandingSource,
    has_intraday_bars,
    landing_manifest,
    missing_for,
)
from hk_pipeline.sources.landing_sets import set_fingerprint
from hk_pipeline_tests.reliability.harness import (
    NEW,
    State,
    error_lines,
    read_state,
    run_args,
    run_cli,
)

AREA = "landing zone"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "landing"
DAY, SNAPSHOT = date(2025, 11, 21), "midday"
# the file of each folder that a run of 2025-11-21|midday reads
READ_BY_THE_RUN = {
    "securities": "securities/2025-11-21.csv",
    "index_constituents": "index_constituents/2025-09-08.csv",
    "quotes": "quotes/2025-11-21_midday.csv",
    "index_levels": "index_levels/2025-11-21_midday.csv",
    "intraday_bars": "intraday_bars/2025-11-21_midday.csv",
    "macro_series": "macro_series/readings.csv",
}
WATCHDOG_SECONDS = 10.0


# --- entries that are not regular files ---------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    # bound at a short path and moved: an AF_UNIX address holds at most 107 bytes
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(f"{short}/s")  # the socket file stays after the socket is closed
        os.rename(f"{short}/s", path)


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "part-0.csv").write_text("symbol\n00700\n")


def _device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")


ENTRIES: dict[str, Callable[[Path], None]] = {
    "FIFO": _fifo,
    "socket": _socket,
    "folder": _folder,
    "device": _device,
}
WHAT = {"FIFO": "a FIFO", "socket": "a socket", "folder": "a folder", "device": "a character"}


def _replace(root: Path, name: str, make: Callable[[Path], None]) -> Path:
    path = root / name
    path.unlink()
    make(path)
    return path


def _unblock(root: Path) -> None:
    """Open every FIFO under ``root`` from the writing end (never blocks: O_NONBLOCK fails at
    once when no reader waits), so a reader stuck in open() is released."""
    for path in root.rglob("*"):
        if path.is_fifo():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader is waiting: nothing to release
                continue
            os.close(fd)


def _within(seconds: float, action: Callable[[], object]) -> BaseException | None:
    """Run ``action`` in a thread; its exception (None if it returned); fails on a hang."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            action()
            outcome.append(None)
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"still blocked after {seconds:.0f} s: the entry was opened, not refused"
    return outcome[0]


@pytest.fixture
def landing(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    yield root
    _unblock(root)


def _entry_points(root: Path, kind: str) -> dict[str, Callable[[], object]]:
    """Every call a run or the sensor makes that reaches the file of ``kind``."""
    source = LandingSource(root)
    reads = {
        "securities": lambda: source.securities(DAY),
        "index_constituents": lambda: source.index_constituents(DAY),
        "quotes": lambda: source.quotes(DAY, SNAPSHOT),
        "index_levels": lambda: source.index_levels(DAY, SNAPSHOT),
        "intraday_bars": lambda: source.intraday_bars(DAY, SNAPSHOT),
        "macro_series": lambda: source.macro_series(calendar.snapshot_time(DAY, SNAPSHOT)),
    }
    calls = {
        f"LandingSource.{kind}": reads[kind],
        "landing_manifest": lambda: landing_manifest(root, DAY, SNAPSHOT),
        "set_fingerprint": lambda: set_fingerprint(root, DAY, SNAPSHOT),
    }
    if kind not in ("intraday_bars", "macro_series"):  # optional: no part of "complete"
        calls["missing_for"] = lambda: missing_for(root, DAY, SNAPSHOT)
    if kind == "intraday_bars":
        calls["has_intraday_bars"] = lambda: has_intraday_bars(root, DAY, SNAPSHOT)
    return calls


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("kind", list(READ_BY_THE_RUN))
def test_every_folder_refuses_what_is_not_a_regular_file(
    landing: Path, kind: str, entry: str, tally
) -> None:
    t = tally(AREA)
    t.trials += 1
    path = _replace(landing, READ_BY_THE_RUN[kind], ENTRIES[entry])
    calls = _entry_points(landing, kind)
    for name, call in calls.items():
        started = time.monotonic()
        error = _within(WATCHDOG_SECONDS, call)
        assert isinstance(error, LandingLayoutError), f"{name}: {error!r}"
        assert "not a regular file" in str(error) and str(path) in str(error), f"{name}: {error}"
        assert WHAT[entry] in str(error), str(error)
        assert time.monotonic() - started < 2.0, f"{name} took {time.monotonic() - started:.1f}s"
        t.cases += 1
    # another folder's file still reads: the refusal is the entry's, not the whole zone's
    if kind == "index_levels":
        assert len(LandingSource(landing).quotes(DAY, SNAPSHOT)) == 12
    else:
        assert len(LandingSource(landing).index_levels(DAY, SNAPSHOT)) == 3
    t.survived += 1


def test_an_ignored_or_unrelated_entry_does_not_refuse(landing: Path, tally) -> None:
    """A FIFO whose name starts with '.' is ignored (uploaders' temporary files), and one for
    another day's quotes does not stop this day's run: neither is ever opened."""
    t = tally(AREA)
    t.trials += 1
    os.mkfifo(landing / "securities" / ".upload.csv")
    os.mkfifo(landing / "quotes" / "2025-11-24_midday.csv")
    source = LandingSource(landing)
    frames = _within(
        WATCHDOG_SECONDS,
        lambda: (source.securities(DAY), source.quotes(DAY, SNAPSHOT)),
    )
    assert frames is None
    assert len(source.securities(DAY)) > 0 and len(source.quotes(DAY, SNAPSHOT)) == 12
    assert missing_for(landing, DAY, SNAPSHOT) == []
    t.cases += 3
    t.survived += 1


# --- the landing sensor -------------------------------------------------------------------


def _tick(home: Path):
    from hk_pipeline.definitions import defs
    from hk_pipeline.defs.landing import landing_sensor
    from hk_pipeline.defs.resources import SourceResource

    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            resources={"source": SourceResource(source_name="landing", home=str(home))},
        )
        return landing_sensor.evaluate_tick(context)


@pytest.mark.parametrize("kind", ["securities", "quotes", "macro_series"])
def test_the_sensor_refuses_at_once_and_launches_nothing(landing: Path, kind: str, tally) -> None:
    t = tally(AREA)
    t.trials += 1
    # only 2025-11-21|midday has snapshot files: a complete set of another partition would be
    # launched, and a tick that launches reports nothing in its skip message
    for folder in ("quotes", "index_levels", "intraday_bars"):
        for other in (landing / folder).iterdir():
            if not other.name.startswith(f"{DAY}_{SNAPSHOT}"):
                other.unlink()
    path = _replace(landing, READ_BY_THE_RUN[kind], _fifo)
    started = time.monotonic()
    outcome: list[object] = []
    error = _within(WATCHDOG_SECONDS, lambda: outcome.append(_tick(landing.parent)))
    assert error is None, repr(error)
    assert time.monotonic() - started < WATCHDOG_SECONDS
    result = outcome[0]
    key = f"{DAY}|{SNAPSHOT}"
    assert not [r for r in result.run_requests if r.partition_key == key]
    message = result.skip_message or ""
    assert "not a regular file" in message and str(path) in message, message
    t.cases += 1
    t.survived += 1


# --- a run, end to end --------------------------------------------------------------------


def test_a_run_refuses_a_fifo_in_every_folder_and_keeps_the_lake(
    trial_home: Path, base_state: State, tally
) -> None:
    """`hk-pipeline run` with a FIFO in place of each file the partition reads: it fails at
    once (seconds, not a hang) with one line naming a FIFO, and the lake is as it was."""
    t = tally(AREA)
    t.trials += 1
    root = trial_home / "landing"
    shutil.copytree(FIXTURE, root)
    fifos = [_replace(root, name, _fifo) for name in READ_BY_THE_RUN.values()]
    try:
        started = time.monotonic()
        result = run_cli(
            trial_home, *run_args(NEW), env={"HK_PIPELINE_SOURCE": "landing"}, timeout=120
        )
        elapsed = time.monotonic() - started
    finally:
        _unblock(root)
    assert result.returncode == 1, result.stderr[-2000:]
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "not a regular file" in errors[0] and "a FIFO" in errors[0], errors[0]
    assert any(str(p) in errors[0] for p in fifos), errors[0]
    assert elapsed < 60, f"took {elapsed:.0f} s"
    state = read_state(trial_home)
    assert state.tables == base_state.tables
    assert not state.broken_views
    t.cases += len(fifos)
    t.survived += 1
