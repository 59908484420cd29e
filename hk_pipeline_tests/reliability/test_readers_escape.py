"""Readers cannot write or escape; the UI stays local; credentials are redacted.

Every way of reading the lake attaches it READ_ONLY: ``open_reader`` (notebooks), ``hk-pipeline
sql`` (which also confines file access to the lake's data path and runs queries only) and a
plain DuckDB client that loads DuckLake itself. None of them may change the lake: the tables
refuse writes, and the files under the data path are the same before and after.
(hk_pipeline_tests/analysts/test_readers.py covers the formats, the shell and time travel.)

The sandbox of ``hk-pipeline sql`` holds by any path: PRAGMAs only by name from the read-only
list (``PRAGMA import_database`` would run a folder's SQL files, here a COPY into the data
path), table functions only from an allow-list (``query()`` would run SQL built from strings,
``lake.merge_adjacent_files()`` would write), file access to the data path and nothing else (no
temporary folder: DuckDB would add its own to the allowed ones), and a statement stops at
HK_PIPELINE_SQL_TIMEOUT or HK_PIPELINE_SQL_MEMORY_LIMIT with a line naming the variable.
"""

from __future__ import annotations

import io
import os
import time
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest

from hk_pipeline import cli
from hk_pipeline.cli import build_parser
from hk_pipeline.config import CATALOG_VARIABLE, Settings
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import HttpClient
from hk_pipeline.sources.landing import LandingSource
from hk_pipeline.warehouse.lake import extension_file
from hk_pipeline.warehouse.readers import open_reader
from hk_pipeline_tests.lake_access import write_home
from hk_pipeline_tests.reliability.harness import NEW, copy_home, error_lines, run_args, run_cli

AREA = "readers and access"
SECRET = "hkp-fake-secret-7f3a9c"
WRITES = (
    "INSERT INTO raw.quotes SELECT * FROM raw.quotes LIMIT 1",
    "DELETE FROM raw.quotes",
    "UPDATE raw.quotes SET last = 0",
    "CREATE TABLE raw.x AS SELECT 1 AS a",
    "DROP VIEW views.latest_index_moves",
    "ALTER TABLE raw.quotes ADD COLUMN z INTEGER",
    "COMMENT ON TABLE raw.quotes IS 'x'",
    "CALL ducklake_expire_snapshots('lake', older_than => now())",
)


def _files(home: Path) -> dict[str, tuple[int, int]]:
    """Every file under the lake's data path: (size, modification time in ns)."""
    lake = home / "lake"
    return {
        str(p.relative_to(lake)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in lake.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def lake_home(base_home: Path, tmp_path: Path) -> Path:
    """A copy of the base lake whose files each test checks are left as they were."""
    home = tmp_path / "home"
    copy_home(base_home, home)
    return home


@pytest.fixture
def sql_env(lake_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment ``hk-pipeline sql`` run in-process sees."""
    for name in list(os.environ):
        if name.startswith(("HK_PIPELINE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HK_PIPELINE_HOME", str(lake_home))
    # what the command sets for itself, restored afterwards
    monkeypatch.setenv("DAGSTER_HOME", str(lake_home / "dagster"))
    monkeypatch.setenv(cli.PLANNED_EVENTS_VARIABLE, "true")
    return lake_home


def _sql(capsys: pytest.CaptureFixture[str], sql: str) -> tuple[int, str, str]:
    code = cli.main(["sql", sql, "--format", "csv"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plain_duckdb_client_reads_but_cannot_write(lake_home: Path, tally) -> None:
    """DuckLake loaded by hand, the catalog attached READ_ONLY, as a BI tool would."""
    t = tally(AREA)
    before = _files(lake_home)
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        for name in ("ducklake", "sqlite_scanner"):
            con.execute(f"LOAD '{extension_file(name)}'")
        catalog = lake_home / "catalog.sqlite"
        con.execute(
            f"ATTACH 'ducklake:sqlite:{catalog}' AS lake"
            f" (READ_ONLY, DATA_PATH '{lake_home / 'lake'}', OVERRIDE_DATA_PATH true)"
        )
        con.execute("USE lake")
        assert con.execute("SELECT count(*) FROM raw.quotes").fetchone()[0] > 0
        for sql in WRITES:
            t.cases += 1
            with pytest.raises(duckdb.Error, match="read-only"):
                con.execute(sql)
    finally:
        con.close()
    assert _files(lake_home) == before
    t.trials += 1
    t.survived += 1


@pytest.mark.parametrize("sandbox", [False, True], ids=["notebook", "sandbox"])
def test_open_reader_cannot_write(lake_home: Path, sandbox: bool, tmp_path: Path, tally) -> None:
    t = tally(AREA)
    before = _files(lake_home)
    csv = tmp_path / "rows.csv"
    con = open_reader(Settings(home=lake_home), sandbox=sandbox)
    try:
        if not sandbox:  # a file from outside, to COPY into a table
            con.execute(f"COPY (FROM raw.index_levels) TO '{csv}'")
        for sql in (*WRITES, f"COPY raw.index_levels FROM '{csv}'"):
            t.cases += 1
            match = "read-only|file system operations are disabled"
            with pytest.raises(duckdb.Error, match=match):
                con.execute(sql)
    finally:
        con.close()
    assert _files(lake_home) == before
    t.trials += 1
    t.survived += 1


def test_sandboxed_reader_stays_inside_the_data_path(
    lake_home: Path, tmp_path: Path, tally
) -> None:
    """``open_reader(sandbox=True)``, the connection behind ``hk-pipeline sql``."""
    t = tally(AREA)
    httpfs = extension_file("httpfs")
    outside = tmp_path / "out.csv"
    con = open_reader(Settings(home=lake_home), sandbox=True)
    try:
        assert con.execute("SELECT count(*) FROM raw.quotes").fetchone()[0] > 0
        for sql in (
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_blob('{lake_home / 'dagster' / 'dagster.yaml'}')",
            f"SELECT * FROM read_blob('{lake_home / 'lake' / '..' / 'dagster' / 'dagster.yaml'}')",
            f"SELECT * FROM glob('{lake_home}/*')",
            f"COPY (SELECT 1) TO '{outside}'",
            f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
            "INSTALL httpfs",
            "LOAD httpfs",
            f"LOAD '{httpfs}'",
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
        ):
            t.cases += 1
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
    finally:
        con.close()
    assert not outside.exists() and not (tmp_path / "other.duckdb").exists()
    t.trials += 1
    t.survived += 1


CLI_REFUSED = [
    ("INSERT INTO raw.quotes SELECT * FROM raw.quotes", "INSERT is not allowed"),
    ("DELETE FROM raw.quotes", "DELETE is not allowed"),
    ("COPY (SELECT 1) TO 'out.csv'", "COPY is not allowed"),
    ("COPY raw.quotes FROM '/etc/passwd'", "COPY is not allowed"),
    ("ATTACH ':memory:' AS m", "ATTACH is not allowed"),
    ("INSTALL httpfs", "INSTALL is not allowed"),
    ("LOAD httpfs", "LOAD is not allowed"),
    ("CALL ducklake_expire_snapshots('lake')", "CALL is not allowed"),
    ("CHECKPOINT", "CHECKPOINT is not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "only the lake's own files"),
    ("SELECT 1; DELETE FROM raw.quotes", "DELETE is not allowed"),
]


def test_cli_sql_refuses_writes_and_escapes(sql_env: Path, capsys, tally) -> None:
    t = tally(AREA)
    before = _files(sql_env)
    for sql, message in CLI_REFUSED:
        t.cases += 1
        code, out, err = _sql(capsys, sql)
        assert code == 2, (sql, out)
        assert err.startswith("error: ") and message in err, (sql, err)
        assert "Traceback" not in err, err
    assert _files(sql_env) == before
    code, out, _ = _sql(capsys, "SELECT count(*) AS n FROM raw.quotes")
    assert code == 0 and int(out.splitlines()[1]) > 0
    t.trials += 1
    t.survived += 1


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param(
            "SELECT * FROM ducklake_flush_inlined_data('lake')",
            id="flush",
        ),
        pytest.param(
            "SELECT * FROM ducklake_cleanup_old_files('lake', cleanup_all => true)",
            id="cleanup",
        ),
        pytest.param("SELECT * FROM ducklake_merge_adjacent_files('lake')", id="merge"),
        pytest.param(
            "SELECT * FROM ducklake_delete_orphaned_files('lake', cleanup_all => true)",
            id="orphans",
        ),
    ],
)
def test_cli_sql_leaves_the_lake_files_alone(sql: str, sql_env: Path, capsys, tally) -> None:
    """DuckLake's maintenance, asked for by a reader: refused or a no-op, no file written or
    removed."""
    t = tally(AREA)
    writer = write_home(sql_env)
    try:  # rewrite raw.quotes, expire the history: the replaced file waits for the cleanup
        writer.execute("CREATE TEMP TABLE kept AS FROM raw.quotes")
        writer.execute("BEGIN TRANSACTION")
        writer.execute("DELETE FROM raw.quotes")
        writer.execute("INSERT INTO raw.quotes FROM kept")
        writer.execute("COMMIT")
        writer.execute("FROM ducklake_expire_snapshots('lake', older_than => now())").fetchall()
        meta = "__ducklake_metadata_lake"
        scheduled = f"SELECT count(*) FROM {meta}.ducklake_files_scheduled_for_deletion"
        assert writer.execute(scheduled).fetchone()[0] > 0
    finally:
        writer.close()
    (sql_env / "lake" / "orphan.parquet").write_bytes(b"PAR1")  # one file nobody references
    before = _files(sql_env)
    t.trials += 1
    t.cases += 1
    code, _, err = _sql(capsys, sql)
    assert _files(sql_env) == before
    assert code in (0, 2) and "Traceback" not in err, err
    t.survived += 1


def test_cli_sql_cannot_read_other_sqlite_files(sql_env: Path, capsys) -> None:
    runs = sql_env / "dagster" / "history" / "runs.db"
    assert runs.exists()
    code, out, _ = _sql(capsys, f"SELECT count(*) FROM sqlite_scan('{runs}', 'runs')")
    assert code == 2, out


PASSWORD = "s3cret"
CATALOGS = [  # (HK_PIPELINE_CATALOG, also try `run`: it costs seconds, once is enough)
    pytest.param(
        f"postgres:host=127.0.0.1 port=1 user=x password={PASSWORD} dbname=y", True, id="libpq"
    ),
    pytest.param(f"postgres:postgresql://x:{PASSWORD}@127.0.0.1:1/y", False, id="url"),
    pytest.param(
        f"postgres:host=127.0.0.1 port=1 user=x password='my {PASSWORD}' dbname=y",
        False,
        id="quoted",
    ),
]


@pytest.mark.parametrize(("catalog", "with_run"), CATALOGS)
def test_catalog_password_never_shown(catalog: str, with_run: bool, tmp_path: Path, tally) -> None:
    """An unreachable PostgreSQL catalog: `sql` and `run` fail in one line that names the
    setting and not the password; the run's Dagster storage does not hold it either."""
    t = tally(AREA)
    home = tmp_path / "home"
    env = {CATALOG_VARIABLE: catalog}
    commands = [("sql", "SELECT 1"), *([run_args(NEW)] if with_run else [])]
    for argv in commands:
        t.cases += 1
        result = run_cli(home, *argv, env=env, timeout=120)
        assert result.returncode != 0, result.stdout[-600:]
        errors = error_lines(result.stderr)
        assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-1500:]
        assert CATALOG_VARIABLE in errors[0], errors[0]
        assert PASSWORD not in result.stdout + result.stderr, errors[0]
    for path in home.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    t.trials += 1
    t.survived += 1


def test_ui_binds_to_localhost_by_default(tally) -> None:
    t = tally(AREA)
    args = build_parser().parse_args(["ui"])
    t.trials += 1
    assert args.host == "127.0.0.1"
    t.survived += 1


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_landing_files_cannot_point_outside_the_landing_folder(
    tmp_path: Path, how: str, tally
) -> None:
    t = tally(AREA)
    root = tmp_path / "landing"
    (root / "quotes").mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    outside.write_text(
        "symbol,prev_close,open,high,low,last,volume,turnover\n00700,1,1,1,1,1,1,1\n",
        encoding="utf-8",
    )
    target = root / "quotes" / "2025-11-21_close.csv"
    if how == "symlink":
        target.symlink_to(outside)
    else:
        target.symlink_to(Path("..") / ".." / "secret.csv")
    t.trials += 1
    with pytest.raises(SourceError, match=r"outside|symlink|link"):
        LandingSource(root).quotes(date(2025, 11, 21), "close")
    t.survived += 1


def test_http_errors_redact_credentials(tally) -> None:
    t = tally(AREA)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, request=request)

    client = HttpClient(
        "eastmoney", transport=httpx.MockTransport(handler), sleep=lambda _s: None, min_interval=0
    )
    for name in ("token", "api_key", "secret", "apikey", "access_token"):
        t.cases += 1
        with pytest.raises(SourceError) as info:
            client.get(
                "https://push2.eastmoney.com/api/qt/clist/get", params={"pn": 1, name: SECRET}
            )
        assert SECRET not in str(info.value) and "pn=1" in str(info.value)
    client.close()
    t.trials += 1
    t.survived += 1


# --- the sandbox of `hk-pipeline sql`: PRAGMAs, table functions, spill files, limits ---------


def _import_folder(lake: Path) -> Path:
    """A folder inside the data path as EXPORT DATABASE writes one, whose schema.sql would
    write a file into the data path: what PRAGMA import_database / IMPORT DATABASE run."""
    folder = lake / "export"
    folder.mkdir()
    (folder / "schema.sql").write_text(
        f"COPY (SELECT 42 AS x) TO '{lake / 'written.csv'}';\n", encoding="utf-8"
    )
    (folder / "load.sql").write_text("", encoding="utf-8")
    return folder


WRITE_PRAGMAS = [
    "PRAGMA import_database('{folder}')",
    "IMPORT DATABASE '{folder}'",
    "EXPLAIN PRAGMA import_database('{folder}')",
    "pragma /* hidden */ Import_Database('{folder}')",
    "SELECT 1; PRAGMA import_database('{folder}')",
    "PRAGMA copy_database('lake', 'memory')",
    "PRAGMA force_checkpoint",
    "PRAGMA enable_checkpoint_on_shutdown",
    "PRAGMA enable_profiling = 'json'",
    "PRAGMA profiling_output = '{folder}/profile.json'",
    "PRAGMA threads = 8",
    "PRAGMA memory_limit = '100GB'",
    "PRAGMA add_parquet_key('k', '0123456789112345')",
    "PRAGMA json_execute_serialized_sql('{{}}')",
]


def test_cli_sql_refuses_pragmas_that_run_files_or_write(sql_env: Path, capsys, tally) -> None:
    """Only read-only PRAGMAs, by name: import_database (which runs a folder's SQL files,
    here a COPY into the data path) and every PRAGMA that writes or sets something are
    refused before DuckDB expands them."""
    t = tally(AREA)
    folder = _import_folder(sql_env / "lake")
    before = _files(sql_env)
    for template in WRITE_PRAGMAS:
        sql = template.format(folder=folder)
        t.cases += 1
        code, out, err = _sql(capsys, sql)
        assert code == 2, (sql, out)
        errors = error_lines(err)
        assert len(errors) == 1 and "Traceback" not in err, (sql, err)
        name = "IMPORT DATABASE" if sql.startswith("IMPORT") else "PRAGMA "
        assert "is not allowed" in errors[0] and name in errors[0], (sql, errors[0])
    assert not (sql_env / "lake" / "written.csv").exists()
    assert _files(sql_env) == before
    t.trials += 1
    t.survived += 1


READ_PRAGMAS = [
    ("PRAGMA version", "v1."),
    ("PRAGMA platform", "linux"),
    ("PRAGMA user_agent", "duckdb"),
    ("PRAGMA database_list", "lake"),
    ("PRAGMA show_databases", "lake"),
    ("PRAGMA database_size", "lake"),
    ("PRAGMA table_info('raw.quotes')", "symbol"),
    ("PRAGMA show_tables", ""),
    ("PRAGMA show_tables_expanded", ""),
    ("PRAGMA storage_info('raw.quotes')", ""),
    ("PRAGMA metadata_info", ""),
    ("PRAGMA functions", "md5"),
    ("PRAGMA collations", "nocase"),
]


def test_cli_sql_read_only_pragmas_still_answer(sql_env: Path, capsys, tally) -> None:
    t = tally(AREA)
    for sql, expected in READ_PRAGMAS:
        t.cases += 1
        code, out, err = _sql(capsys, sql)
        assert code == 0, (sql, err)
        assert expected in out, (sql, out[:300])
    t.trials += 1
    t.survived += 1


CALLS_REFUSED = [
    # SQL from a string would pass every check on the text
    ("SELECT * FROM query('SELECT * FROM ducklake_' || 'cleanup_old_files(''lake'')')", "query"),
    ("SELECT * FROM query_table('raw.quotes')", "query_table"),
    (
        "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
        "json_execute_serialized_sql",
    ),
    # writes: DuckLake's maintenance as a catalog function, quoted, commented
    ("SELECT * FROM lake.merge_adjacent_files()", "merge_adjacent_files"),
    ("SELECT * FROM \"ducklake_cleanup_old_files\"/**/('lake', cleanup_all => true)", ""),
    ("SELECT * FROM lake.set_option('data_inlining_row_limit', 0)", "set_option"),
    ("SELECT * FROM checkpoint()", "checkpoint"),
    ("SELECT * FROM force_checkpoint()", "force_checkpoint"),
    ("SELECT * FROM enable_logging()", "enable_logging"),
    ("SELECT * FROM truncate_duckdb_logs()", "truncate_duckdb_logs"),
    # files read past the sandbox, secrets
    ("SELECT * FROM sqlite_query('{home}/catalog.sqlite', 'SELECT 1')", "sqlite_query"),
    ("SELECT * FROM read_duckdb('{home}/x.duckdb')", "read_duckdb"),
    ("SELECT * FROM duckdb_secrets()", "duckdb_secrets"),
]


def test_cli_sql_refuses_table_functions_that_write_or_run_sql(
    sql_env: Path, capsys, tally
) -> None:
    """Table functions by an allow-list: those that write, run SQL built from strings or read
    past the sandbox are refused by name, however the name is written."""
    t = tally(AREA)
    before = _files(sql_env)
    for template, name in CALLS_REFUSED:
        sql = template.format(home=sql_env)
        t.cases += 1
        code, out, err = _sql(capsys, sql)
        assert code == 2, (sql, out)
        assert "Traceback" not in err and "is not allowed here" in err, (sql, err)
        assert f"{name or 'ducklake_cleanup_old_files'}()" in err, (sql, err)
    assert _files(sql_env) == before
    # the lake's own history and its files under the data path still read
    parquet = next((sql_env / "lake" / "raw" / "quotes").rglob("*.parquet"))
    for sql in (
        "SELECT count(*) > 0 AS ok FROM lake.snapshots()",
        "SELECT count(*) > 0 AS ok FROM ducklake_snapshots('lake')",
        f"SELECT count(*) > 0 AS ok FROM read_parquet('{parquet}')",
        "SELECT count(*) = 3 AS ok FROM range(3) t(i), unnest([1]) u(j)",
    ):
        t.cases += 1
        code, out, err = _sql(capsys, sql)
        assert code == 0 and out.splitlines() == ["ok", "True"], (sql, out, err)
    t.trials += 1
    t.survived += 1


def test_sandbox_reaches_the_data_path_only(
    lake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    """The sandbox may read and write the data path and nothing else (but the catalog's own
    files, which DuckDB allows by itself): no temporary folder, as DuckDB would add its own to
    the allowed folders. TMPDIR, the home and the folder above the data path are out of
    reach."""
    t = tally(AREA)
    settings = Settings(home=lake_home)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "note.txt").write_text("private", encoding="utf-8")
    monkeypatch.setenv("TMPDIR", str(tmp))
    con = open_reader(settings, sandbox=True)
    try:
        folders, paths, spill = con.execute(
            "SELECT current_setting('allowed_directories'), current_setting('allowed_paths'),"
            " current_setting('temp_directory')"
        ).fetchone()
        assert list(folders) == [settings.lake_data_path] and spill == ""
        # DuckDB itself allows the attached catalog's files when external access goes off
        catalog = str(settings.catalog_path)
        assert all(p.removeprefix(f"{Path.cwd()}/sqlite:").startswith(catalog) for p in paths)
        for sql in (
            f"SELECT * FROM glob('{tmp}/*')",
            f"SELECT * FROM read_text('{tmp / 'note.txt'}')",
            f"SELECT * FROM glob('{lake_home}/*')",
            f"SELECT * FROM read_text('{lake_home / 'lake'}/../dagster/dagster.yaml')",
        ):
            t.cases += 1
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql).fetchall()
    finally:
        con.close()
    t.trials += 1
    t.survived += 1


RUNAWAY = "SELECT count(*) FROM range(100000000) a, range(1000) b"
HUNGRY = "SELECT length(string_agg(md5(i::VARCHAR), ',')) FROM range(3000000) t(i)"


def test_cli_sql_timeout_stops_a_runaway_query(
    sql_env: Path, capsys, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    """HK_PIPELINE_SQL_TIMEOUT interrupts the statement (DuckDB has no timeout of its own);
    in the shell the next statement runs as usual on the same connection."""
    t = tally(AREA)
    monkeypatch.setenv("HK_PIPELINE_SQL_TIMEOUT", "1")
    started = time.monotonic()
    code, out, err = _sql(capsys, RUNAWAY)
    elapsed = time.monotonic() - started
    t.cases += 1
    assert code == 2 and elapsed < 10, (code, elapsed, out)
    errors = error_lines(err)
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "longer than HK_PIPELINE_SQL_TIMEOUT=1 s" in errors[0], errors[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{RUNAWAY};\nSELECT 42 AS answer;\n.quit\n"))
    t.cases += 1
    code = cli.main(["sql", "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0 and "HK_PIPELINE_SQL_TIMEOUT=1 s" in err, err
    assert out.splitlines() == ["answer", "42"], out
    t.trials += 1
    t.survived += 1


def test_cli_sql_memory_limit_stops_a_hungry_query(
    sql_env: Path, capsys, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    """HK_PIPELINE_SQL_MEMORY_LIMIT caps the statement (string_agg cannot spill); a query
    within it answers; the pipeline's own connections keep HK_PIPELINE_DUCKDB_MEMORY_LIMIT."""
    t = tally(AREA)
    monkeypatch.setenv("HK_PIPELINE_SQL_MEMORY_LIMIT", "50MB")
    t.cases += 1
    code, out, err = _sql(capsys, HUNGRY)
    assert code == 2, out
    errors = error_lines(err)
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "more memory than HK_PIPELINE_SQL_MEMORY_LIMIT=50MB" in errors[0], errors[0]
    t.cases += 1
    code, out, err = _sql(capsys, "SELECT current_setting('memory_limit') AS m")
    assert code == 0 and out.splitlines()[1] == "47.6 MiB", (out, err)
    writer = write_home(sql_env)
    try:
        assert writer.execute("SELECT current_setting('memory_limit')").fetchone()[0] != "47.6 MiB"
    finally:
        writer.close()
    t.trials += 1
    t.survived += 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HK_PIPELINE_SQL_TIMEOUT", "soon"),
        ("HK_PIPELINE_SQL_TIMEOUT", "-5"),
        ("HK_PIPELINE_SQL_TIMEOUT", "nan"),
        ("HK_PIPELINE_SQL_MEMORY_LIMIT", "lots"),
        ("HK_PIPELINE_SQL_MEMORY_LIMIT", "2"),
        ("HK_PIPELINE_SQL_MEMORY_LIMIT", "0GB"),
    ],
)
def test_cli_sql_limits_must_make_sense(
    variable: str, value: str, sql_env: Path, capsys, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    t = tally(AREA)
    monkeypatch.setenv(variable, value)
    code, out, err = _sql(capsys, "SELECT 1")
    t.trials += 1
    t.cases += 1
    assert code == 2 and not out, out
    errors = error_lines(err)
    assert len(errors) == 1 and f"{variable}={value!r}" in errors[0], err
    t.survived += 1


def test_cli_sql_shell_has_no_read_command(
    sql_env: Path, capsys, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    """DuckDB's own shell runs ``.read file``; this one has no such command: the line is SQL."""
    t = tally(AREA)
    script = sql_env / "lake" / "script.sql"
    script.write_text(f"COPY (SELECT 1) TO '{sql_env / 'lake' / 'x.csv'}';\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(f".read {script};\n.quit\n"))
    code = cli.main(["sql", "--format", "csv"])
    _, err = capsys.readouterr()
    t.trials += 1
    t.cases += 1
    assert code == 0 and error_lines(err), err
    assert not (sql_env / "lake" / "x.csv").exists()
    t.survived += 1
