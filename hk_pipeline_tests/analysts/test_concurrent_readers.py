"""Readers during a backfill: nothing blocks, nothing fails, every query sees one snapshot.

A reader that holds a transaction open from before the backfill keeps its snapshot
throughout; a thread opening a new connection per round and another process reading the lake
with plain DuckDB (as an analyst's client would) see snapshots advance, each consistent: every
partition of raw.quotes is whole (the fake source's 4 quotes), marts never get ahead of the
quotes they derive from, and where both exist the quote count equals the 'all' breadth total
less shares without a quote. (Each table's partition commits on its own, so for a moment a
partition may have its quotes and not yet its marts: a reader sees that as "not derived yet",
never as half a table.)
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hk_pipeline import cli
from hk_pipeline.config import Settings
from hk_pipeline.warehouse.readers import open_reader

QUOTES_PER_PARTITION = 4
CONSISTENCY_SQL = f"""
WITH q AS (SELECT trade_date, snapshot, count(*) AS n FROM raw.quotes GROUP BY ALL),
     m AS (SELECT DISTINCT trade_date, snapshot FROM mart.index_moves),
     b AS (SELECT trade_date, snapshot, total - no_quote AS n FROM mart.market_breadth
           WHERE universe = 'all')
SELECT
    (SELECT max(snapshot_id) FROM lake.snapshots()) AS version,
    (SELECT count(*) FROM q) AS partitions,
    (SELECT count(*) FROM q WHERE n <> {QUOTES_PER_PARTITION}) AS partial_partitions,
    (SELECT count(*) FROM (SELECT trade_date, snapshot FROM m
                           EXCEPT SELECT trade_date, snapshot FROM q)) AS only_in_marts,
    (SELECT count(*) FROM q JOIN b USING (trade_date, snapshot)
     WHERE q.n IS DISTINCT FROM b.n) AS count_mismatches
"""

CHILD = """
import os, sys, time
from hk_pipeline_tests.lake_access import read_home
home, stop, sql = sys.argv[1], sys.argv[2], sys.argv[3]
seen = 0
while not os.path.exists(stop):
    con = read_home(home)
    v, parts, a, b, c = con.execute(sql).fetchall()[0]
    con.close()
    assert (a, b, c) == (0, 0, 0), (v, parts, a, b, c)
    print(v, parts, flush=True)
    seen += 1
    time.sleep(0.2)
assert seen > 0
"""


def _check(con) -> tuple[int, int]:
    version, partitions, partial, only_m, mismatches = con.execute(CONSISTENCY_SQL).fetchall()[0]
    assert (partial, only_m, mismatches) == (0, 0, 0), (version, partial, only_m, mismatches)
    return version, partitions


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch):
    from hk_pipeline.defs import resources
    from hk_pipeline.sources import registry
    from hk_pipeline_tests.defs.fake_source import FakeSource

    monkeypatch.setattr(registry, "get_source", lambda name, settings: FakeSource("good"))
    resources._cached_source.cache_clear()
    yield
    resources._cached_source.cache_clear()


def test_readers_during_a_backfill(
    home: Path, settings: Settings, fake_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--date", "2025-11-17", "--snapshot", "midday"]) == 0
    held = open_reader(settings)  # opened before the backfill, queried throughout
    held.execute("BEGIN TRANSACTION")  # a transaction keeps its snapshot
    held_version, held_partitions = _check(held)
    assert held_partitions == 1

    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[tuple[int, int]] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                assert _check(held) == (held_version, held_partitions)
                con = open_reader(settings)
                try:
                    seen.append(_check(con))
                finally:
                    con.close()
            except BaseException as exc:
                errors.append(exc)
                return
            time.sleep(0.2)

    stop_file = home / "stop-reader"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(home),
            str(stop_file),
            CONSISTENCY_SQL,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        # a run per day, each adding two partitions, one commit per table and partition
        code = cli.main(
            ["backfill", "--start", "2025-11-18", "--end", "2025-11-20", "--batch-days", "1"]
        )
    finally:
        stop.set()
        thread.join(timeout=30)
        stop_file.touch()
        out, err = child.communicate(timeout=60)
        held.close()
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "[3/3]" in printed.out
    assert not errors, errors[0]
    assert child.returncode == 0, err
    versions_seen = {v for v, _ in seen}
    assert len(versions_seen) >= 2, seen  # commits happened while we were reading
    assert [p for _, p in sorted(seen)] == sorted(p for _, p in seen)  # never goes back
    child_seen = [tuple(map(int, line.split())) for line in out.splitlines()]
    assert child_seen and max(v for v, _ in child_seen) > held_version
    final = open_reader(settings)
    try:
        assert _check(final)[1] == 7
    finally:
        final.close()
