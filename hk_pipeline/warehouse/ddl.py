"""The DDL of ``sql/ddl``: one file per table, applied as written (no lake specifics)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from hk_pipeline.paths import DDL_DIR


def ddl_files(ddl_dir: Path = DDL_DIR) -> list[Path]:
    """The DDL files, in the sorted order they are applied."""
    files = sorted(ddl_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(
            f"no DDL files (*.sql) in {ddl_dir}; is the project checkout complete?"
        )
    return files


def apply_ddl(con: duckdb.DuckDBPyConnection, ddl_dir: Path = DDL_DIR) -> None:
    """Run every DDL file on ``con`` (``IF NOT EXISTS`` plus comments: idempotent)."""
    for path in ddl_files(ddl_dir):
        try:
            con.execute(path.read_text(encoding="utf-8"))
        except duckdb.Error as exc:
            raise RuntimeError(f"applying DDL {path} failed: {exc}") from exc
