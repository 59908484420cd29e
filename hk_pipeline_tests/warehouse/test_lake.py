"""The lake on each setup: where it lives, partitioned files, writers, readers, bad settings.

The embedded default (SQLite catalog and data under the home) needs nothing; the PostgreSQL
catalog uses the server on 127.0.0.1:5432 (a fresh database per test); S3 data uses moto's
S3 server started by the tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from hk_pipeline.config import Settings, load_settings
from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.ddl import apply_ddl
from hk_pipeline.warehouse.lake import LakeError
from hk_pipeline.warehouse.migrate import MigrateError, migrate
from hk_pipeline.warehouse.readers import ReaderError, open_reader
from hk_pipeline.warehouse.tx import WAIT_VARIABLE, WriteConflict
from hk_pipeline.warehouse.upkeep import file_stats, upkeep
from hk_pipeline.warehouse.writes import replace_partition
from hk_pipeline_tests.postgres import PgDatabase

D1 = date(2025, 11, 21)
D0 = date(2025, 11, 20)


def levels(n: int, level: float, trade_date: date = D1, snapshot: str = "midday") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index_code": [f"IX{i:03d}" for i in range(n)],
            "prev_close": level,
            "open": level,
            "high": level,
            "low": level,
            "last": level,
            "as_of": pd.Timestamp("2025-11-21 12:00", tz="Asia/Hong_Kong"),
        }
    )


def write(con, frame: pd.DataFrame, trade_date: date = D1, snapshot: str = "midday") -> int:
    return replace_partition(
        con,
        "raw.index_levels",
        frame,
        trade_date=trade_date,
        snapshot=snapshot,
        run_id="test",
        source="sample",
    )


def counts(con) -> dict[tuple[str, str], tuple[int, float]]:
    rows = con.execute(
        "SELECT trade_date::VARCHAR, snapshot, count(*), sum(last) FROM raw.index_levels"
        " GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return {(d, s): (n, total) for d, s, n, total in rows}


@pytest.fixture
def lake(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    con = connect(settings)
    yield settings, con
    con.close()


def test_embedded_default_lives_under_the_home(tmp_path: Path) -> None:
    settings = load_settings({"HK_PIPELINE_HOME": str(tmp_path)})
    con = connect(settings)
    try:
        write(con, levels(20, 100.0))
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    finally:
        con.close()
    assert {"ref", "raw", "mart", "quarantine", "meta", "views"} <= schemas
    assert (tmp_path / "catalog.sqlite").is_file()
    files = list((tmp_path / "lake" / "raw" / "index_levels").rglob("*.parquet"))
    assert files and all(str(tmp_path / "lake") in str(f) for f in files)
    with sqlite3.connect(tmp_path / "catalog.sqlite") as db:  # readers never block writers
        assert db.execute("PRAGMA journal_mode").fetchall() == [("wal",)]


def test_no_data_file_mixes_two_partitions_compaction_included(lake) -> None:
    _, con = lake
    for day in (D0, D1):
        for snapshot in ("midday", "close"):
            for level in (100.0, 101.0, 102.0):  # three replacements: files to compact
                write(con, levels(30, level, day, snapshot), day, snapshot)
    upkeep(con, retention_days=0)
    files = con.execute(
        "SELECT data_file FROM ducklake_list_files('lake', 'index_levels', schema => 'raw')"
    ).fetchall()
    assert len(files) == 4  # one per partition after compaction
    for (path,) in files:
        assert path.count("trade_date=") == 1 and path.count("snapshot=") == 1, path
        rows = con.execute(
            f"SELECT DISTINCT trade_date, snapshot FROM read_parquet('{path}')"
        ).fetchall()
        assert len(rows) == 1, (path, rows)
    assert counts(con) == {
        (str(d), s): (30, 30 * 102.0) for d in (D0, D1) for s in ("close", "midday")
    }


def test_a_reader_keeps_its_snapshot_while_a_run_commits(lake) -> None:
    settings, con = lake
    write(con, levels(10, 100.0))
    reader = open_reader(settings)
    try:
        reader.execute("BEGIN TRANSACTION")
        assert counts(reader) == {(str(D1), "midday"): (10, 1000.0)}
        write(con, levels(12, 200.0))  # commits while the reader's transaction is open
        assert counts(reader) == {(str(D1), "midday"): (10, 1000.0)}
        reader.execute("COMMIT")
        assert counts(reader) == {(str(D1), "midday"): (12, 2400.0)}
    finally:
        reader.close()


def test_time_travel_reads_an_earlier_snapshot(lake) -> None:
    settings, con = lake
    write(con, levels(10, 100.0))
    version = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchall()[0][0]
    write(con, levels(3, 5.0))
    old = open_reader(settings, snapshot_version=version)
    try:
        assert counts(old) == {(str(D1), "midday"): (10, 1000.0)}
    finally:
        old.close()
    assert counts(con) == {(str(D1), "midday"): (3, 15.0)}


WRITER = """
import sys
import pandas as pd
from datetime import date
from hk_pipeline.config import Settings
from pathlib import Path
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.writes import replace_partition
home, day = sys.argv[1], date.fromisoformat(sys.argv[2])
level, rounds = float(sys.argv[3]), int(sys.argv[4])
import os
settings = Settings(home=Path(home), catalog=os.environ.get("HK_PIPELINE_CATALOG", ""))
con = connect(settings)
for i in range(rounds):
    frame = pd.DataFrame({"index_code": [f"IX{j:03d}" for j in range(50)], "last": level + i})
    replace_partition(con, "raw.index_levels", frame, trade_date=day, snapshot="close",
                      run_id=f"w{level}-{i}", source="sample")
con.close()
"""


def _writers(home: Path, jobs: list[tuple[str, float]], env: dict[str, str]) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), day, str(level), "6"],
            env=env,
            cwd=PROJECT_DIR,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day, level in jobs
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err


def _catalog_env(kind: str, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HK_PIPELINE_")}
    if kind == "postgres":
        database: PgDatabase = request.getfixturevalue("pg_database")
        env["HK_PIPELINE_CATALOG"] = f"postgres:{database.dsn}"
    return env


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_writers_at_once_lose_nothing(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Three processes: two on different days, one on a day another writes too. Every commit
    conflicts at table level (DuckLake), is retried, and the end state is a serial one."""
    env = _catalog_env(kind, request)
    home = tmp_path / "home"
    settings = Settings(home=home, catalog=env.get("HK_PIPELINE_CATALOG", ""))
    connect(settings).close()  # the schema, once
    _writers(home, [("2025-11-20", 100.0), ("2025-11-21", 200.0), ("2025-11-21", 300.0)], env)
    con = open_reader(settings)
    try:
        rows = con.execute(
            "SELECT trade_date::VARCHAR, count(*), min(last), max(last), count(DISTINCT run_id)"
            " FROM raw.index_levels GROUP BY ALL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert rows[0] == ("2025-11-20", 50, 105.0, 105.0, 1)  # its writer's last round
    day, n, low, high, runs = rows[1]
    # whichever writer committed last, the partition is exactly one of its rounds: whole
    assert (day, n, runs) == ("2025-11-21", 50, 1) and low == high and low in (205.0, 305.0)


def write_apart(settings: Settings, frame: pd.DataFrame) -> None:
    """Write ``frame`` on a connection of its own, closed afterwards."""
    with contextlib.closing(connect(settings)) as con:
        write(con, frame)


def test_the_postgres_catalog_holds_the_lake(pg_database: PgDatabase, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, catalog=f"postgres:{pg_database.dsn}")
    write_apart(settings, levels(7, 10.0))
    assert not (tmp_path / "catalog.sqlite").exists()
    with pg_database.connect() as pg, pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM ducklake_table")
        assert cur.fetchone()[0] >= 15
    reader = open_reader(settings)
    try:
        assert counts(reader) == {(str(D1), "midday"): (7, 70.0)}
    finally:
        reader.close()


def test_s3_data_path(s3_endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_endpoint.env().items():
        monkeypatch.setenv(key, value)
    bucket = s3_endpoint.new_bucket()
    settings = Settings(home=tmp_path, data_path=f"s3://{bucket}/lake")
    write_apart(settings, levels(40, 3.0))
    keys = s3_endpoint.keys(bucket)
    assert any(
        k.startswith("lake/raw/index_levels/trade_date=2025-11-21/snapshot=midday/") for k in keys
    )
    assert not (tmp_path / "lake").exists()
    reader = open_reader(settings, sandbox=True)
    try:
        assert counts(reader) == {(str(D1), "midday"): (40, 120.0)}
        with pytest.raises(duckdb.PermissionException):
            reader.execute("SELECT * FROM read_csv('/etc/passwd')")
    finally:
        reader.close()


# --- bad settings: one line naming the setting, nothing written -------------------------


def test_unreachable_catalog(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "HK_PIPELINE_HOME": str(tmp_path),
            "HK_PIPELINE_CATALOG": "postgres:host=127.0.0.1 port=1 dbname=x user=u"
            " password=s3cret connect_timeout=2",
        }
    )
    with pytest.raises(LakeError) as info:
        connect(settings)
    message = str(info.value)
    assert message.startswith("HK_PIPELINE_CATALOG: cannot open the PostgreSQL catalog")
    assert "s3cret" not in message and "password=***" in message
    assert "\n" not in message
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").rglob("*"))


def test_wrong_credentials(pg_database: PgDatabase, tmp_path: Path) -> None:
    catalog = (
        f"postgres:{pg_database.dsn.replace('user=postgres', 'user=hk_nobody')} password=s3cret"
    )
    settings = Settings(home=tmp_path, catalog=catalog)
    with pytest.raises(LakeError, match="HK_PIPELINE_CATALOG") as info:
        connect(settings)
    assert "s3cret" not in str(info.value) and "hk_nobody" in str(info.value)


def test_unwritable_data_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = load_settings(
        {"HK_PIPELINE_HOME": str(tmp_path / "home"), "HK_PIPELINE_DATA_PATH": str(blocker / "lake")}
    )
    with pytest.raises(LakeError, match=r"^HK_PIPELINE_DATA_PATH: cannot create"):
        connect(settings)
    assert not (tmp_path / "home" / "catalog.sqlite").exists()


def test_a_lake_written_by_a_newer_version(lake) -> None:
    settings, con = lake
    write(con, levels(5, 1.0))
    con.close()
    with sqlite3.connect(settings.catalog_path) as db:
        db.execute("UPDATE ducklake_metadata SET value = '9.9' WHERE key = 'version'")

    def state() -> list[tuple]:
        with sqlite3.connect(settings.catalog_path) as db:
            return db.execute(
                "SELECT (SELECT value FROM ducklake_metadata WHERE key = 'version'),"
                " (SELECT count(*) FROM ducklake_snapshot)"
            ).fetchall()

    before = state()
    with pytest.raises(LakeError, match="written by another DuckLake version") as info:
        connect(settings)
    assert "9.9" in str(info.value) and "requirements.lock" in str(info.value)
    with pytest.raises(ReaderError, match="another DuckLake version"):
        open_reader(settings)
    assert state() == before == [("9.9", before[0][1])]  # not migrated, nothing written


# --- migrate and upkeep ----------------------------------------------------------------


def _old_warehouse(path: Path) -> None:
    """A single-file warehouse as earlier versions wrote it (the same DDL, plain DuckDB)."""
    con = duckdb.connect(str(path))
    try:
        apply_ddl(con)
        for i, day in enumerate((D0, D1)):
            for snapshot in ("midday", "close"):
                con.execute(
                    "INSERT INTO raw.index_levels SELECT ?, ?, 'HSI', 1, 1, 1, 1, ?, now(),"
                    " 'sample', 'old', now() FROM range(?)",
                    [day, snapshot, 100.0 + i, 3 + i],
                )
        con.execute(
            "INSERT INTO ref.securities (symbol, name, board, industry, board_lot, currency,"
            " valid_from, source, run_id, loaded_at)"
            " VALUES ('00700', 'Tencent', 'Main Board', 'Information Technology', 100, 'HKD',"
            " DATE '2023-07-03', 'sample', 'old', now())"
        )
    finally:
        con.close()


def test_migrate_copies_an_old_warehouse_and_leaves_it_untouched(tmp_path: Path) -> None:
    old = tmp_path / "warehouse.duckdb"
    _old_warehouse(old)
    digest = hashlib.sha256(old.read_bytes()).hexdigest()
    settings = Settings(home=tmp_path)
    result = migrate(old, settings)
    assert result.rows["raw.index_levels"] == 14 and result.partitions["raw.index_levels"] == 4
    assert result.rows["ref.securities"] == 1
    assert hashlib.sha256(old.read_bytes()).hexdigest() == digest
    reader = open_reader(settings)
    try:
        assert counts(reader)[(str(D1), "close")] == (4, 404.0)
        assert reader.execute("SELECT name FROM ref.securities").fetchall() == [("Tencent",)]
    finally:
        reader.close()
    with pytest.raises(MigrateError, match=r"already holds rows in raw\.index_levels"):
        migrate(old, settings)  # twice would mix two histories: refused, lake unchanged
    reader = open_reader(settings)
    try:
        assert sum(n for n, _ in counts(reader).values()) == 14
    finally:
        reader.close()


def test_migrate_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MigrateError, match="does not exist"):
        migrate(tmp_path / "nope.duckdb", Settings(home=tmp_path))


def test_upkeep_expires_old_snapshots_and_removes_their_files(lake) -> None:
    settings, con = lake
    for level in range(6):
        write(con, levels(30, float(level)))
    before = file_stats(con)
    on_disk_before = len(list((settings.home / "lake").rglob("*.parquet")))
    result = upkeep(con, retention_days=0)
    after = file_stats(con)
    on_disk_after = len(list((settings.home / "lake").rglob("*.parquet")))
    assert before.tracked_files > before.live_files  # replaced files kept for time travel
    assert result.snapshots_expired > 0 and result.files_cleaned > 0
    assert after.tracked_files == after.live_files and on_disk_after < on_disk_before
    assert counts(con) == {(str(D1), "midday"): (30, 150.0)}  # the data is what it was


def test_upkeep_spares_recent_orphans_and_removes_old_ones(lake) -> None:
    """A file no snapshot references (a writer killed before its commit) is removed once
    older than the grace period; a young one may belong to a write still running."""
    settings, con = lake
    write(con, levels(10, 1.0))
    orphan = settings.home / "lake" / "raw" / "index_levels" / "ducklake-orphan.parquet"
    con.execute(f"COPY (SELECT 1 AS a) TO '{orphan}' (FORMAT parquet)")
    upkeep(con, retention_days=0)
    assert orphan.exists()
    from datetime import UTC, datetime

    upkeep(con, retention_days=0, now=datetime.now(UTC) + timedelta(hours=2))
    assert not orphan.exists()
    assert counts(con) == {(str(D1), "midday"): (10, 10.0)}


def test_a_refused_data_file_names_the_setting() -> None:
    from hk_pipeline.warehouse.tx import storage_refusal

    s3 = duckdb.HTTPException("HTTP Error: PUT to s3://b/x.parquet failed (HTTP 403 Forbidden)")
    assert storage_refusal(s3).startswith("HK_PIPELINE_DATA_PATH: the object storage refused")
    local = duckdb.IOException('Cannot open file "/lake/x.parquet": Permission denied')
    assert "HK_PIPELINE_DATA_PATH: cannot write a data file" in storage_refusal(local)
    assert storage_refusal(duckdb.IOException("Disk full")) is None


def test_time_travel_to_a_snapshot_that_does_not_exist(lake) -> None:
    settings, con = lake
    write(con, levels(2, 1.0))
    with pytest.raises(ReaderError, match=r"^the lake has no such snapshot .*99999"):
        open_reader(settings, snapshot_version=99999)
    with pytest.raises(ReaderError, match="no such snapshot"):
        open_reader(settings, snapshot_time="2001-01-01 00:00:00+08:00")


def test_a_writer_behind_a_stuck_catalog_lock_gives_up_and_says_so(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session holding the PostgreSQL catalog's snapshot table (a stuck process, an open
    psql) must not hang writers for ever: each commit waits lake.CATALOG_LOCK_TIMEOUT, is
    retried, and the write fails naming the lock once HK_PIPELINE_WRITER_WAIT is spent;
    nothing of it is committed, and the same write succeeds once the lock is gone."""
    monkeypatch.setattr("hk_pipeline.warehouse.lake.CATALOG_LOCK_TIMEOUT", "1s")
    monkeypatch.setenv(WAIT_VARIABLE, "3")
    settings = Settings(home=tmp_path, catalog=f"postgres:{pg_database.dsn}")
    con = connect(settings)
    try:
        write(con, levels(7, 10.0))
        with pg_database.connect() as pg, pg.cursor() as cur:
            # Should the writer ever wait without a limit again, PostgreSQL ends this idle
            # session after 30 s: the lock goes, the write commits and the test fails
            # ("DID NOT RAISE") instead of hanging.
            cur.execute("SET idle_in_transaction_session_timeout = '30s'")
            cur.execute("LOCK TABLE ducklake_snapshot IN EXCLUSIVE MODE")  # held until rollback
            with pytest.raises(WriteConflict, match="lock timeout") as info:
                write(con, levels(9, 20.0))
            assert "nothing of this write was committed" in str(info.value)
            pg.rollback()
        assert counts(con) == {(str(D1), "midday"): (7, 70.0)}
        write(con, levels(9, 20.0))
        assert counts(con) == {(str(D1), "midday"): (9, 180.0)}
    finally:
        con.close()
