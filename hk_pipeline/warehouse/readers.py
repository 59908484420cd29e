"""Read-only ways into the lake, for analysts, notebooks and BI tools.

A reader attaches the lake with DuckLake's ``READ_ONLY`` and sees one consistent snapshot per
transaction: a run that commits meanwhile never changes what a running query sees, and a
reader never blocks a run. ``snapshot_version`` / ``snapshot_time`` attach an older snapshot
(time travel; ``FROM lake.snapshots()`` lists them).

``sandbox=True`` (used by ``hk-pipeline sql``) also confines the connection's file access to
the lake's data path and locks the configuration, so ``read_csv('/etc/passwd')``,
``INSTALL``/``LOAD`` and ``ATTACH`` fail; ``check_statements`` refuses anything but queries
(``COPY ... TO`` into the data path would otherwise be allowed).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import sqlalchemy

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.lake import LakeError, attach, extension_file, open_lake

READ_ONLY_PREFIX = "the lake is read-only here"
QUERY_TYPES = {
    duckdb.StatementType.SELECT: "SELECT",
    duckdb.StatementType.EXPLAIN: "EXPLAIN",
    duckdb.StatementType.PRAGMA: "PRAGMA",
}
"""Statements ``hk-pipeline sql`` runs; SELECT covers WITH, FROM, VALUES, DESCRIBE, SHOW and
SUMMARIZE."""


_UNSAFE_FUNCTIONS = re.compile(
    r"\b(ducklake_(?:flush_inlined_data|cleanup_old_files|delete_orphaned_files"
    r"|expire_snapshots|merge_adjacent_files|rewrite_data_files|add_data_files|set_option"
    r"|set_commit_message)|sqlite_scan|sqlite_attach|postgres_scan\w*|postgres_query"
    r"|postgres_execute|postgres_attach)\s*\(",
    re.IGNORECASE,
)
"""Functions a query could call that write the lake's files (DuckLake's maintenance changes
files before the read-only catalog refuses its commit) or read files the sandbox does not
cover (the scanners open files themselves, past ``enable_external_access``)."""


class ReaderError(RuntimeError):
    """There is no lake yet, or a statement is not allowed for a reader."""


def open_reader(
    settings: Settings,
    *,
    sandbox: bool = False,
    snapshot_version: int | None = None,
    snapshot_time: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with the lake attached as ``lake`` and in use.

    Raises ReaderError when there is no lake yet or it cannot be opened (the message names
    the setting to fix).
    """
    try:
        con = open_lake(
            settings,
            read_only=True,
            snapshot_version=snapshot_version,
            snapshot_time=snapshot_time,
        )
    except LakeError as exc:
        raise ReaderError(str(exc)) from None
    if sandbox:
        try:
            _sandbox(con, settings)
        except BaseException:
            con.close()
            raise
    return con


def _sandbox(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    allowed = settings.lake_data_path.replace("'", "''")
    con.execute(f"SET allowed_directories = ['{allowed}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def create_engine(settings: Settings, **kwargs: Any) -> sqlalchemy.Engine:
    """A read-only SQLAlchemy engine (duckdb_engine) on the lake.

    Each pooled connection is an in-memory DuckDB that loads DuckLake from its wheel and
    attaches the lake READ_ONLY as ``lake`` (the default database), so ``raw.quotes`` and
    ``views.latest_index_moves`` resolve as in ``hk-pipeline sql``.
    """
    attach_probe = open_reader(settings)  # fail now, with the setting named, not at first use
    attach_probe.close()
    ducklake = extension_file("ducklake")
    engine = sqlalchemy.create_engine(
        "duckdb:///:memory:",
        connect_args={
            "config": {
                "threads": 2,
                "memory_limit": settings.duckdb_memory_limit,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
        },
        **kwargs,
    )

    @sqlalchemy.event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        # duckdb_engine's connection passes execute() through to DuckDB's
        dbapi_connection.execute(f"LOAD '{str(ducklake).replace(chr(39), chr(39) * 2)}'")
        attach(dbapi_connection, settings, read_only=True)

    return engine


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The statements of ``sql`` as text; ReaderError if one is not a query.

    EXPLAIN is allowed only over a query (EXPLAIN ANALYZE runs its statement).
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise ReaderError(str(exc).strip()) from exc
    out = []
    for st in statements:
        kind = st.type
        text = st.query.strip()
        if kind == duckdb.StatementType.EXPLAIN:
            inner = text.split(None, 1)[1] if " " in text else ""
            if inner.upper().startswith("ANALYZE"):
                inner = inner[len("ANALYZE") :].strip()
            inner_types = [s.type for s in con.extract_statements(inner)] if inner else []
            if inner_types != [duckdb.StatementType.SELECT]:
                raise ReaderError(f"{READ_ONLY_PREFIX}: EXPLAIN is allowed over a query only")
        elif kind not in QUERY_TYPES:
            verb = text.split(None, 1)[0].upper() if text else str(kind)
            raise ReaderError(
                f"{READ_ONLY_PREFIX}: {verb} is not allowed; run queries only"
                f" ({', '.join(sorted(QUERY_TYPES.values()))}, WITH, DESCRIBE, SHOW, SUMMARIZE)"
            )
        if (match := _UNSAFE_FUNCTIONS.search(text)) is not None:
            raise ReaderError(
                f"{READ_ONLY_PREFIX}: {match.group(1)}() is not allowed here (it writes the"
                " lake's files or reads files outside it)"
            )
        out.append(text)
    return out


def explain_error(exc: duckdb.Error) -> str:
    """DuckDB's message, with what it means for a reader of the lake."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.PermissionException):
        return f"only the lake's own files can be read here: {message}"
    if "read-only mode" in message:
        return f"{READ_ONLY_PREFIX}: {message}"
    return message
