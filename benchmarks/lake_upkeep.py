"""The lake's files before and after the upkeep, as the lake counts them and as the disk does.

    HK_PIPELINE_HOME=/tmp/x python -m benchmarks.lake_upkeep [--retention-days 0]

Runs what ``hk-pipeline upkeep --retention-days N`` runs (``connect(settings)`` then
``upkeep(con, retention_days=N)``) and prints one line of ``key=value`` fields: the lake's
own counts before and after (``live_files``, ``live_bytes``: files the current snapshot
references; ``tracked_files``, ``tracked_bytes``: every file the catalog still tracks, those
kept for time travel included), what a user sees under the data folder (``disk_files``,
``disk_bytes``, by os.walk; -1 for an s3:// data path), the size of the SQLite catalog
(``catalog_bytes``; -1 for PostgreSQL) and ``upkeep_seconds`` (the upkeep call alone,
after imports and connecting).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from hk_pipeline.config import Settings, load_settings
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.upkeep import FileStats, upkeep


def disk_usage(settings: Settings) -> tuple[int, int]:
    """(files, bytes) under the local data path; (-1, -1) for an object store."""
    if "://" in settings.lake_data_path:
        return -1, -1
    files = size = 0
    for folder, _dirs, names in os.walk(settings.lake_data_path):
        for name in names:
            try:
                size += os.stat(os.path.join(folder, name)).st_size
            except FileNotFoundError:  # removed while walking
                continue
            files += 1
    return files, size


def catalog_bytes(settings: Settings) -> int:
    if settings.catalog_is_postgres:
        return -1
    path = settings.catalog_path
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def fields(prefix: str, stats: FileStats, disk: tuple[int, int], catalog: int) -> list[str]:
    values = {
        "live_files": stats.live_files,
        "live_bytes": stats.live_bytes,
        "tracked_files": stats.tracked_files,
        "tracked_bytes": stats.tracked_bytes,
        "disk_files": disk[0],
        "disk_bytes": disk[1],
        "catalog_bytes": catalog,
    }
    return [f"{prefix}_{k}={v}" for k, v in values.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retention-days", type=float, default=0.0)
    args = parser.parse_args()
    settings = load_settings()
    disk_before, catalog_before = disk_usage(settings), catalog_bytes(settings)
    con = connect(settings)
    try:
        t0 = time.perf_counter()
        result = upkeep(con, retention_days=args.retention_days)
        seconds = time.perf_counter() - t0
    finally:
        con.close()
    out = fields("before", result.before, disk_before, catalog_before)
    out += fields("after", result.after, disk_usage(settings), catalog_bytes(settings))
    out += [
        f"snapshots_expired={result.snapshots_expired}",
        f"files_cleaned={result.files_cleaned}",
        f"orphans_removed={result.orphans_removed}",
        f"upkeep_seconds={seconds:.3f}",
    ]
    print(" ".join(out))


if __name__ == "__main__":
    main()
