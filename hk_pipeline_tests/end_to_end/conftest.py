"""Warehouses built by the real pipeline on the real sample source, once per test session.

Each warehouse is built through the command line's own functions (``hk_pipeline.cli.main``)
into its own ``HK_PIPELINE_HOME`` under the session's base temporary directory. Under
pytest-xdist that directory is shared by the workers, and a file lock makes the first worker
that needs a warehouse build it while the other waits and then reuses it, so each warehouse
is built once per session, not once per worker. After the build nothing writes to it: tests
open it read-only (DuckDB allows several read-only processes).

- ``recap_home``: the README's main job (``hk-pipeline run --date 2025-11-21 --snapshot
  midday``) on a fresh warehouse, run a second time to compare the partition's contents, then
  the ref assets materialised for 2025-08-01 (point-in-time membership).
- ``week_home``: ``hk-pipeline backfill --start 2025-11-17 --end 2025-11-21`` (both snapshots).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from filelock import FileLock

from hk_pipeline.config import Settings
from hk_pipeline_tests.lake_access import read_home

RECAP_DAY = date(2025, 11, 21)
RECAP_SNAPSHOT = "midday"
MEMBERSHIP_DAY = date(2025, 8, 1)
WEEK_START = date(2025, 11, 17)
WEEK_END = date(2025, 11, 21)

REFERENCE_DIR = Path(__file__).parents[1] / "fixtures" / "reference"
RECAP_JSON = REFERENCE_DIR / "market-recap-2025-11-21-midday.json"
RECAP_TXT = REFERENCE_DIR / "market-recap-2025-11-21-midday.txt"
HSI_YAHOO_CSV = REFERENCE_DIR / "hsi_daily_yahoo.csv"
MART_TABLES = (
    "mart.index_moves",
    "mart.index_attribution",
    "mart.market_breadth",
    "mart.sector_performance",
    "mart.top_turnover",
    "mart.top_movers",
    "mart.macro_asof",
)
"""Every mart a run writes, listed here rather than read from the code under test."""

LINEAGE = ("run_id", "loaded_at", "quarantined_at")
DONE = "built.json"
FAILED = "failed.txt"


@dataclass(frozen=True)
class Built:
    """A warehouse home built by the pipeline, and what the build recorded on the way."""

    home: Path
    info: dict[str, Any]

    @property
    def settings(self) -> Settings:
        """The pipeline's settings on this home: where it keeps reports, Dagster's files..."""
        return Settings(home=self.home)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return read_home(self.settings.warehouse_path)


@contextlib.contextmanager
def pipeline_env(home: Path) -> Iterator[None]:
    """HK_PIPELINE_HOME=home with the default source; every variable restored afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HK_PIPELINE_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))  # cli.prepare_environment sets it too
        mp.delenv("HK_PIPELINE_SOURCE", raising=False)
        mp.delenv("HK_PIPELINE_QUARANTINE_THRESHOLD", raising=False)
        yield


def run_cli(home: Path, *argv: str) -> str:
    """``hk-pipeline <argv>`` in-process on ``home``; its stdout. Fails on a non-zero exit."""
    from hk_pipeline import cli

    out, err = io.StringIO(), io.StringIO()
    with pipeline_env(home), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    if code != 0:
        raise RuntimeError(
            f"hk-pipeline {' '.join(argv)} exited {code}\nstdout:\n{out.getvalue()}"
            f"\nstderr:\n{err.getvalue()}"
        )
    return out.getvalue()


def partition_tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[str]:
    """Tables of the given schemas that have (trade_date, snapshot) columns."""
    rows = con.execute(
        """
        SELECT table_schema || '.' || table_name
        FROM information_schema.columns
        WHERE table_schema IN (SELECT unnest(?::VARCHAR[]))
          AND column_name IN ('trade_date', 'snapshot')
        GROUP BY ALL HAVING count(*) = 2 ORDER BY 1
        """,
        [list(schemas)],
    ).fetchall()
    return [r[0] for r in rows]


def table_checksum(
    con: duckdb.DuckDBPyConnection, table: str, where: str = "", params: list | None = None
) -> list[int]:
    """[row count, order-independent hash of every row without lineage columns]."""
    schema, name = table.split(".")
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        if r[0] not in LINEAGE
    ]
    row_hash = "hash(" + ", ".join(f'"{c}"' for c in cols) + ")"
    n, h = con.execute(
        f"SELECT count(*), coalesce(sum({row_hash}::HUGEINT), 0)::VARCHAR FROM {table} {where}",
        params or [],
    ).fetchone()
    return [int(n), int(h)]


def partition_checksums(path: Path, d: date, snapshot: str) -> dict[str, list[int]]:
    """Checksums of partition (d, snapshot) of every raw, mart and quarantine table, and of
    the whole of the effective-dated tables (ref.*, raw.macro_series)."""
    con = read_home(path)
    try:
        out = {
            t: table_checksum(con, t, "WHERE trade_date = ? AND snapshot = ?", [d, snapshot])
            for t in partition_tables(con, ("raw", "mart", "quarantine"))
        }
        for t in ("ref.securities", "ref.index_constituents", "raw.macro_series"):
            out[t] = table_checksum(con, t)
    finally:
        con.close()
    return out


def lineage(path: Path, table: str, d: date, snapshot: str) -> list[str]:
    con = read_home(path)
    try:
        rows = con.execute(
            f"SELECT DISTINCT run_id FROM {table} WHERE trade_date = ? AND snapshot = ?",
            [d, snapshot],
        ).fetchall()
    finally:
        con.close()
    return sorted(r[0] for r in rows)


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict]
) -> Built:
    """Build ``name`` once per session across xdist workers; a failed build is not retried."""
    base = tmp_path_factory.getbasetemp()
    if base.name.startswith("popen-gw"):  # an xdist worker: share the session's directory
        base = base.parent
    home = base / f"e2e-{name}"
    with FileLock(str(base / f"e2e-{name}.lock")):
        if (base / f"e2e-{name}.{FAILED}").exists():
            pytest.fail(
                f"building the {name} warehouse failed in another worker:\n"
                + (base / f"e2e-{name}.{FAILED}").read_text(),
                pytrace=False,
            )
        if not (home / DONE).exists():
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            try:
                info = build(home)
            except BaseException:
                (base / f"e2e-{name}.{FAILED}").write_text(traceback.format_exc())
                raise
            (home / DONE).write_text(json.dumps(info, default=str, indent=1))
    return Built(home=home, info=json.loads((home / DONE).read_text()))


def _build_recap(home: Path) -> dict[str, Any]:
    import dagster as dg

    from hk_pipeline.config import load_settings
    from hk_pipeline.definitions import build_definitions
    from hk_pipeline.defs.jobs import SNAPSHOT_JOB_NAME
    from hk_pipeline.defs.partitions import partition_key
    from hk_pipeline.defs.ref import REF_KEYS

    d, snap = RECAP_DAY, RECAP_SNAPSHOT
    warehouse = home / "warehouse.duckdb"
    first_out = run_cli(home, "run", "--date", d.isoformat(), "--snapshot", snap)
    first = partition_checksums(warehouse, d, snap)
    first_runs = lineage(warehouse, "raw.quotes", d, snap)
    first_md = (home / "reports" / f"{d.isoformat()}_{snap}.md").read_text(encoding="utf-8")

    second_out = run_cli(home, "run", "--date", d.isoformat(), "--snapshot", snap)
    second = partition_checksums(warehouse, d, snap)
    second_runs = lineage(warehouse, "raw.quotes", d, snap)
    second_md = (home / "reports" / f"{d.isoformat()}_{snap}.md").read_text(encoding="utf-8")

    # The reference tables as they stood for 2025-08-01: only the ref assets, same job.
    with pipeline_env(home):
        settings = load_settings()
        job = build_definitions(settings).resolve_job_def(SNAPSHOT_JOB_NAME)
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            result = job.execute_in_process(
                partition_key=partition_key(MEMBERSHIP_DAY, "close"),
                instance=instance,
                asset_selection=REF_KEYS,
                raise_on_error=True,
            )
    return {
        "run_stdout": first_out,
        "rerun_stdout": second_out,
        "checksums_first": first,
        "checksums_second": second,
        "run_ids_first": first_runs,
        "run_ids_second": second_runs,
        "markdown_first": first_md,
        "markdown_second": second_md,
        "ref_run_success": result.success,
    }


def _build_week(home: Path) -> dict[str, Any]:
    # three trading days per run: the week takes two ranged runs, so a range boundary
    # falls inside it
    out = run_cli(
        home,
        "backfill",
        "--start",
        WEEK_START.isoformat(),
        "--end",
        WEEK_END.isoformat(),
        "--batch-days",
        "3",
    )
    return {"backfill_stdout": out}


@pytest.fixture(scope="session")
def recap_home(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_once(tmp_path_factory, "recap", _build_recap)


@pytest.fixture(scope="session")
def week_home(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_once(tmp_path_factory, "week", _build_week)


@pytest.fixture(scope="session")
def recap() -> dict[str, Any]:
    return json.loads(RECAP_JSON.read_text(encoding="utf-8"))


@pytest.fixture
def recap_con(recap_home: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    with contextlib.closing(recap_home.connect()) as con:
        yield con


@pytest.fixture
def week_con(week_home: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    with contextlib.closing(week_home.connect()) as con:
        yield con
