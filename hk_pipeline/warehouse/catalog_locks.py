"""Who makes the SQLite catalog answer "database is locked": a writer, or a reader.

SQLite says only that the file is locked. The holder is another process, and the fix depends
on which: another run committing finishes by itself; a program with a write transaction open
(a ``sqlite3`` shell, a database browser) must end it; and in SQLite's rollback-journal mode a
*reader* with an open transaction blocks every commit as well. The catalogs this pipeline
creates are in WAL mode, where readers never block a writer (``lake._create_sqlite_catalog``),
but a catalog made by another DuckDB client, or switched back by hand, may not be.

SQLite's locks are POSIX advisory locks on the catalog file (rollback journal) or its ``-shm``
file (WAL), so the kernel's lock table (``/proc/locks``, Linux) names the process that holds
them. Elsewhere the table is not available and :func:`lock_culprit` returns None: the caller's
message then stays general. Pure functions, no Dagster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC_LOCKS = Path("/proc/locks")
# SQLite's lock bytes (os_unix.c): in the database file, PENDING, RESERVED and the SHARED
# range; in the -shm file of a WAL database, the writer's lock.
PENDING_BYTE = 0x40000000
RESERVED_BYTE = PENDING_BYTE + 1
SHARED_FIRST = PENDING_BYTE + 2
SHARED_SIZE = 510
WAL_WRITE_LOCK = 120
# a pipeline process: another run, the UI's daemon or run workers
_OURS = ("hk-pipeline", "hk_pipeline", "dagster")


@dataclass(frozen=True)
class Lock:
    pid: int
    write: bool
    device: tuple[int, int]
    inode: int
    start: int
    end: int  # inclusive; -1 for "to the end of the file" (EOF in /proc/locks)

    def covers(self, first: int, last: int) -> bool:
        return self.start <= last and (self.end == -1 or self.end >= first)


def parse_locks(text: str) -> list[Lock]:
    """The POSIX and OFD locks held (not waited for) in ``/proc/locks`` text."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 8 or fields[1] not in ("POSIX", "OFDLCK"):
            continue
        _, _, _, mode, pid, where, start, end = fields[:8]
        major, minor, inode = where.split(":")
        out.append(
            Lock(
                pid=int(pid),
                write=mode == "WRITE",
                device=(int(major, 16), int(minor, 16)),
                inode=int(inode),
                start=int(start),
                end=-1 if end == "EOF" else int(end),
            )
        )
    return out


def _identity(path: Path) -> tuple[tuple[int, int], int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (os.major(st.st_dev), os.minor(st.st_dev)), st.st_ino


def _on(lock: Lock, identity: tuple[tuple[int, int], int] | None) -> bool:
    return identity is not None and (lock.device, lock.inode) == identity


def is_wal(catalog: Path) -> bool:
    """True if the SQLite file's header says WAL mode (bytes 18 and 19 are 2)."""
    with open(catalog, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def process_name(pid: int) -> str:
    """``pid``'s command line (shortened), or ``"pid N"`` when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if args:
        args[0] = Path(args[0]).name
    # `python /path/to/hk-pipeline run ...`: the script says more than the interpreter
    if len(args) > 1 and args[0].startswith("python") and not args[1].startswith("-"):
        args = [Path(args[1]).name, *args[2:]]
    text = " ".join(" ".join(args).split()) or "?"  # one line: `python -c` code has newlines
    return f"pid {pid}: {text[:60]}{'...' if len(text) > 60 else ''}"


@dataclass(frozen=True)
class Culprit:
    """Who holds the catalog's lock (``text``: who and what to do); ``pipeline`` when it is
    only other processes of this pipeline, which release it by themselves."""

    text: str
    pipeline: bool = False


def lock_culprit(catalog: Path, locks_text: str | None = None) -> Culprit | None:
    """Who holds the lock that blocks a commit to the SQLite ``catalog``, and what to do.

    None when the kernel's lock table cannot be read (not Linux) or names no other process
    in a WAL catalog. ``locks_text`` replaces ``/proc/locks`` (tests). The texts are short:
    they end up inside a one-line error of a few hundred characters.
    """
    if locks_text is None:
        try:
            locks_text = PROC_LOCKS.read_text()
        except OSError:
            return None
    db = _identity(catalog)
    if db is None:
        return None
    shm = _identity(catalog.with_name(catalog.name + "-shm"))
    others = [lock for lock in parse_locks(locks_text) if lock.pid != os.getpid()]
    writers = sorted(
        {
            lock.pid
            for lock in others
            if lock.write
            and (
                (_on(lock, shm) and lock.covers(WAL_WRITE_LOCK, WAL_WRITE_LOCK))
                or (_on(lock, db) and lock.covers(PENDING_BYTE, SHARED_FIRST + SHARED_SIZE - 1))
            )
        }
    )
    # In rollback-journal mode every connection in a transaction holds a shared lock, and a
    # commit waits for all of them: a process holding only that one is a reader, and the
    # writers (this one included) wait for it. In WAL mode readers never block a commit.
    wal = is_wal(catalog)
    readers = (
        []
        if wal
        else sorted(
            {
                lock.pid
                for lock in others
                if _on(lock, db) and lock.covers(SHARED_FIRST, SHARED_FIRST + SHARED_SIZE - 1)
            }
            - set(writers)
        )
    )
    to_wal = f"sqlite3 {catalog} 'PRAGMA journal_mode=WAL' while nothing uses it"
    if readers:
        names = "; ".join(process_name(pid) for pid in readers)
        return Culprit(
            f"{names} is a reader holding it: in SQLite's rollback-journal mode, this catalog's,"
            " a reader's open transaction blocks every commit. End that reader's transaction"
            f" (COMMIT, or close it); to keep readers from ever blocking runs: {to_wal}"
        )
    if not writers:
        if wal:
            return None  # released since the attempt failed: the next one will tell
        # Seen with DuckDB 1.5's SQLite extension: after a commit that found the catalog
        # locked, every later statement of that connection answers "database is locked".
        return Culprit(
            "no other process holds it now, but in SQLite's rollback-journal mode, this"
            " catalog's, a commit that found it locked leaves this process unable to go on:"
            f" stop the run (Ctrl-C), then {to_wal}, and run again"
        )
    each = [process_name(pid) for pid in writers]
    names = "; ".join(each)
    if all(any(mark in name for mark in _OURS) for name in each):
        return Culprit(f"another pipeline process is committing ({names})", pipeline=True)
    return Culprit(
        f"{names} holds a write transaction on it: end that transaction (COMMIT or ROLLBACK)"
        " or close that program"
    )
