"""SIGTERM and Ctrl-C stop a CLI run within seconds, whatever the run is blocked on.

A run is Dagster's in-process execution. While a step runs, Dagster turns SIGINT and SIGTERM
into an exception raised in the main thread; the step's ``finally`` blocks then roll the lake's
transaction back and close the connection, Dagster records the run as failed, and the command
ends. That graceful path can stall: the exception cannot leave a C call that does not return
(a read from a stalled network peer, a file system that hangs), and a step that waits for the
thread which fetches the next partition (``defs/ingest._ahead``) waits as long as that thread
does. Dagster's own handler only records the signal outside its checkpoints, so before this
module a blocked run ignored SIGTERM for good.

:func:`stoppable` adds a deadline without taking the signal away from Dagster: Python writes
the number of every signal it handles to the "wakeup fd" (``signal.set_wakeup_fd``) before any
handler runs, whichever handler Dagster has installed, and a watcher thread reads it. After
the first SIGINT/SIGTERM the graceful path has ``GRACE_SECONDS``; a second signal, or the end
of the grace, ends the process at once with one line on stderr. Ending it is safe: nothing is
committed to the lake that was not complete (a killed writer is the crash the reliability
suite proves harmless), and the kernel releases every lock and file the process held.

Exit codes follow the shell's convention for a process ended by a signal: 130 for SIGINT,
143 for SIGTERM. No Dagster import here.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

GRACE_SECONDS = 5.0
"""How long the graceful stop (rollback, Dagster's failure record) may take before the process
ends at once; with Dagster's own teardown this keeps a stop under 10 s."""
RECORD_SECONDS = 2.0
"""How long the forced end may spend recording the abandoned run as failed (``on_abandon``)."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_NAMES = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}


def exit_code(signum: int) -> int:
    """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


class Interrupted(Exception):
    """The command was stopped by SIGINT or SIGTERM; ``code`` is the exit code to return."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.code = exit_code(signum)


class _Watch:
    """The wakeup pipe and the watcher thread of one :func:`stoppable` block."""

    def __init__(
        self,
        doing: str,
        after: str,
        grace: float,
        on_abandon: Callable[[str], str] | None = None,
    ) -> None:
        self.doing = doing
        self.after = after
        self.grace = grace
        self.on_abandon = on_abandon
        self.signum: int | None = None
        self._deadline: float | None = None
        self._done = False
        self._lock = threading.Lock()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def received(self) -> int | None:
        """The first stop signal seen so far (reading what the pipe holds now)."""
        self._drain()
        return self.signum

    def _drain(self) -> None:
        with self._lock:
            try:
                data = os.read(self._read, 512)
            except BlockingIOError:
                return
            for signum in data:
                if signum not in STOP_SIGNALS:
                    continue
                if self.signum is None:
                    self.signum = signum
                    self._deadline = time.monotonic() + self.grace
                elif not self._done:
                    # a second Ctrl-C or SIGTERM: the user does not want to wait any longer
                    self._deadline = time.monotonic()

    def watch(self) -> None:
        """The watcher thread: end the process when a stop overruns its grace period."""
        while True:
            with self._lock:
                if self._done:
                    return
                deadline = self._deadline
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if wait is None or wait > 0:
                select.select([self._read], [], [], wait)
            self._drain()
            with self._lock:
                if self._done:
                    return
                overdue = self._deadline is not None and time.monotonic() >= self._deadline
                signum = self.signum
            if overdue and signum is not None:
                self._end_now(signum)

    def _end_now(self, signum: int) -> None:
        recorded = self._record(f"interrupted by {_NAMES[signum]}; the process was ended")
        line = (
            f"error: interrupted by {_NAMES[signum]} while {self.doing}; it did not stop"
            f" within {self.grace:.0f} s, so the process ended at once: nothing uncommitted was"
            f" kept and every lock is released{recorded}. {self.after}\n"
        )
        # os.write, not print: the main thread may hold sys.stderr's buffer lock
        os.write(2, line.encode(errors="replace"))
        os._exit(exit_code(signum))

    def _record(self, reason: str) -> str:
        """Run ``on_abandon(reason)`` for at most RECORD_SECONDS; what it did, for the line.

        The main thread is stuck, so Dagster will not record the end of its run itself; a
        run left "started" would show as running in the UI for ever.
        """
        callback = self.on_abandon
        if callback is None:
            return ""
        outcome: list[str] = []

        def record() -> None:
            try:
                outcome.append(callback(reason))
            except Exception as exc:  # reported in the line below, never swallowed
                outcome.append(
                    f" (Dagster may still show the run as started: recording its end failed:"
                    f" {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                )

        worker = threading.Thread(target=record, name="hk-stop-record", daemon=True)
        worker.start()
        worker.join(RECORD_SECONDS)
        if not outcome:
            return (
                f" (Dagster may still show the run as started: recording its end took over"
                f" {RECORD_SECONDS:.0f} s)"
            )
        return outcome[0]

    def finish(self, watcher: threading.Thread) -> None:
        """Stop the watcher (a 0 byte wakes it; 0 is no signal) and close the pipe."""
        with self._lock:
            self._done = True
        with suppress(BlockingIOError):  # the pipe is full: the watcher is awake anyway
            os.write(self._write, b"\0")
        watcher.join()
        os.close(self._write)
        os.close(self._read)


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    # which signal it was is read from the wakeup pipe, written before any handler runs
    raise KeyboardInterrupt


@contextmanager
def stoppable(
    doing: str,
    after: str,
    grace: float = GRACE_SECONDS,
    on_abandon: Callable[[str], str] | None = None,
) -> Iterator[None]:
    """Run the block so that SIGINT/SIGTERM stop it within ``grace`` seconds (module doc).

    ``doing`` names the work in the message (``running 2025-11-21|midday``); ``after`` says
    what the user should do next. A block that a stop signal interrupted raises
    :class:`Interrupted` with one line, whatever exception the interruption caused inside
    (Dagster's failed run, a KeyboardInterrupt). When the grace runs out, ``on_abandon(reason)``
    is given RECORD_SECONDS to record the stuck run's end and returns a phrase for the line
    (`` (Dagster records run ... as failed)``). Outside the main thread it only runs the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread: nothing to watch from here
        return
    watch = _Watch(doing, after, grace, on_abandon)
    previous_fd = signal.set_wakeup_fd(watch._write, warn_on_full_buffer=False)
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    # SIGTERM's default action kills the process without a word; ours raises like Ctrl-C, and
    # Dagster maps SIGTERM to its SIGINT handler while a step runs.
    for s in STOP_SIGNALS:
        signal.signal(s, _raise_keyboard_interrupt)
    watcher = threading.Thread(target=watch.watch, name="hk-stop-watch", daemon=True)
    watcher.start()
    try:
        try:
            yield
        except BaseException as exc:
            signum = watch.received()
            if signum is None:
                raise
            raise Interrupted(signum, _message(signum, doing, after)) from exc
        signum = watch.received()
        if signum is not None:
            # the block finished despite the signal (it arrived at the very end)
            raise Interrupted(signum, _message(signum, doing, after))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(previous_fd)
        watch.finish(watcher)


def _message(signum: int, doing: str, after: str) -> str:
    return (
        f"interrupted by {_NAMES[signum]} while {doing}; the write in progress was rolled back"
        f" and every lock is released. {after}"
    )
