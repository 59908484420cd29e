"""Publishing the warehouse for readers: versioned Parquet plus a catalogue of views.

DuckDB lets one process write a file or many read it, so analysts never open
``warehouse.duckdb``. At the end of each run the pipeline publishes into
``$HK_PIPELINE_HOME/published/``::

    published/
      analyst.duckdb                 the current catalogue (a copy, replaced atomically)
      v000042/
        manifest.json                what this version holds (files per table)
        analyst.duckdb               views over this version's files only
        raw/quotes/2025-11-21_midday.parquet      one file per (trade_date, snapshot)
        ref/securities.parquet                     effective-dated tables: one file

A new version hard-links every unchanged file of the previous one and exports only the
partitions the run wrote (plus the small effective-dated tables), so publishing costs the
run's own partition, not the warehouse's size. A version directory never changes once
renamed into place; the catalogue is written with ``STORAGE_VERSION 'v1.4.0'`` so DuckDB 1.4
and 1.5 clients open it. Swapping ``published/analyst.duckdb`` with ``os.replace`` is atomic:
a new connection sees the new version, an open one keeps its own (whose files stay until
garbage collection, which spares the newest versions and any superseded only recently).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from hk_pipeline.faults import fault_point
from hk_pipeline.paths import VIEWS_DIR
from hk_pipeline.warehouse.catalog import list_tables, split_name
from hk_pipeline.warehouse.catalogue_doc import (
    header_column_docs,
    header_description,
    header_lines,
)
from hk_pipeline.warehouse.tx import transaction as _transaction

CATALOGUE_NAME = "analyst.duckdb"
MANIFEST_NAME = "manifest.json"
STORAGE_VERSION = "v1.4.0"
"""Oldest DuckDB storage format the analysts' clients must read (the 1.5 CLI reads 64-68)."""
PARTITION_COLUMNS = ("trade_date", "snapshot")
VIEWS_SCHEMA = "views"
META_SCHEMA = "meta"
READ_ONLY_MODE = 0o444
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"
"""COPY options of every published file. zstd level 1 rather than the default 3: publishing
is dominated by encoding raw.intraday_bars, and level 1 costs ~15% less CPU there while the
files come out ~5% smaller and read as fast (dictionaries and bloom filters are kept; turning
dictionaries off was cheaper still but made GROUP BY symbol over the files 2.5x slower)."""
_LOCK_NAME = ".publish.lock"
_PARTIAL = ".partial"


class PublishError(RuntimeError):
    """Publishing failed; the previous version stays current."""


@dataclass(frozen=True)
class PublishPolicy:
    """How many superseded versions to keep, and for how long, for readers still on them."""

    keep_versions: int = 3
    grace_seconds: float = 600.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PublishPolicy:
        """``HK_PIPELINE_PUBLISH_KEEP`` and ``HK_PIPELINE_PUBLISH_GRACE_SECONDS``."""
        env = os.environ if environ is None else environ
        raw_keep = env.get("HK_PIPELINE_PUBLISH_KEEP", "3")
        raw_grace = env.get("HK_PIPELINE_PUBLISH_GRACE_SECONDS", "600")
        try:
            keep, grace = int(raw_keep), float(raw_grace)
        except ValueError as exc:
            raise ValueError(
                f"HK_PIPELINE_PUBLISH_KEEP={raw_keep!r} must be an integer and"
                f" HK_PIPELINE_PUBLISH_GRACE_SECONDS={raw_grace!r} a number"
            ) from exc
        if keep < 1 or grace < 0:
            raise ValueError(
                f"HK_PIPELINE_PUBLISH_KEEP={keep} must be >= 1 and"
                f" HK_PIPELINE_PUBLISH_GRACE_SECONDS={grace} >= 0"
            )
        return cls(keep_versions=keep, grace_seconds=grace)


@dataclass
class PublishResult:
    version: int
    directory: Path
    catalogue: Path
    exported: int = 0
    linked: int = 0
    copied: int = 0
    files: int = 0
    removed_versions: list[int] = field(default_factory=list)
    skipped_views: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Table:
    name: str  # schema.table
    columns: tuple[tuple[str, str, str], ...]  # (column, type, comment)
    comment: str

    @property
    def partitioned(self) -> bool:
        names = {c[0] for c in self.columns}
        return all(c in names for c in PARTITION_COLUMNS)

    @property
    def rel_dir(self) -> str:
        schema, table = split_name(self.name)
        return f"{schema}/{table}"


def published_dir(home: Path) -> Path:
    """Where versions and the current catalogue live: ``<home>/published``."""
    return Path(home) / "published"


def version_name(n: int) -> str:
    return f"v{n:06d}"


def _version_number(path: Path) -> int | None:
    name = path.name.removesuffix(_PARTIAL)
    if name.startswith(".") or not name.startswith("v") or not name[1:].isdigit():
        return None
    return int(name[1:])


def versions(published: Path) -> list[tuple[int, Path]]:
    """Complete versions (renamed into place, with a manifest), oldest first."""
    if not published.is_dir():
        return []
    out = []
    for path in published.iterdir():
        n = _version_number(path)
        if n is not None and path.name == version_name(n) and (path / MANIFEST_NAME).exists():
            out.append((n, path))
    return sorted(out)


def read_manifest(version_dir: Path) -> dict:
    return json.loads((version_dir / MANIFEST_NAME).read_text(encoding="utf-8"))


@contextmanager
def _publish_lock(published: Path) -> Iterator[None]:
    """One publisher at a time (two processes could otherwise build on the same version)."""
    fd = os.open(published / _LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _describe(con: duckdb.DuckDBPyConnection, name: str) -> _Table:
    schema, table = split_name(name)
    cols = con.execute(
        """
        SELECT column_name, data_type, coalesce(comment, '') FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        ORDER BY column_index
        """,
        [schema, table],
    ).fetchall()
    comment = con.execute(
        """
        SELECT coalesce(comment, '') FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        """,
        [schema, table],
    ).fetchall()[0][0]
    return _Table(name=name, columns=tuple(cols), comment=comment)


def partition_file(table: _Table, trade_date: date, snapshot: str) -> str:
    """Relative path of one partition's file: ``raw/quotes/2025-11-21_midday.parquet``."""
    return f"{table.rel_dir}/{trade_date.isoformat()}_{snapshot}.parquet"


def _export(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    rel: str,
    select: str,
    params: list[object],
) -> bool:
    """COPY ``select`` to ``staging/rel`` via a temporary name; False (no file) if no rows."""
    target = staging / rel
    tmp = staging / f".export.{uuid.uuid4().hex}.tmp"
    rows = con.execute(
        f"COPY ({select}) TO {_lit(str(tmp))} ({PARQUET_OPTIONS})", params
    ).fetchall()[0][0]
    if not rows:
        tmp.unlink(missing_ok=True)
        return False
    os.chmod(tmp, READ_ONLY_MODE)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tmp, target)
    return True


def _link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` to ``dst``; copy when the filesystem cannot link. True if linked."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    shutil.copy2(src, dst)
    return False


def _partitions(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[date, str]]:
    return [
        (r[0], r[1])
        for r in con.execute(
            f"SELECT DISTINCT trade_date, snapshot FROM {table} ORDER BY 1, 2"
        ).fetchall()
    ]


def _partitions_with_rows(
    con: duckdb.DuckDBPyConnection, table: str, wanted: list[tuple[date, str]]
) -> list[tuple[date, str]]:
    """The partitions of ``wanted`` that hold rows in ``table``, in ``wanted``'s order.

    One query per table instead of a COPY per empty partition: a COPY that writes nothing
    still costs ~1.5 ms, and about half of the tables (quarantine, unused raw tables) are
    empty for a whole run. Bounding by the run's dates lets DuckDB skip other row groups.
    """
    if not wanted:
        return []
    present = {
        (r[0], r[1])
        for r in con.execute(
            f"SELECT DISTINCT trade_date, snapshot FROM {table} WHERE trade_date BETWEEN ? AND ?",
            [min(d for d, _ in wanted), max(d for d, _ in wanted)],
        ).fetchall()
    }
    return [p for p in wanted if p in present]


def _table_files(
    con: duckdb.DuckDBPyConnection,
    table: _Table,
    staging: Path,
    previous: tuple[Path, dict] | None,
    run_partitions: list[tuple[date, str]],
    full: bool,
    result: PublishResult,
) -> list[str]:
    """Write (export or link) ``table``'s files into ``staging``; their relative paths."""
    if not table.partitioned:
        rel = f"{table.rel_dir}.parquet"
        exported = _export(con, staging, rel, f"SELECT * FROM {table.name}", [])
        result.exported += exported
        return [rel] if exported else []
    prev_files = None
    if previous is not None and not full and _same_columns(previous[1], table):
        prev_files = previous[1]["tables"].get(table.name)
    if prev_files is None:
        # first publish of this table, or its columns changed: everything, so that every
        # file of a table has the same columns and views need not union them by name
        to_export = _partitions(con, table.name)
        kept: list[str] = []
    else:
        to_export = _partitions_with_rows(con, table.name, run_partitions)
        replaced = {partition_file(table, d, s) for d, s in run_partitions}
        kept = [f for f in prev_files if f not in replaced]
    files = []
    for rel in kept:
        if _link(previous[0] / rel, staging / rel):  # type: ignore[index]
            result.linked += 1
        else:
            result.copied += 1
        files.append(rel)
    for d, s in to_export:
        rel = partition_file(table, d, s)
        select = f"SELECT * FROM {table.name} WHERE trade_date = ? AND snapshot = ?"
        if _export(con, staging, rel, select, [d, s]):
            result.exported += 1
            files.append(rel)
    return sorted(files)


def _columns(table: _Table) -> list[list[str]]:
    """The table's [column, type] pairs, as the manifest records them."""
    return [[c, t] for c, t, _ in table.columns]


def _same_columns(manifest: dict, table: _Table) -> bool:
    """True if the previous version's files of ``table`` have its current columns (a
    manifest from before columns were recorded counts as different: exported again once)."""
    return manifest.get("columns", {}).get(table.name) == _columns(table)


def _view_select(table: _Table, final_dir: Path, files: list[str]) -> str:
    """The view over the version's files, with the warehouse's column names and types.

    A glob is safe: the version directory never changes after it is published. Every file
    of a table has the same columns (a table whose columns changed is exported whole), so
    the files are not unioned by name: ``union_by_name`` reads every file's footer when a
    view is bound, which doubled the time of a view over a year's ~490 files. A table
    without rows gets an empty SELECT of the right shape.
    """
    cols = ", ".join(f"CAST({_q(c)} AS {t}) AS {_q(c)}" for c, t, _ in table.columns)
    if not files:
        nulls = ", ".join(f"CAST(NULL AS {t}) AS {_q(c)}" for c, t, _ in table.columns)
        return f"SELECT {nulls} WHERE false"
    if table.partitioned:
        source = f"{final_dir}/{table.rel_dir}/*.parquet"
    else:
        source = f"{final_dir}/{files[0]}"
    return f"SELECT {cols} FROM read_parquet({_lit(source)})"


def view_files(views_dir: Path = VIEWS_DIR) -> list[Path]:
    """``sql/views/views.<name>.sql``, sorted."""
    return sorted(views_dir.glob(f"{VIEWS_SCHEMA}.*.sql"))


def _comment(con: duckdb.DuckDBPyConnection, target: str, text: str) -> None:
    if text:
        con.execute(f"COMMENT ON {target} IS {_lit(text)}")


def _build_catalogue(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    final_dir: Path,
    tables: list[tuple[_Table, list[str]]],
    meta: dict[str, object],
    result: PublishResult,
) -> None:
    """Create ``path`` in the 1.4 storage format: views over the files, analyst views,
    ``meta.publication``, and COMMENT ON for every view and column."""
    alias = f"_hk_catalogue_{uuid.uuid4().hex[:12]}"
    home_db = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"ATTACH {_lit(str(path))} AS {alias} (STORAGE_VERSION {_lit(STORAGE_VERSION)})")
    try:
        con.execute(f"USE {alias}")
        with _transaction(con):  # one commit, not one per COMMENT ON
            for schema in sorted({split_name(t.name)[0] for t, _ in tables} | {META_SCHEMA}):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
            for table, files in tables:
                select = _view_select(table, final_dir, files)
                con.execute(f"CREATE VIEW {table.name} AS {select}")
                _comment(con, f"VIEW {table.name}", table.comment)
                for column, _, text in table.columns:
                    _comment(con, f"COLUMN {table.name}.{_q(column)}", text)
            _create_meta(con, meta)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {VIEWS_SCHEMA}")
        for sql_file in view_files():
            _create_analyst_view(con, sql_file, result)
    finally:
        con.execute(f"USE {_q(home_db)}")
        con.execute(f"DETACH {alias}")


META_COLUMNS = {
    "version": ("INTEGER", "Number of this published version (v000042 is 42)."),
    "published_at": ("TIMESTAMPTZ", "When this version was published (end of the run)."),
    "directory": ("VARCHAR", "Directory holding this version's Parquet files."),
    "latest_partition": (
        "VARCHAR",
        "Latest (trading day|snapshot) in raw.quotes of this version, e.g. 2025-11-21|close.",
    ),
    "partitions": ("INTEGER", "Number of (trading day, snapshot) partitions in raw.quotes."),
}


def _create_meta(con: duckdb.DuckDBPyConnection, meta: dict[str, object]) -> None:
    def value(col: str, dtype: str) -> str:
        v = meta.get(col)
        return f"CAST(NULL AS {dtype})" if v is None else f"CAST({_lit(str(v))} AS {dtype})"

    cols = ", ".join(f"{value(c, t)} AS {c}" for c, (t, _) in META_COLUMNS.items())
    con.execute(f"CREATE VIEW {META_SCHEMA}.publication AS SELECT {cols}")
    _comment(
        con,
        f"VIEW {META_SCHEMA}.publication",
        "One row: which version of the warehouse this catalogue shows and how fresh it is.",
    )
    for column, (_, text) in META_COLUMNS.items():
        _comment(con, f"COLUMN {META_SCHEMA}.publication.{column}", text)


def _create_analyst_view(
    con: duckdb.DuckDBPyConnection, sql_file: Path, result: PublishResult
) -> None:
    """CREATE VIEW from one ``sql/views`` file; a failing view is skipped and reported
    (publishing the data must not depend on an analyst view)."""
    name = sql_file.stem
    sql = sql_file.read_text(encoding="utf-8").strip().rstrip(";")
    try:
        con.execute(f"EXPLAIN SELECT * FROM (\n{sql}\n)")  # binds it, outside a transaction
    except duckdb.Error as exc:
        result.skipped_views[name] = f"{sql_file}: {exc}"
        return
    with _transaction(con):
        con.execute(f"CREATE VIEW {name} AS\n{sql}")
        _document_view(con, name, sql)


def _document_view(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    _comment(con, f"VIEW {name}", header_description(sql, name))
    docs = header_column_docs(sql)
    inherited: dict[str, str] = {}
    for source in reversed(header_sources(sql)):  # the first listed source wins
        inherited.update(_column_comments(con, source))
    for column in _column_comments(con, name):
        _comment(con, f"COLUMN {name}.{_q(column)}", docs.get(column) or inherited.get(column, ""))


def header_sources(sql: str) -> list[str]:
    """Tables named on the header's ``from:`` line; undocumented columns take their comments."""
    for line in header_lines(sql):
        key, sep, rest = line.strip().partition(":")
        if sep and key == "from":
            return [t.strip() for t in rest.split(",") if t.strip()]
    return []


def _column_comments(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    schema, table = split_name(name)
    rows = con.execute(
        """
        SELECT column_name, coalesce(comment, '') FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        ORDER BY column_index
        """,
        [schema, table],
    ).fetchall()
    return dict(rows)


def _swap_pointer(published: Path, catalogue: Path) -> Path:
    """Replace ``published/analyst.duckdb`` with a copy of ``catalogue``, atomically."""
    pointer = published / CATALOGUE_NAME
    tmp = published / f".{CATALOGUE_NAME}.{uuid.uuid4().hex}.tmp"
    shutil.copyfile(catalogue, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, READ_ONLY_MODE)
    fault_point("publish.pointer_copied")
    os.replace(tmp, pointer)
    return pointer


def collect_garbage(published: Path, policy: PublishPolicy, now: float | None = None) -> list[int]:
    """Delete superseded versions no reader should still be on; their numbers.

    Kept: the newest ``keep_versions``, and every version superseded less than
    ``grace_seconds`` ago (a reader that opened it just before the swap keeps its files).
    Leftovers of crashed publishes (no manifest) are removed too: the caller holds the
    publish lock, so no other publish is building one.
    """
    now = time.time() if now is None else now
    done = versions(published)
    removed = []
    for i, (n, path) in enumerate(done[: max(0, len(done) - policy.keep_versions)]):
        successor = done[i + 1][1]
        superseded_at = (successor / MANIFEST_NAME).stat().st_mtime
        if now - superseded_at >= policy.grace_seconds:
            shutil.rmtree(path)
            removed.append(n)
    complete = {path for _, path in done}
    for path in published.iterdir():
        if _version_number(path) is not None and path not in complete:
            shutil.rmtree(path, ignore_errors=True)  # a crashed publish's leftovers
    for tmp in published.glob(f".{CATALOGUE_NAME}.*.tmp"):  # a pointer copy a crash left
        tmp.unlink(missing_ok=True)
    return removed


def publish(
    con: duckdb.DuckDBPyConnection,
    published: Path,
    partitions: Iterable[tuple[date, str]],
    *,
    policy: PublishPolicy | None = None,
    full: bool = False,
) -> PublishResult:
    """Publish a new version: ``partitions`` (the run's) re-exported, the rest linked.

    ``con`` is the pipeline's own (writing) connection to the warehouse; nothing in it
    changes. ``full`` re-exports every partition (after a publish was missed, or to rebuild).
    Tables new since the previous version are exported whole. Returns what was done.
    """
    policy = policy or PublishPolicy()
    started = time.perf_counter()
    run_partitions = sorted(set(partitions))
    published = Path(published).resolve()
    published.mkdir(parents=True, exist_ok=True)
    with _publish_lock(published):
        done = versions(published)
        previous = (done[-1][1], read_manifest(done[-1][1])) if done else None
        numbers = [n for p in published.iterdir() if (n := _version_number(p)) is not None]
        number = max(numbers, default=0) + 1
        final_dir = published / version_name(number)
        staging = published / f"{version_name(number)}{_PARTIAL}"
        staging.mkdir()
        result = PublishResult(
            version=number, directory=final_dir, catalogue=published / CATALOGUE_NAME
        )
        try:
            t0 = time.perf_counter()
            tables = [_describe(con, t) for t in list_tables(con)]
            written = [
                (t, _table_files(con, t, staging, previous, run_partitions, full, result))
                for t in tables
            ]
            result.files = sum(len(f) for _, f in written)
            t1 = time.perf_counter()
            manifest = _manifest(number, previous, written, result)
            meta = {
                "version": number,
                "published_at": manifest["published_at"],
                "directory": str(final_dir),
                **_freshness(written),
            }
            # Views are bound when created, so the files must be at their final paths first;
            # the directory counts as a version only once its manifest is written.
            fault_point("publish.exported")
            os.rename(staging, final_dir)
            staging = final_dir
            fault_point("publish.version_renamed")
            _build_catalogue(con, final_dir / CATALOGUE_NAME, final_dir, written, meta, result)
            os.chmod(final_dir / CATALOGUE_NAME, READ_ONLY_MODE)
            (final_dir / MANIFEST_NAME).write_text(
                json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8"
            )
            t2 = time.perf_counter()
            fault_point("publish.catalogue_written")
            _swap_pointer(published, final_dir / CATALOGUE_NAME)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fault_point("publish.swapped")
        result.removed_versions = collect_garbage(published, policy)
        fault_point("publish.collected")
        t3 = time.perf_counter()
    result.seconds = {
        "files": round(t1 - t0, 4),
        "catalogue": round(t2 - t1, 4),
        "swap_and_gc": round(t3 - t2, 4),
        "total": round(t3 - started, 4),
    }
    return result


def _manifest(
    number: int,
    previous: tuple[Path, dict] | None,
    written: list[tuple[_Table, list[str]]],
    result: PublishResult,
) -> dict:
    return {
        "version": number,
        "previous": previous[1]["version"] if previous else None,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {t.name: files for t, files in written},
        "columns": {t.name: _columns(t) for t, _ in written},
        "exported": result.exported,
        "linked": result.linked,
        "copied": result.copied,
    }


def _freshness(written: list[tuple[_Table, list[str]]]) -> dict[str, object]:
    """Latest partition and partition count of raw.quotes, from its file names."""
    files = next((f for t, f in written if t.name == "raw.quotes"), [])
    keys = sorted(
        (date.fromisoformat(stem[:10]), stem[11:]) for stem in (Path(f).stem for f in files)
    )
    if not keys:
        return {"latest_partition": None, "partitions": 0}
    order = {"midday": 0, "close": 1}
    d, s = max(keys, key=lambda k: (k[0], order.get(k[1], 2)))
    return {"latest_partition": f"{d.isoformat()}|{s}", "partitions": len(keys)}
