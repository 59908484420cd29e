"""What the CLI wraps around a command: one-line messages for a full disk, a lake that cannot be
opened, and writers that kept winning.

Kept out of ``cli.py`` so the command definitions stay thin. No Dagster import at module
level (``cli`` imports this before it knows which command runs).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.lake import LakeError
from hk_pipeline.warehouse.tx import WriteConflict

_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
_DISK_FULL_TEXT = (
    "no space left on device",
    "file too large",
    "disk quota exceeded",
    "database or disk is full",
)


class GuardError(RuntimeError):
    """A failure the CLI prints as one line (exit code 1)."""


def is_disk_full(text: str) -> bool:
    """True if an error message says the disk (or the process's file-size limit) is full."""
    low = text.lower()
    return any(t in low for t in _DISK_FULL_TEXT)


def disk_full_message(home: object, detail: str) -> str:
    return (
        f"out of disk space (or over the file size limit, ulimit -f) writing under {home}:"
        f" {detail.strip().splitlines()[0] if detail.strip() else 'write failed'}. Free space"
        " (or raise the limit) and run again: the failed write was rolled back, earlier"
        " partitions are unchanged"
    )


def root_message(error: Any) -> str:
    """The innermost cause of a Dagster SerializableErrorInfo, first line (what went wrong,
    not Dagster's "Error occurred while executing op" wrapper)."""
    messages = []
    while error is not None:
        messages.append(str(error.message).strip())
        error = error.cause or getattr(error, "context", None)
    for text in reversed(messages):
        if text:
            return text.splitlines()[0]
    return "failed"


@contextmanager
def guarded(command: str, settings: Settings) -> Iterator[None]:
    """Turn a lake that cannot be opened, writers that kept winning and full disks into
    GuardError (one line, no traceback)."""
    try:
        yield
    except (LakeError, WriteConflict) as exc:
        raise GuardError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in _DISK_FULL_ERRNOS:
            raise
        raise GuardError(disk_full_message(settings.home, str(exc))) from exc
    except Exception as exc:  # duckdb, sqlite3 or SQLAlchemy (Dagster's storage): by message
        if not is_disk_full(str(exc)):
            raise
        raise GuardError(disk_full_message(settings.home, str(exc))) from exc
