"""Read-only ways into the published warehouse, for analysts, notebooks and BI tools.

Readers never open ``warehouse.duckdb`` (the pipeline's private, single-writer file): they
open ``published/analyst.duckdb``, the catalogue of the latest published version, with
DuckDB's own ``read_only`` access mode. A connection keeps seeing the version it opened;
reconnect to see a newer one.

``sandbox=True`` (used by ``hk-pipeline sql``) also confines the connection's file access to
the version's own directory and locks the configuration, so ``read_csv('/etc/passwd')``,
``INSTALL``/``LOAD`` and ``ATTACH`` fail; ``check_statements`` refuses anything but queries
(``COPY ... TO`` into that directory would otherwise be allowed).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.publish import CATALOGUE_NAME, published_dir

READ_ONLY_PREFIX = "the analyst database is read-only"
QUERY_TYPES = {
    duckdb.StatementType.SELECT: "SELECT",
    duckdb.StatementType.EXPLAIN: "EXPLAIN",
    duckdb.StatementType.PRAGMA: "PRAGMA",
}
"""Statements ``hk-pipeline sql`` runs; SELECT covers WITH, FROM, VALUES, DESCRIBE, SHOW and
SUMMARIZE."""
THREADS = 2
ATTACH_NAME = "analyst"


class ReaderError(RuntimeError):
    """Nothing is published yet, or a statement is not allowed on the analyst database."""


def catalogue_path(settings: Settings) -> Path:
    """``$HK_PIPELINE_HOME/published/analyst.duckdb``."""
    return published_dir(settings.home) / CATALOGUE_NAME


def sqlalchemy_url(settings: Settings) -> str:
    """``duckdb:////abs/path/published/analyst.duckdb`` for SQLAlchemy via duckdb_engine.

    Pass ``connect_args={"read_only": True}`` to ``create_engine`` (see ``create_engine``).
    """
    return f"duckdb:///{catalogue_path(settings).resolve()}"


def create_engine(settings: Settings):  # -> sqlalchemy.Engine (import kept lazy)
    """A read-only SQLAlchemy engine on the analysts' catalogue (duckdb_engine)."""
    import sqlalchemy

    _require_published(catalogue_path(settings))
    return sqlalchemy.create_engine(sqlalchemy_url(settings), connect_args={"read_only": True})


def _require_published(path: Path) -> None:
    if not path.exists():
        raise ReaderError(
            f"nothing is published at {path}: run the pipeline first (e.g. `hk-pipeline run"
            " --date 2025-11-21 --snapshot midday`); every successful run publishes at its end"
        )


def open_reader(settings: Settings, *, sandbox: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the latest published version.

    The catalogue is ATTACHed (READ_ONLY) to a fresh in-memory database as ``analyst`` and made
    the default, rather than opened with ``duckdb.connect(path)``: DuckDB caches one instance
    per path in a process, so a second connect would silently get the version the first one
    opened. ``sandbox`` restricts file access to that version's directory and locks the
    settings. Raises ReaderError naming the path when nothing is published yet.
    """
    path = catalogue_path(settings)
    _require_published(path)
    con = duckdb.connect(config={"threads": THREADS})
    try:
        con.execute(f"ATTACH '{_sql_text(str(path))}' AS {ATTACH_NAME} (READ_ONLY)")
        con.execute(f"USE {ATTACH_NAME}")
        if sandbox:
            directory = con.execute("SELECT directory FROM meta.publication").fetchall()[0][0]
            allowed = _sql_text(directory.rstrip("/") + "/")
            con.execute(f"SET allowed_directories = ['{allowed}']")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


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
                f"{READ_ONLY_PREFIX}: {verb} is not allowed here; run queries only"
                f" ({', '.join(sorted(QUERY_TYPES.values()))}, WITH, DESCRIBE, SHOW, SUMMARIZE)"
            )
        out.append(text)
    return out


def explain_error(exc: duckdb.Error) -> str:
    """DuckDB's message, with what it means for a reader of the analyst database."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.PermissionException):
        return f"only the published version's files can be read here: {message}"
    if "read-only mode" in message:
        return f"{READ_ONLY_PREFIX}: {message}"
    return message
