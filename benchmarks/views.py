"""Median time of each documented analyst view over the lake, read-only.

    python -m benchmarks.views --home $HK_PIPELINE_HOME [--repeat 5]

Each view is read whole (``SELECT * FROM views.<name>``, fetched as Arrow) through
``open_reader`` (the lake attached READ_ONLY, as ``hk-pipeline sql``, notebooks and BI tools
read it), the way an analyst's client reads it. The catalog and data path are those of the
settings (``HK_PIPELINE_CATALOG`` / ``HK_PIPELINE_DATA_PATH``, else catalog.sqlite and lake/
under ``--home``). Prints one ``view=<name> rows=<n> median_ms=<ms>`` line per view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import duckdb

from hk_pipeline.config import load_settings
from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.warehouse.readers import open_reader

VIEWS_DIR = PROJECT_DIR / "sql" / "views"


def documented_views() -> list[str]:
    """``views.<name>`` of every file in sql/views, in name order."""
    return sorted(p.stem.removeprefix("views.") for p in VIEWS_DIR.glob("views.*.sql"))


def time_view(con: duckdb.DuckDBPyConnection, name: str, repeat: int) -> tuple[int, float]:
    """(rows, median seconds) of reading ``views.<name>`` whole, ``repeat`` times."""
    seconds, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = con.sql(f"SELECT * FROM views.{name}").to_arrow_table().num_rows
        seconds.append(time.perf_counter() - t0)
    return rows, statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings({**os.environ, "HK_PIPELINE_HOME": str(args.home)})
    con = open_reader(settings)
    try:
        for name in documented_views():
            rows, median = time_view(con, name, args.repeat)
            print(f"view={name} rows={rows} median_ms={median * 1000:.1f}")
    finally:
        con.close()


if __name__ == "__main__":
    main()
