"""One snapshot's assets in-process, timed after Dagster and the Definitions are imported.

    HK_PIPELINE_HOME=/tmp/x python -m benchmarks.in_process

Prints ``import_seconds`` (dagster, the Definitions and the Dagster instance, whose first
opening imports Dagster's storage: sqlalchemy, alembic, the daemon's modules, ~0.7 s),
``first_seconds`` (the snapshot job for 2025-11-21 mid-day on a new lake: the first run
of the process, with the first use of pandera's polars backend and matplotlib) and
``warm_seconds`` (2025-11-21 close right after, in the same process).

The home is installed before the clock starts, by another process, as any earlier run on
the machine leaves it: the Dagster instance's SQLite storage created, the lake created with
its schema (``connect(settings)``: the catalog and the data path of the settings,
catalog.sqlite and lake/ under the home by default), the sample market built into the
home's cache (``sample_market/disk_cache.py``). The timed process is cold
otherwise: its imports and first run are its own.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

DAY = date(2025, 11, 21)


INSTALL = """
import dagster as dg
from hk_pipeline.cli import prepare_environment
from hk_pipeline.sample_market import source as sample
from hk_pipeline.warehouse.connection import connect
settings = prepare_environment("sample")
dg.DagsterInstance.get().dispose()
connect(settings).close()
sample.market(settings.cache_dir)
"""


def install_home() -> None:
    """Leave the home as an earlier run would, from another process."""
    subprocess.run([sys.executable, "-c", INSTALL], check=True)


def main() -> None:
    install_home()
    t0 = time.perf_counter()
    import dagster as dg

    from hk_pipeline.cli import execute_partition, prepare_environment
    from hk_pipeline.definitions import build_definitions

    settings = prepare_environment("sample")
    build_definitions(settings)
    dg.DagsterInstance.get().dispose()  # Dagster loaded: any process running a job has done this
    imported = time.perf_counter() - t0
    t1 = time.perf_counter()
    execute_partition(settings, DAY, "midday")
    first = time.perf_counter() - t1
    t2 = time.perf_counter()
    execute_partition(settings, DAY, "close")
    warm = time.perf_counter() - t2
    print(f"import_seconds={imported:.3f} first_seconds={first:.3f} warm_seconds={warm:.3f}")


if __name__ == "__main__":
    main()
