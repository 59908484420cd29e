"""Read-only ways into the lake, for analysts, notebooks and BI tools.

A reader attaches the lake with DuckLake's ``READ_ONLY`` and sees one consistent snapshot per
transaction: a run that commits meanwhile never changes what a running query sees, and a
reader never blocks a run. ``snapshot_version`` / ``snapshot_time`` attach an older snapshot
(time travel; ``FROM lake.snapshots()`` lists them).

``sandbox=True`` (used by ``hk-pipeline sql``) also confines the connection's file access to
the lake's data path, caps its memory (``HK_PIPELINE_SQL_MEMORY_LIMIT``) and locks the
configuration, so ``read_csv('/etc/passwd')``, ``INSTALL``/``LOAD``, ``ATTACH`` and ``SET``
fail. The data path is also writable to DuckDB there (it has no read-only file access), so
:func:`check_statements` lets through queries only: no statement that writes (``COPY ... TO``,
``EXPORT DATABASE``), no PRAGMA but the read-only ones by name (``PRAGMA import_database`` and
``IMPORT DATABASE`` run the SQL files of a folder), and no table function but those that only
read (``query()`` and ``json_execute_serialized_sql()`` run SQL built from strings, past every
check; DuckLake's maintenance and ``checkpoint()`` write). :func:`run_statement` runs one
checked statement under the statement timeout (``HK_PIPELINE_SQL_TIMEOUT``): DuckDB has none,
so a timer interrupts the connection. The sandbox does not spill to disk: DuckDB adds its
temporary folder to the folders a query may read and write, so the only temporary folder
outside every folder a query can reach is none (allowed: the data path, nothing else); a
query that outgrows the memory limit fails saying so.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import sqlalchemy

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.lake import LakeError, attach, extension_file, open_lake
from hk_pipeline.warehouse.storage_errors import one_line

READ_ONLY_PREFIX = "the lake is read-only here"
QUERY_TYPES = {
    duckdb.StatementType.SELECT: "SELECT",
    duckdb.StatementType.EXPLAIN: "EXPLAIN",
}
"""Statements ``hk-pipeline sql`` runs; SELECT covers WITH, FROM, VALUES, DESCRIBE, SHOW,
SUMMARIZE, PIVOT and the read-only PRAGMAs (DuckDB expands each into a SELECT)."""
QUERY_WORDS = "SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, read-only PRAGMAs"

READ_ONLY_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "functions",
        "metadata_info",
        "platform",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)
"""PRAGMAs that only describe (each expands to a SELECT over a catalog function). Every other
one is refused by name: ``import_database`` runs a folder's SQL files, ``copy_database``
copies, ``force_checkpoint`` writes, and ``PRAGMA name = value`` sets an option."""

SAFE_TABLE_FUNCTIONS = frozenset(
    {
        # generators
        "generate_series", "range", "repeat", "unnest",
        # files, confined to the data path by allowed_directories
        "glob", "parquet_bloom_probe", "parquet_file_metadata", "parquet_kv_metadata",
        "parquet_metadata", "parquet_scan", "parquet_schema", "read_blob", "read_csv",
        "read_csv_auto", "read_json", "read_json_auto", "read_json_objects",
        "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
        "read_parquet", "read_text", "sniff_csv",
        # JSON, statistics, names
        "json_each", "json_tree", "summary", "histogram", "histogram_values",
        "icu_calendar_names", "pg_timezone_names",
        # the catalog, described
        "duckdb_columns", "duckdb_constraints", "duckdb_databases", "duckdb_dependencies",
        "duckdb_extensions", "duckdb_functions", "duckdb_indexes", "duckdb_keywords",
        "duckdb_memory", "duckdb_optimizers", "duckdb_schemas", "duckdb_sequences",
        "duckdb_settings", "duckdb_tables", "duckdb_temporary_files", "duckdb_types",
        "duckdb_views",
        # what the read-only PRAGMAs expand to
        "pragma_collations", "pragma_database_list", "pragma_database_size",
        "pragma_metadata_info", "pragma_platform", "pragma_show", "pragma_storage_info",
        "pragma_table_info", "pragma_user_agent", "pragma_version",
        # the lake's history, read (also as lake.snapshots(), lake.table_info(), ...)
        "ducklake_current_snapshot", "ducklake_last_committed_snapshot", "ducklake_list_files",
        "ducklake_options", "ducklake_settings", "ducklake_snapshots", "ducklake_table_changes",
        "ducklake_table_deletions", "ducklake_table_info", "ducklake_table_insertions",
        "current_snapshot", "last_committed_snapshot", "options", "settings", "snapshots",
        "table_changes", "table_deletions", "table_info", "table_insertions",
    }
)  # fmt: skip
"""The table functions a sandboxed query may call; any other (every one DuckDB or an
extension adds, and DuckLake's ``lake.<name>()`` forms) is refused by name before it runs."""

SQL_MEMORY_VARIABLE = "HK_PIPELINE_SQL_MEMORY_LIMIT"
SQL_TIMEOUT_VARIABLE = "HK_PIPELINE_SQL_TIMEOUT"
DEFAULT_SQL_MEMORY_LIMIT = "2GB"
DEFAULT_SQL_TIMEOUT_SECONDS = 60.0
_MEMORY_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_IDENTIFIER = re.compile(r'^(?:"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*))')


@dataclass(frozen=True)
class QueryLimits:
    """What one ``hk-pipeline sql`` statement may use: DuckDB's ``memory_limit`` (the sandbox
    does not spill to disk: past it a query fails) and seconds (0: no limit)."""

    memory_limit: str = DEFAULT_SQL_MEMORY_LIMIT
    timeout_seconds: float = DEFAULT_SQL_TIMEOUT_SECONDS


class ReaderError(RuntimeError):
    """There is no lake yet, or a statement is not allowed for a reader, or it failed."""


def query_limits(environ: dict[str, str] | None = None) -> QueryLimits:
    """The limits of ``hk-pipeline sql`` from HK_PIPELINE_SQL_MEMORY_LIMIT (e.g. ``2GB``) and
    HK_PIPELINE_SQL_TIMEOUT (seconds, 0 for none); ReaderError naming the variable when one
    cannot be used."""
    env = os.environ if environ is None else environ
    memory = env.get(SQL_MEMORY_VARIABLE, "").strip() or DEFAULT_SQL_MEMORY_LIMIT
    if not _MEMORY_SIZE.match(memory):
        raise ReaderError(
            f"{SQL_MEMORY_VARIABLE}={memory!r} is not a memory size: give a number and a unit,"
            f" e.g. 2GB or 512MB (default {DEFAULT_SQL_MEMORY_LIMIT})"
        )
    raw = env.get(SQL_TIMEOUT_VARIABLE, "").strip() or str(DEFAULT_SQL_TIMEOUT_SECONDS)
    try:
        timeout = float(raw)
    except ValueError:
        timeout = float("nan")
    if not timeout >= 0 or timeout == float("inf"):  # also NaN
        raise ReaderError(
            f"{SQL_TIMEOUT_VARIABLE}={raw!r} is not a number of seconds: give e.g. 60, or 0 for"
            f" no limit (default {DEFAULT_SQL_TIMEOUT_SECONDS:g})"
        )
    return QueryLimits(memory_limit=memory, timeout_seconds=timeout)


def open_reader(
    settings: Settings,
    *,
    sandbox: bool = False,
    limits: QueryLimits | None = None,
    snapshot_version: int | None = None,
    snapshot_time: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with the lake attached as ``lake`` and in use.

    ``sandbox``: confined to the lake's data path, configuration locked, memory capped by
    ``limits`` (default :class:`QueryLimits`). Raises ReaderError when there is no lake yet or
    it cannot be opened (the message names the setting to fix).
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
            _sandbox(con, settings, limits or QueryLimits())
        except BaseException:
            con.close()
            raise
    return con


def _sandbox(con: duckdb.DuckDBPyConnection, settings: Settings, limits: QueryLimits) -> None:
    data_path = settings.lake_data_path
    try:
        con.execute(f"SET memory_limit = '{limits.memory_limit}'")
    except duckdb.Error as exc:
        raise ReaderError(f"{SQL_MEMORY_VARIABLE}={limits.memory_limit!r}: {_short(exc)}") from None
    # No spill folder: DuckDB would add it to allowed_directories (readable and writable by
    # every query of the connection), and it may sit anywhere TMPDIR points.
    con.execute("SET temp_directory = ''")
    allowed = data_path.replace("'", "''")
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


def _tokens(sql: str) -> list[tuple[str, str]]:
    """(kind, text) of each token: keyword, identifier (unquoted, lower case), operator or
    constant. A comment belongs to the token before it and is dropped from its text."""
    try:
        raw = duckdb.tokenize(sql)
    except (duckdb.Error, RuntimeError) as exc:
        raise ReaderError(one_line(str(exc))) from exc
    out = []
    for i, (start, kind) in enumerate(raw):
        end = raw[i + 1][0] if i + 1 < len(raw) else len(sql)
        text = sql[start:end].strip()
        name = kind.name
        if name in ("keyword", "identifier") and (match := _IDENTIFIER.match(text)):
            quoted, bare = match.groups()
            text = (quoted.replace('""', '"') if quoted is not None else bare).lower()
        elif name == "operator":
            text = text[:1]
        out.append((name, text))
    return out


def _statements(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    statements: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token == ("operator", ";"):
            statements.append([])
        else:
            statements[-1].append(token)
    return [st for st in statements if st]


def _check_pragmas(sql: str) -> None:
    """Refuse, before DuckDB parses anything (its parser runs ``PRAGMA import_database``'s
    files to expand it), PRAGMAs not known to be read-only and IMPORT DATABASE."""
    for statement in _statements(_tokens(sql)):
        words = [text for kind, text in statement if kind != "operator" or text != "("]
        while words and words[0] in ("explain", "analyze"):
            words = words[1:]
        if words and words[0] == "import":
            raise ReaderError(
                f"{READ_ONLY_PREFIX}: IMPORT DATABASE is not allowed (it runs a folder's SQL"
                " files); run queries only"
            )
        if words and words[0] == "pragma":
            name = words[1] if len(words) > 1 else ""
            if name not in READ_ONLY_PRAGMAS:
                raise ReaderError(
                    f"{READ_ONLY_PREFIX}: PRAGMA {name} is not allowed; the read-only PRAGMAs"
                    f" are {', '.join(sorted(READ_ONLY_PRAGMAS))}"
                )


def _check_calls(sql: str, unsafe: frozenset[str]) -> None:
    """Refuse calls of table functions outside :data:`SAFE_TABLE_FUNCTIONS` (any name
    followed by a parenthesis: quoted, commented or schema-qualified alike)."""
    tokens = _tokens(sql)
    for (kind, text), following in itertools.pairwise(tokens):
        if kind in ("keyword", "identifier") and following == ("operator", "(") and text in unsafe:
            raise ReaderError(
                f"{READ_ONLY_PREFIX}: {text}() is not allowed here (only table functions that"
                " read the lake or files under its data path are; this one writes, runs SQL"
                " from a string, or reads past the sandbox)"
            )


def _unsafe_table_functions(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Every table function this connection knows, and DuckLake's ``lake.<name>()`` form of
    its ``ducklake_<name>`` ones, less :data:`SAFE_TABLE_FUNCTIONS`."""
    rows = con.execute(
        "SELECT DISTINCT lower(function_name) FROM duckdb_functions()"
        " WHERE function_type IN ('table', 'table_macro')"
    ).fetchall()
    names = {name for (name,) in rows}
    names |= {name.removeprefix("ducklake_") for name in names if name.startswith("ducklake_")}
    return frozenset(names - SAFE_TABLE_FUNCTIONS)


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The statements of ``sql`` as text; ReaderError if one is not a query.

    EXPLAIN is allowed only over a query (EXPLAIN ANALYZE runs its statement). PRAGMAs only by
    name from :data:`READ_ONLY_PRAGMAS`, table functions only from
    :data:`SAFE_TABLE_FUNCTIONS`: checked on the text as given and again on what DuckDB
    expanded it to.
    """
    _check_pragmas(sql)
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise ReaderError(one_line(str(exc))) from exc
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
            verb = text.split(None, 1)[0].upper() if text else kind.name
            raise ReaderError(
                f"{READ_ONLY_PREFIX}: {verb} is not allowed; run queries only ({QUERY_WORDS})"
            )
        out.append(text)
    unsafe = _unsafe_table_functions(con)
    for text in (sql, *out):
        _check_calls(text, unsafe)
    return out


class _Deadline:
    """Interrupts ``con`` once ``seconds`` have passed, unless the statement ended first."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._con = con
        self._lock = threading.Lock()
        self._running = True
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire) if seconds > 0 else None

    def _fire(self) -> None:
        with self._lock:  # never interrupt after the statement ended: the next one would pay
            if self._running:
                self.fired = True
                self._con.interrupt()

    def __enter__(self) -> _Deadline:
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._running = False
        if self._timer is not None:
            self._timer.cancel()


def run_statement(
    con: duckdb.DuckDBPyConnection, text: str, limits: QueryLimits
) -> tuple[list[str], list[tuple]] | None:
    """Run one statement :func:`check_statements` passed: (columns, rows), or None when it
    returns no result. ReaderError saying which limit stopped it and which variable raises
    it, or what the error means for a reader."""
    deadline = _Deadline(con, limits.timeout_seconds)
    try:
        with deadline:
            con.execute(text)
            if con.description is None:
                return None
            return [d[0] for d in con.description], con.fetchall()
    except duckdb.InterruptException as exc:
        if not deadline.fired:
            raise ReaderError(explain_error(exc)) from None
        raise ReaderError(
            f"the query ran longer than {SQL_TIMEOUT_VARIABLE}={limits.timeout_seconds:g} s and"
            f" was stopped; narrow it (filter on trade_date, select fewer columns) or raise"
            f" {SQL_TIMEOUT_VARIABLE} (0: no limit)"
        ) from None
    except duckdb.OutOfMemoryException as exc:
        raise ReaderError(
            f"the query needs more memory than {SQL_MEMORY_VARIABLE}={limits.memory_limit}"
            f" allows ({_short(exc)}; hk-pipeline sql does not spill to disk); narrow it"
            f" (filter on trade_date, select fewer columns) or raise {SQL_MEMORY_VARIABLE}"
        ) from None
    except duckdb.Error as exc:
        raise ReaderError(explain_error(exc)) from None


def _short(exc: duckdb.Error) -> str:
    """DuckDB's message on one line, without its advice on settings a reader cannot change."""
    text = one_line(str(exc))
    for advice in (" Possible solutions:", " Database is launched in in-memory mode"):
        text = text.split(advice)[0]
    return text


def explain_error(exc: duckdb.Error) -> str:
    """DuckDB's message, with what it means for a reader of the lake."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.PermissionException):
        return f"only the lake's own files can be read here: {message}"
    if "read-only mode" in message:
        return f"{READ_ONLY_PREFIX}: {message}"
    return message
