"""Opening the warehouse file and applying the DDL in ``sql/ddl``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from hk_pipeline.faults import fault_point
from hk_pipeline.paths import DDL_DIR

THREADS = 2


def ddl_files(ddl_dir: Path = DDL_DIR) -> list[Path]:
    """The DDL files, in the sorted order they are applied."""
    files = sorted(ddl_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(
            f"no DDL files (*.sql) in {ddl_dir}; is the project checkout complete?"
        )
    return files


# Fingerprint of the DDL last applied to a warehouse file: a run opens the warehouse once per
# asset, and re-running every DDL file and comment each time cost ~40 ms an open.
FINGERPRINT_TABLE = "main._hk_ddl_fingerprint"


def _fingerprint(texts: list[str]) -> str:
    return hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()


def _applied_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(f"SELECT fingerprint FROM {FINGERPRINT_TABLE}").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def ensure_schema(con: duckdb.DuckDBPyConnection, ddl_dir: Path = DDL_DIR) -> None:
    """Create every schema and table of ``sql/ddl`` that is missing, in one transaction.

    The DDL is ``IF NOT EXISTS`` plus comments, so this is idempotent; it is skipped when the
    file already carries the fingerprint of the current DDL files.
    """
    files = ddl_files(ddl_dir)
    texts = [path.read_text(encoding="utf-8") for path in files]
    fingerprint = _fingerprint(texts)
    if _applied_fingerprint(con) == fingerprint:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        for path, text in zip(files, texts, strict=True):
            try:
                con.execute(text)
            except duckdb.Error as exc:
                raise RuntimeError(f"applying DDL {path} failed: {exc}") from exc
        fault_point("ddl.mid_transaction")
        con.execute(f"CREATE OR REPLACE TABLE {FINGERPRINT_TABLE} (fingerprint VARCHAR)")
        con.execute(f"INSERT INTO {FINGERPRINT_TABLE} VALUES (?)", [fingerprint])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def connect(
    path: Path, *, read_only: bool = False, memory_limit: str = "1GB"
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at ``path``.

    A writable connection creates the parent directory and applies the DDL; a read-only one
    requires the file to exist (DuckDB would otherwise fail with a less helpful message).
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise FileNotFoundError(
                f"warehouse {path} does not exist; run the pipeline first to create it"
            )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={"memory_limit": memory_limit, "threads": THREADS},
    )
    if not read_only:
        try:
            ensure_schema(con)
        except BaseException:
            con.close()
            raise
    return con
