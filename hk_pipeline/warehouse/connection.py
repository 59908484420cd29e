"""Opening the warehouse file and applying the DDL in ``sql/ddl``."""

from __future__ import annotations

from pathlib import Path

import duckdb

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


def ensure_schema(con: duckdb.DuckDBPyConnection, ddl_dir: Path = DDL_DIR) -> None:
    """Create every schema and table of ``sql/ddl`` that is missing, in one transaction.

    The DDL is ``IF NOT EXISTS`` plus comments, so this is idempotent and takes milliseconds.
    """
    files = ddl_files(ddl_dir)
    con.execute("BEGIN TRANSACTION")
    try:
        for path in files:
            try:
                con.execute(path.read_text(encoding="utf-8"))
            except duckdb.Error as exc:
                raise RuntimeError(f"applying DDL {path} failed: {exc}") from exc
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
