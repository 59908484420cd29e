"""What a failed write says about the storage beneath it, as one line a user can act on.

A full disk, the process's file-size limit (``ulimit -f``), a read-only file system and a folder
this user may not write reach the pipeline in different shapes: an ``OSError`` with an errno
(Python's own writes: ``dagster.yaml``, the reports), a DuckDB message naming the file
(``Could not write file "...": No space left on device``), or SQLite's words through the lake's
catalog or Dagster's SQLAlchemy storage ("database or disk is full", "attempt to write a
readonly database", or only "disk I/O error": SQLite reports a write the kernel refused with
EFBIG or EIO as an I/O error and keeps the errno to itself). :func:`storage_problem` turns any
of them into one line saying what could not be written (the path, and which part of the home it
is) and what to do; the cause SQLite does not give is read from the file system and the
process's limits (:func:`diagnose`).

No Dagster here: the CLI's guard, the lake and the readers all use it.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hk_pipeline.config import DAGSTER_POSTGRES_VARIABLE, DATA_PATH_VARIABLE, Settings

FULL = "full"
READ_ONLY = "read-only"
IO_ERROR = "io"

_ERRNOS = {
    errno.ENOSPC: FULL,
    errno.EFBIG: FULL,
    errno.EDQUOT: FULL,
    errno.EROFS: READ_ONLY,
    errno.EACCES: READ_ONLY,
    errno.EPERM: READ_ONLY,
    errno.EIO: IO_ERROR,
}
_TEXTS = (
    (
        FULL,
        (
            "no space left on device",
            "file too large",
            "disk quota exceeded",
            "database or disk is full",
            "could not extend file",  # PostgreSQL (Dagster's storage, a PostgreSQL catalog)
            "max_temp_directory_size",  # DuckDB: no room left for spill files
        ),
    ),
    (READ_ONLY, ("read-only file system", "attempt to write a readonly database")),
    (IO_ERROR, ("disk i/o error",)),
)
LOW_SPACE_BYTES = 1 << 20
"""Below this much free space a file system counts as full (SQLite needs pages, not bytes)."""
UNDONE = "the write that failed was rolled back; what committed before it stays"
_QUOTED_PATH = re.compile(r"""["'](/[^"'\n]+)["']""")
_SQLITE_MODULES = ("sqlalchemy", "sqlite3")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes (``raise ... from``, or raised while handling)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_HEADLINES = (
    "out of disk space (or over the file size limit",
    ": it is read-only",
    "disk I/O error writing ",
)
"""What every line of :func:`storage_problem` holds: a failed run's message that carries one
(a step raised a LakeError made of it) needs no second explanation around it."""


def explained(exc: BaseException) -> bool:
    """True when the message of ``exc`` already holds a line of :func:`storage_problem`."""
    return any(headline in str(exc) for headline in _HEADLINES)


def problem_kind(exc: BaseException) -> str | None:
    """FULL, READ_ONLY or IO_ERROR when ``exc`` is a write the storage refused; else None."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in _ERRNOS:
            return _ERRNOS[e.errno]
    return text_kind(" ".join(str(e) for e in _chain(exc)))


def text_kind(text: str) -> str | None:
    """:func:`problem_kind` of a message alone."""
    low = text.lower()
    for kind, fragments in _TEXTS:
        if any(fragment in low for fragment in fragments):
            return kind
    return None


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (what statvfs and access can look at)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def file_size_limit() -> int | None:
    """This process's RLIMIT_FSIZE in bytes (``ulimit -f``), None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def diagnose(path: Path) -> tuple[str, str] | None:
    """(kind, why) for a write under ``path`` that failed, from what can be observed now:
    a read-only mount, a full file system, the process's file-size limit, no write permission.
    None when none of them holds (a failing disk, or space freed since)."""
    where = _existing(path)
    try:
        stats = os.statvfs(where)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return READ_ONLY, f"the file system of {where} is mounted read-only"
    free = stats.f_bavail * stats.f_frsize
    if free < LOW_SPACE_BYTES:
        return FULL, f"the file system of {where} has {free:,} bytes free"
    limit = file_size_limit()
    if limit is not None:
        return FULL, f"this process may not write files past {limit:,} bytes (ulimit -f)"
    if not os.access(where, os.W_OK):
        return READ_ONLY, f"this user may not write to {where}"
    return None


def temp_root() -> Path:
    """Where temporary files go: ``TMPDIR`` exactly when set (Python's ``tempfile`` would
    quietly fall back to /tmp when it is full, and DuckDB's spill files would not follow)."""
    configured = os.environ.get("TMPDIR", "").strip()
    return Path(configured) if configured else Path(tempfile.gettempdir())


def _location(path: Path, settings: Settings | None) -> tuple[str, str]:
    """(what ``path`` is, what to point elsewhere) for the message."""
    candidates: list[tuple[Path, str, str]] = []
    if settings is not None:
        if "://" not in settings.lake_data_path:
            candidates.append(
                (Path(settings.lake_data_path), "the lake's data folder", DATA_PATH_VARIABLE)
            )
        candidates += [
            (settings.dagster_home, "Dagster's storage", "HK_PIPELINE_HOME"),
            (settings.reports_dir, "the reports folder", "HK_PIPELINE_HOME"),
            (settings.home, "the home", "HK_PIPELINE_HOME"),
        ]
    candidates.append((temp_root(), "the temporary folder", "TMPDIR"))
    catalog = settings.catalog_path if settings and not settings.catalog_is_postgres else None
    if catalog and path.parent == catalog.parent and path.name.startswith(catalog.name):
        return "the lake's catalog", "HK_PIPELINE_HOME"  # or its -wal, -shm
    # the innermost folder that holds it: the data path and TMPDIR may be inside the home
    matching = [c for c in candidates if path.is_relative_to(c[0])]
    if not matching:
        return "", "HK_PIPELINE_HOME"
    _, label, variable = max(matching, key=lambda c: len(c[0].parts))
    return label, variable


def _culprit(exc: BaseException, text: str, settings: Settings | None) -> Path | None:
    """The file or folder the failed write was for: the OSError's file, a path the message
    quotes, else the store whose library failed (Dagster's SQLite, the lake's catalog)."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.filename:
            return Path(os.fsdecode(e.filename))
    if (match := _QUOTED_PATH.search(text)) is not None:
        return Path(match.group(1))
    if "max_temp_directory_size" in text:  # DuckDB could not spill: its folder is under TMPDIR
        return temp_root()
    if settings is None:
        return None
    sqlite_side = any(type(e).__module__.split(".")[0] in _SQLITE_MODULES for e in _chain(exc))
    if sqlite_side and not settings.dagster_postgres_url:
        return settings.dagster_home
    if "ducklake" in text.lower() and not settings.catalog_is_postgres:
        return settings.catalog_path
    return settings.home


def _own_message(exc: BaseException, kind: str) -> str:
    """The message of the exception in the chain that says what failed (SQLAlchemy's wrapper
    repeats its driver's), else the outermost one's."""
    for e in _chain(exc):
        if (isinstance(e, OSError) and _ERRNOS.get(e.errno or 0) == kind) or text_kind(
            str(e)
        ) == kind:
            return str(e)
    return str(exc)


_NOISE = ("LINE ", "^", "(Background on this error at", "[SQL:", "[parameters:")
"""Lines of DuckDB's and SQLAlchemy's messages that point at the statement, not the cause."""


def one_line(text: str, limit: int = 400) -> str:
    """The message on one line: its lines joined, pointers to the statement left out."""
    lines = [line.strip() for line in text.strip().splitlines()]
    kept = [line for line in lines if line and not line.startswith(_NOISE)]
    joined = " ".join(kept)
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def storage_problem(
    exc: BaseException,
    settings: Settings | None,
    *,
    path: Path | None = None,
    undone: str = UNDONE,
) -> str | None:
    """One line for a write the storage refused (None for any other error): what is full or
    read-only, where, why if it can be told, and what to do.

    ``exc`` may be the CLI's error for a failed run, whose text is all that is left of the
    step's exception. ``path`` names the file when the caller knows it and the message does
    not; ``undone`` ends the line (what the failure left as it was).
    """
    message = " ".join(str(e) for e in _chain(exc))
    kind = problem_kind(exc)
    if kind is None:
        return None
    detail = one_line(_own_message(exc, kind)) or "write failed"
    if path is None:
        path = _culprit(exc, message, settings)
    if path is None:
        path = settings.home if settings is not None else Path.cwd()
    label, variable = _location(path, settings)
    what = f"{label} {path}" if label else str(path)
    found = diagnose(path)
    why = ""
    if found is not None:
        found_kind, why = found
        if kind in (IO_ERROR, found_kind):
            kind = found_kind
            why = f" ({why})"
        else:
            why = ""
    if variable == "TMPDIR":
        todo = "Free space there, or set TMPDIR to a folder with room, and run again"
    elif variable == DATA_PATH_VARIABLE:
        todo = (
            f"Free space there (or raise the limit), or point {variable} elsewhere, and run again"
        )
    else:
        todo = "Free space (or raise the limit) and run again"
    if kind == FULL:
        return (
            f"out of disk space (or over the file size limit, ulimit -f) writing {what}{why}:"
            f" {detail}. {todo}: {undone}"
        )
    if kind == READ_ONLY:
        if label == "Dagster's storage" and settings is not None:
            elsewhere = f"HK_PIPELINE_HOME (or {DAGSTER_POSTGRES_VARIABLE})"
        else:
            elsewhere = variable
        return (
            f"cannot write {what}: it is read-only{why}: {detail}. Make it writable (remount it"
            f" read-write, or fix its permissions) or point {elsewhere} at a writable folder,"
            f" and run again: {undone}"
        )
    return (
        f"disk I/O error writing {what}: {detail}. Check the disk (dmesg, smartctl) and its"
        f" free space, and run again: {undone}"
    )
