"""The two DuckDB idioms every writer shares: one lake transaction, and a frame registered by name.

Several writers share the lake (a UI run, a scheduled run, a CLI run, on one machine or many).
DuckLake detects conflicts per table when a transaction commits: two transactions that both
delete from and insert into ``raw.quotes`` conflict even for different partitions, and a
SQLite catalog answers "database is locked" while another process commits. Either way the
losing transaction has changed nothing, so :func:`write_transaction` runs its body again on
the state the winner left, with backoff and jitter, and says on stderr what it waits for. The
end state equals running the writers one after the other. It gives up after
``HK_PIPELINE_WRITER_WAIT`` seconds (default 600) with a message saying so.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
import pyarrow as pa

from hk_pipeline.config import DATA_PATH_VARIABLE, nonnegative_number
from hk_pipeline.warehouse.catalog_locks import Culprit, lock_culprit
from hk_pipeline.warehouse.lake import LAKE, LakeError, redact

WAIT_VARIABLE = "HK_PIPELINE_WRITER_WAIT"
DEFAULT_WAIT_SECONDS = 600.0
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 2.0
RETRYABLE = (
    "transaction conflict",
    "database is locked",
    "could not serialize access",
    "deadlock detected",
    "lock timeout",  # a PostgreSQL catalog's lock_timeout (lake.CATALOG_LOCK_TIMEOUT)
    "conflict",
)
"""Fragments of the errors a losing writer gets (DuckLake, SQLite and PostgreSQL catalogs)."""

T = TypeVar("T")


class WriteConflict(RuntimeError):
    """Another writer kept winning for longer than ``HK_PIPELINE_WRITER_WAIT`` allows."""


def wait_seconds(environ: dict[str, str] | None = None) -> float:
    """``HK_PIPELINE_WRITER_WAIT`` (seconds, >= 0); ValueError naming it on a bad value."""
    env = os.environ if environ is None else environ
    return nonnegative_number(env, WAIT_VARIABLE, DEFAULT_WAIT_SECONDS, "seconds")


def is_conflict(exc: BaseException) -> bool:
    """True for the errors of a writer that lost a race and may simply try again."""
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    return any(fragment in text for fragment in RETRYABLE)


def conflict_line(exc: BaseException) -> str:
    """The line of a lost race's error that says why (a PostgreSQL error ends with the
    statement and a caret under it: the ``ERROR:`` line is the one to show)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in reversed(lines):
        low = line.lower()
        if any(fragment in low for fragment in RETRYABLE):
            return line[line.find("ERROR:") :] if "ERROR:" in line else line
    return lines[-1] if lines else type(exc).__name__


def storage_refusal(exc: BaseException) -> str | None:
    """What to fix when the data path refused a file (object storage 403, a read-only
    folder); None for any other error."""
    if not isinstance(exc, duckdb.Error):
        return None
    text = str(exc)
    low = text.lower()
    if isinstance(exc, duckdb.HTTPException) and ("403" in text or "forbidden" in low):
        return (
            f"{DATA_PATH_VARIABLE}: the object storage refused a data file (HTTP 403): check"
            " AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's permissions; nothing of"
            " this write was committed"
        )
    if isinstance(exc, duckdb.IOException) and "permission denied" in low:
        return (
            f"{DATA_PATH_VARIABLE}: cannot write a data file ({redact(text.splitlines()[0])});"
            " fix the folder's permissions; nothing of this write was committed"
        )
    return None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK if a transaction is still open (a failed COMMIT has already ended it)."""
    with suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


def announce(message: str) -> None:
    """A wait, on stderr (Dagster keeps a run's stderr with its logs): a run that waits says
    what for and how long."""
    print(f"hk-pipeline: {message}", file=sys.stderr, flush=True)


WRITE_TOKENS_TABLE = "meta.write_tokens"
"""One row per table of the lake; every write bumps the rows of the tables it replaces.

DuckLake sees a conflict only when a transaction deletes rows another one touched: two
writers of a partition that does not exist yet each delete nothing, insert, and both commit,
doubling the partition (seen on a PostgreSQL catalog). Updating the table's token row is a
delete and an insert of that row, so two such writers always conflict and one retries."""


def catalog_culprit(con: duckdb.DuckDBPyConnection) -> Culprit | None:
    """Who holds the lock of the lake's SQLite catalog attached on ``con`` (catalog_locks);
    None for a PostgreSQL catalog or when the holder cannot be told."""
    # qualified with `system`: an unqualified name would be looked up in the lake first, and
    # reading the lake needs the very catalog that is locked
    row = con.execute(
        "SELECT path FROM system.main.duckdb_databases() WHERE database_name = ?", [LAKE]
    ).fetchone()
    path = row[0] if row else None
    if not isinstance(path, str) or not path.startswith("sqlite:"):
        return None
    return lock_culprit(Path(path.removeprefix("sqlite:")))


def _lock_holder(last: str, locked_by: Callable[[], Culprit | None] | None) -> Culprit | None:
    """Who holds a SQLite catalog's lock when ``last`` says "database is locked", if known and
    not just another run (that one is the writer that commits first)."""
    if "database is locked" not in last.lower() or locked_by is None:
        return None
    culprit = locked_by()
    return None if culprit is None or culprit.pipeline else culprit


def retry_on_conflict(
    attempt_once: Callable[[], T],
    *,
    what: str,
    undone: str,
    max_wait: float | None = None,
    locked_by: Callable[[], Culprit | None] | None = None,
) -> T:
    """``attempt_once()``, again with backoff and jitter while another writer wins.

    ``attempt_once`` leaves nothing behind when it loses (a rolled-back transaction, or one
    of DuckLake's self-committing maintenance calls). ``what`` names the work in the wait
    lines; ``undone`` says, in the final error, what the lost attempt left unchanged;
    ``locked_by`` names who holds a locked SQLite catalog (``catalog_culprit``).
    """
    budget = wait_seconds() if max_wait is None else max_wait
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return attempt_once()
        except duckdb.Error as exc:
            if not is_conflict(exc):
                raise
            waited = time.monotonic() - started
            last = conflict_line(exc)
            holder = _lock_holder(last, locked_by) if waited >= budget else None
            if holder is not None:
                # what to do first: the line is cut at a few hundred characters
                raise WriteConflict(
                    f"{what}: gave up after {waited:.0f} s, {undone}; run it again, or raise"
                    f" {WAIT_VARIABLE}. The lake's SQLite catalog stayed locked: {holder.text}"
                ) from None
            if waited >= budget and "lock timeout" in last.lower():
                raise WriteConflict(
                    f"{what}: the lake's PostgreSQL catalog stayed locked by another session"
                    f" for {waited:.0f} s ({attempt} attempts; last: {last}); {undone}. Find"
                    " the session holding it (pg_stat_activity, pg_locks), end it, and run"
                    f" this again, or raise {WAIT_VARIABLE}"
                ) from None
            if waited >= budget:
                raise WriteConflict(
                    f"{what}: other writers kept committing first for {waited:.0f} s"
                    f" ({attempt} attempts; last: {last}); {undone}. Run it again, or raise"
                    f" {WAIT_VARIABLE}"
                ) from None
            delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** min(attempt, 6))
            delay *= random.uniform(0.5, 1.5)
            if attempt == 1 or attempt % 5 == 0:
                holder = _lock_holder(last, locked_by)
                if holder is not None:
                    lost = f"the lake's SQLite catalog is locked: {holder.text}"
                elif "lock timeout" in last.lower():
                    lost = f"the lake's PostgreSQL catalog is locked by another session ({last})"
                else:
                    lost = f"another writer committed first ({last[:120]})"
                announce(f"{what}: {lost}; waited {waited:.1f} s, retry {attempt} in {delay:.2f} s")
            time.sleep(delay)


def write_transaction(
    con: duckdb.DuckDBPyConnection,
    body: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    what: str,
    tables: tuple[str, ...] = (),
    max_wait: float | None = None,
) -> T:
    """BEGIN; claim ``tables``' write tokens; ``body(con)``; COMMIT, retried while another
    writer wins the commit.

    ``body`` must be safe to run again from the start (it is: every write deletes its
    partition or keys before inserting). Any other error rolls back and propagates; a data
    file the storage refused becomes a LakeError naming the setting to fix.
    """

    def once() -> T:
        con.execute("BEGIN TRANSACTION")
        try:
            if tables:
                placeholders = ", ".join("?" for _ in tables)
                con.execute(
                    f"UPDATE {WRITE_TOKENS_TABLE} SET writes = writes + 1"
                    f" WHERE table_name IN ({placeholders})",
                    list(tables),
                )
            result = body(con)
            con.execute("COMMIT")
            return result
        except BaseException as exc:
            _rollback(con)
            storage = storage_refusal(exc)
            if storage is not None:
                raise LakeError(f"writing {what}: {storage}") from None
            raise

    return retry_on_conflict(
        once,
        what=f"writing {what}",
        undone="nothing of this write was committed",
        max_wait=max_wait,
        locked_by=lambda: catalog_culprit(con),
    )


@contextmanager
def registered(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame | pa.Table, prefix: str
) -> Iterator[str]:
    """Register ``frame`` as an Arrow view under a unique name; unregister afterwards.

    Explicit registration, never DuckDB's replacement scan: a Python variable whose name
    equals a table name would otherwise be read instead of the table.
    """
    name = f"_hk_{prefix}_{uuid.uuid4().hex}"
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)
