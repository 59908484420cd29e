"""The command line: argument errors are one line, naming the date and the next trading day."""

from pathlib import Path

import pytest

from hk_pipeline import cli
from hk_pipeline_tests.lake_access import read_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.delenv("HK_PIPELINE_SOURCE", raising=False)
    monkeypatch.delenv("HK_PIPELINE_DAGSTER_POSTGRES_URL", raising=False)  # SQLite under the home
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.mark.fast
def test_holiday_names_the_next_trading_day(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "run", "--date", "2025-12-25", "--snapshot", "midday")
    assert code == 2
    assert err.strip() == (
        "error: --date 2025-12-25 is not an HKEX trading day (Christmas);"
        " the next trading day is 2025-12-29"
    )
    assert "Traceback" not in err


@pytest.mark.fast
def test_weekend_and_closure(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "run", "--date", "2025-11-22", "--snapshot", "close")
    assert code == 2 and "Saturday" in err and "2025-11-24" in err
    code, err = _run(capsys, "report", "--date", "2023-09-08", "--snapshot", "close")
    assert code == 2 and "2023-09-08" in err and "2023-09-11" in err


@pytest.mark.fast
def test_malformed_and_out_of_range_dates(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "run", "--date", "2025-13-01", "--snapshot", "midday")
    assert code == 2 and "'2025-13-01' is not a date" in err and len(err.strip().splitlines()) == 1
    code, err = _run(capsys, "run", "--date", "2020-01-02", "--snapshot", "midday")
    assert code == 2 and "before the first partition, 2023-07-03" in err


@pytest.mark.fast
def test_backfill_without_trading_days(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "backfill", "--start", "2025-12-25", "--end", "2025-12-26")
    assert code == 2 and "no trading day" in err and "2025-12-29" in err


@pytest.mark.fast
def test_dagster_home_prepared(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    _run(capsys, "run", "--date", "2025-12-25", "--snapshot", "midday")
    assert os.environ["DAGSTER_HOME"] == str(home / "dagster")
    text = (home / "dagster" / "dagster.yaml").read_text()
    assert text.startswith("# hk_pipeline: managed\n")
    assert "telemetry" in text and "run_monitoring" in text and "storage:" not in text


@pytest.mark.fast
def test_report_without_warehouse(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "report", "--date", "2025-11-21", "--snapshot", "midday")
    assert code == 2 and "no lake at" in err and "run the pipeline first" in err


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch):
    """Make the registry hand out the fake source; yields a setter for its variant."""
    from hk_pipeline.defs import resources
    from hk_pipeline.sources import registry
    from hk_pipeline_tests.defs.fake_source import FakeSource

    state = {"variant": "good"}
    monkeypatch.setattr(registry, "get_source", lambda name, settings: FakeSource(state["variant"]))
    resources._cached_source.cache_clear()
    yield state
    resources._cached_source.cache_clear()


def test_run_records_in_dagster_home_and_prints_summary(
    home: Path, fake_registry: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    import dagster as dg

    code = cli.main(["run", "--date", "2025-11-21", "--snapshot", "midday"])
    out = capsys.readouterr().out
    assert code == 0
    assert "2025-11-21|midday: run" in out and "succeeded" in out
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
    assert [(r.job_name, r.tags.get("dagster/partition")) for r in runs] == [
        ("snapshot_job", "2025-11-21|midday")
    ]


def test_failed_run_exits_1_with_the_message(
    home: Path, fake_registry: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_registry["variant"] = "all_bad"
    code = cli.main(["run", "--date", "2025-11-21", "--snapshot", "close"])
    captured = capsys.readouterr()
    assert code == 1
    assert "step raw_market: raw.quotes 2025-11-21|close refused" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_backfill_runs_trading_days_in_order_and_stops_at_failure(
    home: Path, fake_registry: dict, capsys: pytest.CaptureFixture[str]
) -> None:

    from hk_pipeline.defs import resources

    # one run covers the range; Christmas and the weekend are not partitions
    code = cli.main(
        ["backfill", "--start", "2025-12-24", "--end", "2025-12-29", "--snapshot", "close"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split()[:4] for line in lines] == [
        ["[1/1]", "2025-12-24|close..2025-12-29|close", "ok:", "2"]
    ]
    con = read_home(home / "warehouse.duckdb")
    try:
        loaded = con.execute(
            "SELECT DISTINCT trade_date::VARCHAR, snapshot FROM raw.quotes ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert loaded == [("2025-12-24", "close"), ("2025-12-29", "close")]

    fake_registry["variant"] = "all_bad"
    resources._cached_source.cache_clear()  # the source object is cached per process
    code = cli.main(
        ["backfill", "--start", "2025-12-29", "--end", "2025-12-30", "--batch-days", "1"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "in 2 run(s) of up to 1 trading day(s)" in captured.out
    assert "[1/2] 2025-12-29|midday..2025-12-29|close FAILED" in captured.out
    assert "[2/2]" not in captured.out
    assert "stopped" in captured.err and "raw.quotes 2025-12-29|midday refused" in captured.err


@pytest.mark.fast
def test_backfill_batch_days_must_be_positive(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(
        capsys, "backfill", "--start", "2025-12-29", "--end", "2025-12-30", "--batch-days", "0"
    )
    assert code == 2 and err.strip() == "error: --batch-days must be at least 1, got 0"


@pytest.mark.fast
def test_ranged_runs_plan_their_partitions_in_one_event_unless_told_not_to(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.PLANNED_EVENTS_VARIABLE, raising=False)
    cli.prepare_environment(None)
    import os

    assert os.environ[cli.PLANNED_EVENTS_VARIABLE] == "true"
    monkeypatch.setenv(cli.PLANNED_EVENTS_VARIABLE, "false")
    cli.prepare_environment(None)
    assert os.environ[cli.PLANNED_EVENTS_VARIABLE] == "false"


@pytest.mark.fast
def test_backfill_batches_are_consecutive_trading_days() -> None:
    from datetime import date

    from hk_pipeline import calendar

    days = calendar.trading_days(date(2025, 12, 22), date(2026, 1, 9))
    assert len(days) == 12  # Christmas, Boxing Day and New Year's Day are not trading days
    runs = cli.batches(days, 5)
    assert [d for run in runs for d in run] == days
    assert [len(run) for run in runs] == [5, 5, 2]
    assert cli.describe_range(runs[0][0], runs[0][-1], None) == (
        "2025-12-22|midday..2025-12-30|close"
    )
    assert cli.describe_range(days[0], days[0], "close") == "2025-12-22|close"


@pytest.mark.fast
def test_at_time_reads_iso_times_and_defaults_to_hong_kong() -> None:
    from hk_pipeline.cli import CliError, parse_instant

    assert parse_instant("2025-11-21T12:30+08:00") == "2025-11-21 12:30:00+08:00"
    assert parse_instant("2025-11-21T12:30") == "2025-11-21 12:30:00+08:00"
    assert parse_instant("2025-11-21 04:30:00+00:00") == "2025-11-21 04:30:00+00:00"
    with pytest.raises(CliError, match="is not a time"):
        parse_instant("yesterday")


# The smallest arguments each command accepts: a command added to the parser without a line
# here fails test_every_command_is_covered, so every command is tried with --source both ways.
MINIMAL_ARGS = {
    "run": ["--date", "2025-11-21", "--snapshot", "midday"],
    "backfill": ["--start", "2025-11-17", "--end", "2025-11-21"],
    "report": ["--date", "2025-11-21", "--snapshot", "close"],
    "sql": ["SELECT 1"],
    "migrate": [],
    "upkeep": [],
    "record": ["--snapshot", "close"],
    "ui": ["--port", "3001"],
}


@pytest.mark.fast
def test_every_command_is_covered() -> None:
    import re

    usage = cli.build_parser().format_usage()  # "... {run,backfill,...} ..."
    listed = re.search(r"\{([a-z,]+)\} \.\.\.", usage)
    assert listed is not None, usage
    assert set(listed.group(1).split(",")) == set(MINIMAL_ARGS)


@pytest.mark.fast
@pytest.mark.parametrize("command", sorted(MINIMAL_ARGS))
def test_global_options_before_and_after_the_command(command: str) -> None:
    parser = cli.build_parser()
    rest = MINIMAL_ARGS[command]
    before = parser.parse_args(["--source", "landing", command, *rest])
    after = parser.parse_args([command, "--source", "landing", *rest])
    at_end = parser.parse_args([command, *rest, "--source", "landing"])
    assert before.source == after.source == at_end.source == "landing"
    assert vars(before) == vars(after) == vars(at_end)
    assert parser.parse_args([command, *rest]).source is None  # HK_PIPELINE_SOURCE decides
    # given twice, the one nearer the end (after the command) wins
    both = parser.parse_args(["--source", "sample", command, "--source", "landing", *rest])
    assert both.source == "landing"


@pytest.mark.fast
def test_source_after_the_command_reaches_the_run(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's form, ``run --source landing --date ...``, selects the landing source."""
    import os

    monkeypatch.setenv("HK_PIPELINE_SOURCE", "sample")  # restored after the test
    code, err = _run(
        capsys, "run", "--source", "landing", "--date", "2025-12-25", "--snapshot", "close"
    )
    assert code == 2 and "Christmas" in err and "unrecognized arguments" not in err
    assert os.environ["HK_PIPELINE_SOURCE"] == "landing"


@pytest.mark.fast
def test_unknown_source_after_the_command_names_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--source", "bloomberg", "--date", "2025-11-21", "--snapshot", "close"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "argument --source: invalid choice: 'bloomberg'" in err and "landing" in err
