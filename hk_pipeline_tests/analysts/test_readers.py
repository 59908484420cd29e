"""Reader paths: open_reader, `hk-pipeline sql` (one query, formats, shell, time travel),
SQLAlchemy and a plain DuckDB client.

Every path is read-only; the CLI also cannot reach files outside the lake's data path.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pytest

from hk_pipeline import cli
from hk_pipeline.config import Settings
from hk_pipeline.warehouse.lake import extension_file
from hk_pipeline.warehouse.readers import (
    READ_ONLY_PREFIX,
    ReaderError,
    create_engine,
    open_reader,
)


@pytest.fixture
def reader_env(lake_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HK_PIPELINE_HOME", str(lake_home))
    monkeypatch.setenv("DAGSTER_HOME", str(lake_home / "dagster"))
    for variable in ("HK_PIPELINE_SOURCE", "HK_PIPELINE_CATALOG", "HK_PIPELINE_DATA_PATH"):
        monkeypatch.delenv(variable, raising=False)
    return Settings(home=lake_home)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_no_lake_yet_names_the_catalog(home: Path, settings: Settings) -> None:
    with pytest.raises(ReaderError, match="run the pipeline first") as info:
        open_reader(settings)
    assert str(home / "catalog.sqlite") in str(info.value)
    assert not (home / "catalog.sqlite").exists()  # a reader never creates a lake


def test_open_reader_queries_and_refuses_writes(reader_env: Settings) -> None:
    con = open_reader(reader_env)
    try:
        rows = con.execute("SELECT count(*) FROM views.latest_index_moves").fetchall()
        assert rows == [(3,)]
        for sql in (
            "CREATE TABLE raw.x (a INTEGER)",
            "DROP TABLE raw.quotes",
            "DELETE FROM raw.quotes",
            "CREATE TABLE y AS SELECT 1",
        ):
            with pytest.raises(duckdb.Error, match="read-only"):
                con.execute(sql)
    finally:
        con.close()


def test_cli_sql_formats(reader_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT index_code, level FROM views.latest_index_moves"
    code, out, _ = _cli(capsys, "sql", sql, "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "index_code,level" and len(out.splitlines()) == 4
    code, out, _ = _cli(capsys, "sql", sql, "--format", "json")
    assert code == 0 and [r["index_code"] for r in json.loads(out)] == ["HSI", "HSCEI", "HSTECH"]
    code, out, _ = _cli(capsys, "sql", sql)
    assert code == 0 and "HSTECH" in out and "3 row(s)" in out


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("CREATE TABLE raw.x (a INTEGER)", f"{READ_ONLY_PREFIX}: CREATE is not allowed"),
        ("INSERT INTO raw.quotes SELECT * FROM raw.quotes", f"{READ_ONLY_PREFIX}: INSERT"),
        ("COPY (SELECT 1) TO 'out.csv'", f"{READ_ONLY_PREFIX}: COPY is not allowed"),
        ("ATTACH 'warehouse.duckdb' AS w", f"{READ_ONLY_PREFIX}: ATTACH is not allowed"),
        ("INSTALL httpfs", f"{READ_ONLY_PREFIX}: INSTALL is not allowed"),
        ("LOAD httpfs", f"{READ_ONLY_PREFIX}: LOAD is not allowed"),
        ("SET enable_external_access = true", f"{READ_ONLY_PREFIX}: SET is not allowed"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'x'", "EXPLAIN is allowed over a query only"),
        ("SELECT * FROM read_csv('/etc/passwd')", "only the lake's own files"),
        ("SELECT 1; DROP TABLE raw.quotes", f"{READ_ONLY_PREFIX}: DROP is not allowed"),
    ],
)
def test_cli_sql_refuses(
    reader_env: Settings, capsys: pytest.CaptureFixture[str], sql: str, message: str
) -> None:
    code, out, err = _cli(capsys, "sql", sql)
    assert code == 2, out
    assert message in err and "Traceback" not in err


def test_cli_sql_cannot_read_other_files_of_the_home(
    reader_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reader_env.home / "dagster" / "dagster.yaml"
    code, _, err = _cli(capsys, "sql", f"SELECT * FROM read_blob('{path}')")
    assert code == 2 and "only the lake's own files" in err


def test_cli_shell_reads_statements_from_stdin(
    reader_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = (
        "SELECT count(*) AS n\n  FROM raw.quotes;\n"
        "SELECT nope;\n"
        "COPY (SELECT 1) TO 'x.csv';\n"
        ".tables\n"
        "SELECT 'still here' AS s;\n"
        ".quit\n"
        "SELECT 'after quit';\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    code, out, err = _cli(capsys, "sql", "--format", "csv")
    assert code == 0
    assert out.splitlines()[:2] == ["n", "8"]
    assert "views.latest_index_moves" in out and "still here" in out
    assert "after quit" not in out
    assert "nope" in err and f"{READ_ONLY_PREFIX}: COPY" in err and "Traceback" not in err


def test_cli_sql_without_a_lake(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "sql", "SELECT 1")
    assert code == 2 and "no lake at" in err and "run the pipeline first" in err


def test_cli_sql_time_travel(reader_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """An earlier snapshot of the lake: before the close ran, only the mid-day existed."""
    con = open_reader(reader_env)
    try:
        versions = [
            r[0]
            for r in con.execute("SELECT snapshot_id FROM lake.snapshots() ORDER BY 1").fetchall()
        ]
    finally:
        con.close()
    assert len(versions) > 2
    sql = "SELECT DISTINCT snapshot FROM raw.quotes ORDER BY 1"
    code, out, _ = _cli(capsys, "sql", sql, "--format", "csv")
    assert code == 0 and out.splitlines() == ["snapshot", "close", "midday"]
    seen = set()
    for version in versions:
        code, out, err = _cli(capsys, "sql", sql, "--format", "csv", "--at-version", str(version))
        if code == 2 and "does not exist" in err:
            continue  # a snapshot from before the schema was set up
        assert code == 0, err
        seen.add(tuple(out.splitlines()[1:]))
    # the lake's history passes through: no quotes, mid-day only, then both snapshots
    assert {(), ("midday",), ("close", "midday")} <= seen
    code, _, err = _cli(capsys, "sql", sql, "--at-version", "1", "--at-time", "2025-01-01")
    assert code == 2 and "not both" in err


def test_plain_duckdb_client_reads_the_lake(reader_env: Settings) -> None:
    """What an analyst's DuckDB (CLI or notebook) does: load the wheel's extensions, attach."""
    con = duckdb.connect()
    try:
        con.execute(f"LOAD '{extension_file('ducklake')}'")
        con.execute(f"LOAD '{extension_file('sqlite_scanner')}'")
        con.execute(f"ATTACH 'ducklake:sqlite:{reader_env.catalog_path}' AS hk (READ_ONLY)")
        rows = con.execute("SELECT index_code FROM hk.views.latest_index_moves ORDER BY 1")
        assert [r[0] for r in rows.fetchall()] == ["HSCEI", "HSI", "HSTECH"]
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("DELETE FROM hk.raw.quotes")
    finally:
        con.close()


def test_sqlalchemy_reads_and_refuses_writes(reader_env: Settings) -> None:
    import sqlalchemy

    engine = create_engine(reader_env)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sqlalchemy.text("SELECT index_code FROM views.index_moves_history ORDER BY 1")
            ).fetchall()
            assert len(rows) == 6
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                conn.execute(sqlalchemy.text("CREATE TABLE raw.x (a INTEGER)"))
    finally:
        engine.dispose()
