"""Dagster's own state: stock SQLite storage under the home, or PostgreSQL when
HK_PIPELINE_DAGSTER_POSTGRES_URL is set (hk_pipeline/instance_config.py).

The instances here are loaded from the written dagster.yaml with Dagster's public API and run a
trivial asset, so the checks read what Dagster really stored, not the yaml text alone.
"""

from __future__ import annotations

import ast
import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest
import yaml

from hk_pipeline import instance_config
from hk_pipeline.config import DAGSTER_POSTGRES_VARIABLE, ConfigError, Settings, load_settings
from hk_pipeline.instance_config import MANAGED_MARKER, dagster_yaml, write_dagster_home
from hk_pipeline.paths import PACKAGE_DIR
from hk_pipeline_tests.postgres import PgDatabase

SECRET = "hkp-pg-secret-5e1d"  # a password the tests look for everywhere afterwards


@dg.asset
def answer() -> int:
    return 42


def _settings(home: Path, url: str = "") -> Settings:
    """Settings as the CLI reads them from the environment."""
    env = {"HK_PIPELINE_HOME": str(home)}
    if url:
        env[DAGSTER_POSTGRES_VARIABLE] = url
    return load_settings(env)


def _with_password(database: PgDatabase, password: str) -> str:
    """The database's URL with a password; the test server trusts loopback, so it is unused."""
    return database.url.replace(f"//{database.user}@", f"//{database.user}:{password}@")


@pytest.fixture
def no_postgres_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DAGSTER_POSTGRES_VARIABLE, raising=False)


def test_default_is_dagsters_sqlite_storage_under_the_home(
    tmp_path: Path, no_postgres_variable: None
) -> None:
    settings = _settings(tmp_path)
    config = yaml.safe_load(dagster_yaml(settings))
    overrides = {"storage", "run_storage", "event_log_storage", "schedule_storage"}
    assert not overrides & config.keys()

    home = write_dagster_home(settings)
    assert home == tmp_path / "dagster"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "SqliteScheduleStorage"
        result = dg.materialize([answer], instance=instance)
    assert result.success
    with closing(sqlite3.connect(home / "history" / "runs.db")) as con:
        statuses = con.execute("SELECT status FROM runs WHERE run_id = ?", (result.run_id,))
        assert statuses.fetchall() == [("SUCCESS",)]
    assert (home / "history" / "runs" / f"{result.run_id}.db").is_file()  # the run's event log


def test_postgres_url_puts_runs_event_log_and_schedules_in_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: PgDatabase
) -> None:
    monkeypatch.setenv(DAGSTER_POSTGRES_VARIABLE, pg_database.url)  # what Dagster reads
    home = write_dagster_home(_settings(tmp_path, pg_database.url))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for storage in (instance.run_storage, instance.event_log_storage):
            assert "Postgres" in type(storage).__name__
        assert "Postgres" in type(instance.schedule_storage).__name__
        result = dg.materialize([answer], instance=instance)
    assert result.success
    with closing(pg_database.connect()) as con, con.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchall() == [("SUCCESS",)]
        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        assert cur.fetchone() == (1,)
    assert not (home / "history").exists()  # nothing went to SQLite


def test_the_cli_follows_the_variable_at_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: PgDatabase
) -> None:
    from hk_pipeline import cli

    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.setenv(DAGSTER_POSTGRES_VARIABLE, pg_database.url)
    settings = cli.prepare_environment(None)
    assert settings.dagster_postgres_url == pg_database.url
    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME, as the UI and the daemon use it
        assert "Postgres" in type(instance.run_storage).__name__
    monkeypatch.delenv(DAGSTER_POSTGRES_VARIABLE)
    cli.prepare_environment(None)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"


def test_a_postgresql_url_gets_the_driver_dagster_postgres_needs() -> None:
    """dagster-postgres works through psycopg2 (its ``NOTIFY run_events, :id`` fails under
    psycopg 3's server-side parameters), and a ``postgresql://`` URL names no driver: SQLAlchemy
    picks its default, psycopg2 up to 2.0, psycopg 3 from 2.1 (dagster-io/dagster#33958)."""
    from sqlalchemy.engine import make_url

    driver = make_url("postgresql://u@127.0.0.1:5432/x").get_dialect().driver
    assert driver == "psycopg2", (
        f"SQLAlchemy maps postgresql:// URLs to {driver}, but dagster-postgres needs psycopg2:"
        " keep sqlalchemy below 2.1 in pyproject.toml / requirements.lock"
    )


def test_the_password_is_never_written(tmp_path: Path) -> None:
    url = f"postgresql://u:{SECRET}@127.0.0.1:5432/x"
    settings = _settings(tmp_path, url)
    text = dagster_yaml(settings)
    assert SECRET not in text and "127.0.0.1" not in text
    config = yaml.safe_load(text)
    assert config["storage"] == {"postgres": {"postgres_url": {"env": DAGSTER_POSTGRES_VARIABLE}}}
    home = write_dagster_home(settings)
    assert SECRET not in (home / "dagster.yaml").read_text(encoding="utf-8")


def test_the_password_stays_out_of_dagsters_records_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: PgDatabase
) -> None:
    url = _with_password(pg_database, SECRET)
    monkeypatch.setenv(DAGSTER_POSTGRES_VARIABLE, url)
    home = write_dagster_home(_settings(tmp_path, url))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert "Postgres" in type(instance.run_storage).__name__  # connected with the URL
        assert SECRET not in instance.info_str()  # the UI's Deployment > Configuration page
        assert dg.materialize([answer], instance=instance).success
    with closing(pg_database.connect()) as con, con.cursor() as cur:
        for table in ("runs", "event_logs"):
            cur.execute(f"SELECT t::text FROM {table} AS t")
            rows = [row for (row,) in cur.fetchall()]
            assert rows and not [row for row in rows if SECRET in row], table
    for path in home.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


def test_a_postgres_scheme_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=DAGSTER_POSTGRES_VARIABLE) as caught:
        write_dagster_home(_settings(tmp_path, f"postgres://u:{SECRET}@db.example:5432/dagster"))
    assert SECRET not in str(caught.value) and "postgresql://" in str(caught.value)


def test_at_most_four_runs_at_once(tmp_path: Path, no_postgres_variable: None) -> None:
    home = write_dagster_home(_settings(tmp_path))
    config = yaml.safe_load((home / "dagster.yaml").read_text(encoding="utf-8"))
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 4
    assert config["run_monitoring"]["enabled"] is True
    assert config["telemetry"]["enabled"] is False and config["nux"]["enabled"] is False
    with dg.DagsterInstance.from_config(str(home)) as instance:  # as Dagster's queue reads it
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4


def test_a_managed_file_is_rewritten_when_it_differs(tmp_path: Path) -> None:
    pg = _settings(tmp_path, "postgresql://u@127.0.0.1:5432/x")
    path = write_dagster_home(pg) / "dagster.yaml"
    assert path.read_text(encoding="utf-8").startswith(MANAGED_MARKER + "\n")
    sqlite = _settings(tmp_path)
    write_dagster_home(sqlite)  # the variable unset: back to SQLite at the next command
    assert path.read_text(encoding="utf-8") == dagster_yaml(sqlite)
    path.write_text(dagster_yaml(sqlite) + "# a hand edit\n", encoding="utf-8")
    write_dagster_home(sqlite)
    assert path.read_text(encoding="utf-8") == dagster_yaml(sqlite)


def test_an_unmanaged_file_is_left_alone_with_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    path = settings.dagster_home / "dagster.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("telemetry:\n  enabled: true\n", encoding="utf-8")
    write_dagster_home(settings)
    assert path.read_text(encoding="utf-8") == "telemetry:\n  enabled: true\n"
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and MANAGED_MARKER in err


def test_an_earlier_versions_copy_is_replaced_but_an_edited_one_that_cannot_load_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    path = settings.dagster_home / "dagster.yaml"
    path.parent.mkdir(parents=True)
    old = "event_log_storage:\n  module: hk_pipeline.defs.event_log\n  class: Gone\n"
    path.write_text(old, encoding="utf-8")
    with pytest.raises(ConfigError, match="delete the file"):
        write_dagster_home(settings)
    assert path.read_text(encoding="utf-8") == old
    digest = hashlib.sha256(old.encode()).hexdigest()
    monkeypatch.setattr(instance_config, "EARLIER_PACKAGED_COPIES", frozenset({digest}))
    write_dagster_home(settings)  # an unedited copy the CLI made before is its to replace
    assert path.read_text(encoding="utf-8") == dagster_yaml(settings)


def _private_dagster_imports(path: Path) -> list[str]:
    """``dagster._...`` modules (or ``from dagster import _x``) that a file imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("dagster._")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("dagster._"):
                found.append(node.module)
            elif node.module == "dagster":
                found += [f"dagster.{a.name}" for a in node.names if a.name.startswith("_")]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("dagster._")
        ):
            found.append(node.args[0].value)  # importlib.import_module("dagster._...")
    return found


def test_no_module_imports_dagsters_private_modules() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert PACKAGE_DIR / "instance_config.py" in files
    offenders = {str(p.relative_to(PACKAGE_DIR)): _private_dagster_imports(p) for p in files}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_private_import_check_catches_each_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import dagster._core.events\n"
        "from dagster._core.storage import x\n"
        "from dagster import _check\n"
        "import importlib\n"
        "importlib.import_module('dagster._serdes')\n"
        "import dagster as dg\n"
        "from dagster import asset\n",
        encoding="utf-8",
    )
    assert _private_dagster_imports(sample) == [
        "dagster._core.events",
        "dagster._core.storage",
        "dagster._check",
        "dagster._serdes",
    ]
