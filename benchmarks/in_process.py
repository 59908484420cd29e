"""One snapshot's assets in-process, timed after Dagster and the Definitions are imported.

    HK_PIPELINE_HOME=/tmp/x python -m benchmarks.in_process

Prints ``import_seconds`` (dagster, the Definitions), ``first_seconds`` (the snapshot job for
2025-11-21 mid-day on a new warehouse: the first run of the process) and ``warm_seconds``
(2025-11-21 close right after, in the same process).

The sample market is built into the home's cache before the clock starts, as any earlier
process on the machine would have left it (``sources/sample_market/disk_cache.py``); the
timed run loads it from disk like every run after the first.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

DAY = date(2025, 11, 21)


WARM_CACHE = (
    "from hk_pipeline.config import load_settings; from hk_pipeline.sources import sample;"
    " sample.market(load_settings().cache_dir)"
)


def warm_market_cache() -> None:
    """Build the sample market into the home's cache in another process, so this one's
    imports and first run stay cold."""
    subprocess.run([sys.executable, "-c", WARM_CACHE], check=True)


def main() -> None:
    warm_market_cache()
    t0 = time.perf_counter()
    import dagster  # noqa: F401

    from hk_pipeline.cli import execute_partition, prepare_environment
    from hk_pipeline.definitions import build_definitions

    settings = prepare_environment("sample")
    build_definitions(settings)
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
