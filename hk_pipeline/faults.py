"""Named fault points: places where a test may kill the pipeline to prove nothing is lost.

The code calls ``fault_point("write.partition.deleted")`` at moments where a crash would be
most damaging (inside a transaction, after a data file is written and before the catalog
commits...). Normally that is a dictionary lookup and nothing else. When the environment
variable ``HK_PIPELINE_FAULT`` names the point, the process sends itself SIGKILL there: no
``finally``, no ``atexit``, no rollback, exactly what a power cut, an OOM kill or ``kill -9`` does.

``HK_PIPELINE_FAULT`` is a comma-separated list of ``name`` or ``name@N`` (die at the N-th
time the point is reached in this process, counting from 1; ``name`` means ``name@1``).
The reliability suite (``hk_pipeline_tests/reliability/test_killed_runs.py``) runs a
partition once per point and checks the lake afterwards.
No Dagster here: every layer may call it.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

FAULT_VARIABLE = "HK_PIPELINE_FAULT"

FAULT_POINTS: tuple[str, ...] = (
    # warehouse/lake.py: a writer's connection, right after the lake is attached
    "lake.attached",
    # warehouse/schema.py: the schema set-up transaction every writer may run
    "ddl.mid_transaction",
    # warehouse/writes.py: replace_partition (raw tables), in order
    "write.partition.begun",
    "write.partition.deleted",
    # the new partition's Parquet files are written, the catalog does not list them yet
    "write.partition.inserted",
    "write.partition.before_commit",
    "write.partition.committed",
    # warehouse/writes.py: upsert_rows (ref tables, raw.macro_series), in order
    "write.upsert.staged",
    "write.upsert.inserted",
    "write.upsert.before_commit",
    "write.upsert.committed",
    # warehouse/writes.py: the quarantine partition written inside either transaction
    "write.quarantine.deleted",
    # warehouse/quarantine.py: replace_quarantine (a refused partition keeps its rejects)
    "quarantine.deleted",
    "quarantine.inserted",
    # warehouse/landing_loads.py: the landing files record, inside the table's transaction
    "landing.loads.deleted",
    # ingest/partition_load.py: one partition of a ref/raw table
    "ingest.fetched",
    "ingest.validated",
    "ingest.before_write",
    # marts/runner.py: write_mart
    "mart.before_write",
    "mart.deleted",
    "mart.inserted",
    "mart.committed",
    # report/files.py: the review files, each written to a temporary name then renamed
    "report.chart_before_rename",
    "report.markdown_before_rename",
    # warehouse/upkeep.py: the weekly upkeep job, in order
    "upkeep.merged",
    "upkeep.expired",
    "upkeep.cleaned",
    "upkeep.orphans_removed",
    # warehouse/migrate.py: copying an old warehouse.duckdb into the lake
    "migrate.table_copied",
    "migrate.before_commit",
)
"""Every point the code exposes, in the order a snapshot run reaches them (roughly)."""

_reached: Counter[str] = Counter()


def _armed(value: str) -> dict[str, int]:
    """``"a,b@3"`` -> ``{"a": 1, "b": 3}``; unknown names raise (a typo must not pass)."""
    out: dict[str, int] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, _, nth = item.partition("@")
        if name not in FAULT_POINTS:
            raise ValueError(
                f"{FAULT_VARIABLE}={value!r}: unknown fault point {name!r};"
                f" known points: {', '.join(FAULT_POINTS)}"
            )
        if nth and (not nth.isdigit() or int(nth) < 1):
            raise ValueError(f"{FAULT_VARIABLE}={value!r}: {item!r} needs @N with N >= 1")
        out[name] = int(nth) if nth else 1
    return out


def fault_point(name: str) -> None:
    """Die here with SIGKILL if ``HK_PIPELINE_FAULT`` arms ``name`` (see the module doc)."""
    value = os.environ.get(FAULT_VARIABLE)
    if not value:
        return
    armed = _armed(value)
    if name not in armed:
        return
    _reached[name] += 1
    if _reached[name] == armed[name]:
        os.kill(os.getpid(), signal.SIGKILL)
