"""What the CLI wraps around a command: one-line messages for a full disk or a read-only home,
a lake that cannot be opened, and writers that kept winning.

Kept out of ``cli.py`` so the command definitions stay thin. No Dagster import at module
level (``cli`` imports this before it knows which command runs). Which storage failed and
why is worked out by ``hk_pipeline.warehouse.storage_errors``, whatever raised it: Python's
own writes, DuckDB (the lake's files, its catalog, spill files), or Dagster's SQLite storage
through SQLAlchemy, in the CLI's process or inside a run (the failed step's message).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hk_pipeline.config import Settings, pipeline_home
from hk_pipeline.warehouse.lake import LakeError
from hk_pipeline.warehouse.storage_errors import explained, one_line, storage_problem
from hk_pipeline.warehouse.tx import WriteConflict


class GuardError(RuntimeError):
    """A failure the CLI prints as one line (exit code 1)."""


def root_message(error: Any) -> str:
    """The innermost cause of a Dagster SerializableErrorInfo on one line (what went wrong,
    not Dagster's "Error occurred while executing op" wrapper).

    All of its lines, joined: DuckDB puts the cause of a failed commit on the second line
    ("Failed to commit DuckLake transaction." / "... disk I/O error")."""
    messages = []
    while error is not None:
        messages.append(str(error.message).strip())
        error = error.cause or getattr(error, "context", None)
    for text in reversed(messages):
        if text:
            return one_line(text)
    return "failed"


@contextmanager
def guarded(command: str, settings: Settings | None) -> Iterator[None]:
    """Turn a lake that cannot be opened, writers that kept winning, and storage that refused
    a write (full, over the file-size limit, read-only, failing) into GuardError: one line,
    no traceback. ``settings`` None: before they are loaded (the home is then the one
    HK_PIPELINE_HOME names)."""
    try:
        yield
    except GuardError:
        raise
    except (LakeError, WriteConflict) as exc:
        raise GuardError(str(exc)) from None
    except Exception as exc:  # OSError, duckdb, sqlite3, SQLAlchemy (Dagster's storage), a run's
        if explained(exc):  # already one line naming the storage (the sql command's spill files)
            raise
        message = storage_problem(exc, settings or Settings(home=pipeline_home()))
        if message is None:
            raise
        raise GuardError(message) from None
