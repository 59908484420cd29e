"""Opening the lake: DuckDB with DuckLake, its catalog and its data path, from the settings.

One DuckLake holds every schema. Two settings say where, and nothing else changes between a
laptop and a team (``hk_pipeline.config``):

- the catalog: a SQLite file under the home by default (several processes may open it; a
  DuckDB-file catalog would admit one), or PostgreSQL (``HK_PIPELINE_CATALOG=postgres:...``);
- the data path: ``<home>/lake/`` by default, a shared folder, or ``s3://bucket/prefix``.

DuckDB's extensions come from their PyPI wheels and are loaded by path, never downloaded at
run time: no machine here reaches DuckDB's extension server, and many corporate ones do not.
Credentials (a catalog password, the S3 keys) are never part of a message this module raises.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from hk_pipeline.config import CATALOG_VARIABLE, DATA_PATH_VARIABLE, Settings
from hk_pipeline.faults import fault_point
from hk_pipeline.warehouse.storage_errors import diagnose, problem_kind, storage_problem, temp_root

LAKE = "lake"
"""The name the lake is attached under in every connection of the pipeline."""
THREADS = 2
CATALOG_EXTENSIONS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}
ATTACH_ATTEMPTS = 10
_CREATION_RACE = ("database is locked", "duplicate key", "already exists", "unique constraint")
_SECRET = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


class LakeError(RuntimeError):
    """The lake cannot be opened or written as configured; the message names the setting."""


def redact(text: str) -> str:
    """``text`` with libpq passwords and URL passwords replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***\3", _SECRET.sub(r"\1***", text))


def extension_file(name: str) -> Path:
    """The ``.duckdb_extension`` file of ``duckdb-extension-<name>`` for this duckdb version."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(
            f"the DuckDB extension package {package.replace('_', '-')} is not installed;"
            " run `make install` (it installs requirements.lock)"
        )
    base = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    path = base / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        found = sorted(p.name for p in base.iterdir()) if base.is_dir() else []
        raise LakeError(
            f"{package.replace('_', '-')} has no build for duckdb {duckdb.__version__}"
            f" (it has {', '.join(found) or 'none'}); install matching versions from"
            " requirements.lock"
        )
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD an extension from its wheel's file (no INSTALL, no download)."""
    con.execute(f"LOAD '{_lit(str(extension_file(name)))}'")


def _lit(text: str) -> str:
    return text.replace("'", "''")


def catalog_kind(settings: Settings) -> str:
    return "postgres" if settings.catalog_is_postgres else "sqlite"


CATALOG_LOCK_TIMEOUT = "60s"
"""How long a statement on a PostgreSQL catalog waits for a row lock before it gives up.

A DuckLake commit holds its catalog locks for milliseconds; a wait of a minute means the
holder is stuck (a process stopped half-way, a session left open by a tool). PostgreSQL's
default is to wait for ever, which hangs every writer behind it; with a timeout the waiting
commit fails, changes nothing, and the write is retried (tx.RETRYABLE)."""


def _with_lock_timeout(dsn: str) -> str:
    """The libpq string with ``options='-c lock_timeout=...'`` unless it sets options itself
    (then the user's options stand)."""
    if "options=" in dsn.replace(" ", ""):
        return dsn
    if dsn.startswith(("postgresql://", "postgres://")):  # the URI form takes a parameter
        joiner = "&" if "?" in dsn else "?"
        return f"{dsn}{joiner}options=-c%20lock_timeout%3D{CATALOG_LOCK_TIMEOUT}"
    return f"{dsn} options='-c lock_timeout={CATALOG_LOCK_TIMEOUT}'"


def attach_target(settings: Settings) -> str:
    """``ducklake:sqlite:<file>`` or ``ducklake:postgres:<libpq string>`` (may hold a secret)."""
    if settings.catalog_is_postgres:
        kind, _, dsn = settings.catalog.partition(":")
        return f"ducklake:{kind}:{_with_lock_timeout(dsn)}"
    return f"ducklake:sqlite:{settings.catalog_path}"


def describe_catalog(settings: Settings) -> str:
    """Where the catalog is, for messages and the UI: never a password."""
    if settings.catalog_is_postgres:
        return redact(settings.catalog)
    return f"sqlite:{settings.catalog_path}"


def spill_directory() -> Path:
    """A folder of one connection's own for DuckDB's spill files, under ``TMPDIR``.

    DuckDB's default for an in-memory database is ``.tmp`` in the working directory: the
    project folder, or wherever a command was started, possibly inside the lake's data path
    (which analysts may read) or on a read-only disk. The folder is not created here: DuckDB
    creates it at the first spill and removes it when the connection closes. One per
    connection, as DuckDB names its spill files the same in every process.
    """
    return temp_root() / f"hk_pipeline-duckdb-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def new_connection(memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with DuckLake loaded, automatic extension downloads off and its
    spill files under ``TMPDIR`` (:func:`spill_directory`)."""
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "threads": THREADS,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "temp_directory": str(spill_directory()),
        }
    )
    try:
        load_extension(con, "ducklake")
    except BaseException:
        con.close()
        raise
    return con


def _s3_secret(con: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """A DuckDB secret for ``s3://`` from the standard AWS_* variables (never logged)."""
    load_extension(con, "httpfs")
    env = os.environ
    options = ["TYPE s3", f"SCOPE 's3://{_lit(urlsplit(data_path).netloc)}'"]
    if env.get("AWS_ACCESS_KEY_ID"):
        options.append(f"KEY_ID '{_lit(env['AWS_ACCESS_KEY_ID'])}'")
        options.append(f"SECRET '{_lit(env.get('AWS_SECRET_ACCESS_KEY', ''))}'")
    if env.get("AWS_SESSION_TOKEN"):
        options.append(f"SESSION_TOKEN '{_lit(env['AWS_SESSION_TOKEN'])}'")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    options.append(f"REGION '{_lit(region)}'")
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip()
    if endpoint:
        # A non-AWS server (MinIO, Ceph, moto...): path-style URLs, TLS as its URL says.
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        options.append(f"ENDPOINT '{_lit(parts.netloc)}'")
        options.append("URL_STYLE 'path'")
        options.append(f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}")
    # A Parquet upload to a busy server can take longer than DuckDB's 30 s default: a timeout
    # fails the whole write (seen with a loaded S3 server). Wait longer, retry more, back off.
    con.execute("SET http_timeout = 120")
    con.execute("SET http_retries = 5")
    con.execute("SET http_retry_wait_ms = 500")
    try:
        con.execute(f"CREATE OR REPLACE SECRET hk_lake_s3 ({', '.join(options)})")
    except duckdb.Error as exc:
        raise LakeError(
            "cannot create the S3 secret from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,"
            f" AWS_REGION and AWS_ENDPOINT_URL: {type(exc).__name__}"
        ) from None


def _check_local_data_path(path: str) -> None:
    """A writer's local data folder must exist (or be creatable) and be writable."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LakeError(
            f"{DATA_PATH_VARIABLE}: cannot create the lake's data folder {folder}:"
            f" {exc.strerror}; point {DATA_PATH_VARIABLE} at a writable folder"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        found = diagnose(folder)
        why = found[1] if found is not None else "this user may not write to it"
        raise LakeError(
            f"{DATA_PATH_VARIABLE}: the lake's data folder {folder} is not writable ({why});"
            f" make it writable (remount it read-write, or fix its permissions) or point"
            f" {DATA_PATH_VARIABLE} elsewhere; nothing was written"
        )


def _create_sqlite_catalog(settings: Settings) -> None:
    """Create the SQLite catalog file in WAL mode (kept in the file); DuckLake fills it.

    In SQLite's default rollback-journal mode a reader's open transaction holds a shared lock
    that stops every writer from committing ("database is locked"): an analyst holding a
    snapshot would block the scheduled run. In WAL mode readers never block the writer.
    Only a new file is touched here: Python's sqlite3 is another SQLite library than the
    extension's, and two in one process must not both hold the file (closing one drops the
    other's POSIX locks).
    """
    path = settings.catalog_path
    try:
        with closing(sqlite3.connect(path, timeout=10)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        storage = storage_problem(exc, settings, path=path, undone="nothing was written")
        if storage is not None:
            raise LakeError(storage) from None
        raise LakeError(
            f"{CATALOG_VARIABLE}: cannot open the SQLite catalog {path}: {exc}; nothing was written"
        ) from None


def _explain_attach_error(settings: Settings, exc: duckdb.Error) -> str:
    message = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    where = describe_catalog(settings)
    low = message.lower()
    if "no snapshot found" in low:
        return (
            f"the lake has no such snapshot ({message.split('Error: ')[-1]}); list them with"
            ' `hk-pipeline sql "FROM lake.snapshots()"`'
        )
    if "version mismatch" in low or "newer" in low or "migrate" in low:
        return (
            f"the lake's catalog ({where}) was written by another DuckLake version: {message}."
            " Use the duckdb and duckdb-extension-ducklake versions of requirements.lock"
            " (or newer ones that know this catalog); nothing was written"
        )
    if not settings.catalog_is_postgres and problem_kind(exc) is not None:
        # the disk under the catalog refused (full, ulimit -f, read-only): not the setting
        storage = storage_problem(exc, settings, undone="nothing was written")
        if storage is not None:
            return storage
    if settings.catalog_is_postgres:
        return (
            f"{CATALOG_VARIABLE}: cannot open the PostgreSQL catalog {where}: {message}. Check"
            f" the host, port, database, user and password in {CATALOG_VARIABLE}; nothing was"
            " written"
        )
    return (
        f"{CATALOG_VARIABLE}: cannot open the SQLite catalog {settings.catalog_path}:"
        f" {message}; nothing was written"
    )


def attach(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    read_only: bool = False,
    alias: str = LAKE,
    snapshot_version: int | None = None,
    snapshot_time: str | None = None,
) -> None:
    """ATTACH the lake as ``alias`` on ``con`` and make it the default database.

    Readers (``read_only``) see one snapshot per transaction; ``snapshot_version`` or
    ``snapshot_time`` pins an older one (time travel). Raises LakeError naming the setting
    to fix when the catalog cannot be reached, is missing (readers) or is too new.
    """
    kind = catalog_kind(settings)
    load_extension(con, CATALOG_EXTENSIONS[kind])
    if kind == "sqlite":
        # DuckLake reads its SQLite catalog with whole-table scans, several per statement;
        # splitting each tiny scan over threads cost more than it saved (a partition's
        # DELETE or SELECT took 40 ms with threaded scans, 21 ms without, on 342 files).
        con.execute("SET sqlite_disable_multithreaded_scans = true")
    data_path = settings.lake_data_path
    if data_path.startswith("s3://"):
        _s3_secret(con, data_path)
    elif not read_only:
        _check_local_data_path(data_path)
    if kind == "sqlite":
        if read_only and not settings.catalog_path.exists():
            raise LakeError(
                f"no lake at {settings.catalog_path} yet: run the pipeline first (e.g."
                " `hk-pipeline run --date 2025-11-21 --snapshot midday`)"
            )
        settings.catalog_path.parent.mkdir(parents=True, exist_ok=True)
        if not read_only and not settings.catalog_path.exists():
            _create_sqlite_catalog(settings)
    # The setting is authoritative, not the path the catalog was created with: a home that
    # was moved or restored elsewhere opens with its files where they now are.
    options = [f"DATA_PATH '{_lit(data_path)}'", "OVERRIDE_DATA_PATH true"]
    if read_only:
        options.append("READ_ONLY")
    if snapshot_version is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot_version)}")
    if snapshot_time is not None:
        options.append(f"SNAPSHOT_TIME '{_lit(snapshot_time)}'")
    statement = f"ATTACH '{_lit(attach_target(settings))}' AS {alias} ({', '.join(options)})"
    for attempt in range(ATTACH_ATTEMPTS):
        try:
            con.execute(statement)
            break
        except duckdb.Error as exc:
            # Writers that open a new lake at once race to create DuckLake's catalog tables
            # ("database is locked", or PostgreSQL's duplicate key): the loser tries again
            # and finds them made.
            racing = any(text in str(exc).lower() for text in _CREATION_RACE)
            if read_only or not racing or attempt == ATTACH_ATTEMPTS - 1:
                raise LakeError(_explain_attach_error(settings, exc)) from None
            time.sleep(0.2 * (attempt + 1))
    con.execute(f"USE {alias}")
    if not read_only:
        fault_point("lake.attached")


def open_lake(
    settings: Settings,
    *,
    read_only: bool = False,
    snapshot_version: int | None = None,
    snapshot_time: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection with the lake attached as ``lake`` and in use."""
    con = new_connection(settings.duckdb_memory_limit)
    try:
        attach(
            con,
            settings,
            read_only=read_only,
            snapshot_version=snapshot_version,
            snapshot_time=snapshot_time,
        )
    except BaseException:
        con.close()
        raise
    return con
