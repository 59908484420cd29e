"""Running ``hk-pipeline`` in a child process and fingerprinting what it left behind.

A fingerprint maps (table, trade_date, snapshot) to (rows, sum of row hashes) for every
partitioned table (whole table for the effective-dated ones), without the lineage columns
(run_id, loaded_at, quarantined_at), which differ between two runs of the same data. A
partition written twice would change the row count; half a partition, the count or the hash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.readers import open_reader

BASE = ("2025-11-20", "close")  # in the base warehouse
NEW = ("2025-11-21", "midday")  # the partition the trials run
HK_PIPELINE = str(Path(sys.executable).with_name("hk-pipeline"))
LINEAGE = ("run_id", "loaded_at", "quarantined_at")
SCHEMAS = ("ref", "raw", "mart", "quarantine")

Key = tuple[str, str | None, str | None]
Fingerprint = dict[Key, tuple[int, int]]


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HK_PIPELINE_", "DAGSTER_"))}
    env.update(HK_PIPELINE_HOME=str(home), **extra)
    return env


def run_cli(
    home: Path,
    *argv: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HK_PIPELINE, *argv],
        env=child_env(home, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )


def start_cli(home: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [HK_PIPELINE, *argv],
        env=child_env(home, **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tables(con: duckdb.DuckDBPyConnection, views: bool) -> list[tuple[str, list[str]]]:
    kind = "duckdb_views()" if views else "duckdb_tables()"
    names = con.execute(
        f"SELECT schema_name, {'view_name' if views else 'table_name'} FROM {kind}"
        " WHERE database_name = current_database() AND schema_name IN ?"
        + (" AND NOT internal" if views else ""),
        [list(SCHEMAS)],
    ).fetchall()
    out = []
    for schema, table in sorted(names):
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name ="
                " current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, table],
            ).fetchall()
        ]
        out.append((f"{schema}.{table}", cols))
    return out


def fingerprint(con: duckdb.DuckDBPyConnection, *, views: bool = False) -> Fingerprint:
    out: Fingerprint = {}
    for table, cols in _tables(con, views):
        kept = [c for c in cols if c not in LINEAGE]
        row = "hash(" + ", ".join(f'"{c}"' for c in kept) + ")::HUGEINT"
        if "trade_date" in cols and "snapshot" in cols:
            rows = con.execute(
                f"SELECT trade_date::VARCHAR, snapshot, count(*), sum({row}) FROM {table}"
                " GROUP BY ALL"
            ).fetchall()
            for d, s, n, h in rows:
                out[(table, d, s)] = (n, int(h))
        else:
            n, h = con.execute(f"SELECT count(*), coalesce(sum({row}), 0) FROM {table}").fetchone()
            out[(table, None, None)] = (n, int(h))
    return out


def snapshot_state(home: Path) -> dict:
    """{'warehouse': fingerprint, 'published': fingerprint, 'version': n} of a home."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        warehouse = fingerprint(con)
    finally:
        con.close()
    reader = open_reader(Settings(home=home))
    try:
        published = fingerprint(reader, views=True)
        version = reader.execute("SELECT version FROM meta.publication").fetchone()[0]
    finally:
        reader.close()
    return {"warehouse": warehouse, "published": published, "version": version}


def check_old_or_new(state: dict, old: dict, new: dict) -> list[str]:
    """Problems: a warehouse partition that is neither its old nor its new state, or a
    published copy that is neither the old publication nor the new one as a whole."""
    problems = []
    wh = state["warehouse"]
    for key in sorted(set(wh) | set(old["warehouse"]) | set(new["warehouse"]), key=str):
        got = wh.get(key)
        if got not in (old["warehouse"].get(key), new["warehouse"].get(key)):
            problems.append(
                f"warehouse {key}: {got} is neither old {old['warehouse'].get(key)}"
                f" nor new {new['warehouse'].get(key)}"
            )
    if state["published"] not in (old["published"], new["published"]):
        diff = {
            k
            for k in set(state["published"]) | set(new["published"])
            if state["published"].get(k) != new["published"].get(k)
        }
        problems.append(f"published copy is neither the old nor the new one; differs at {diff}")
    quotes = {(k[1], k[2]) for k in state["published"] if k[0] == "raw.quotes"}
    moves = {(k[1], k[2]) for k in state["published"] if k[0] == "mart.index_moves"}
    if quotes != moves:
        problems.append(f"published raw.quotes {quotes} and mart.index_moves {moves} disagree")
    return problems
