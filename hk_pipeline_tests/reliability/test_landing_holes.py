"""Landing holes (issue 13, items 1, 3 and 6): input that used to lose or fake data quietly.

- **empty files**: a landing file with a header and no rows (CSV) or 0 rows (Parquet) for a
  trading day is refused before anything is written, naming the file; an absent bars file
  still means "no bars"; an empty macro file adds nothing and removes nothing.
- **unknown symbols**: a quote or bar of a share the master in force does not list is
  quarantined with ``path:line`` and the reason (index codes in bars are exempt); a
  constituent the master does not list refuses the partition, naming symbol and file.
- **reports without data**: ``hk-pipeline report`` and the report asset refuse a partition
  without quotes, saying which command loads it.

End-to-end cases run the CLI on a copy of a landing home with 2025-11-21 mid-day loaded and
compare what a reader then sees with that home's state.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hk_pipeline import calendar
from hk_pipeline.defs.ingest import Refused, TableSpec, prepare_partition
from hk_pipeline.defs.raw import INDEX_LEVELS, INTRADAY_BARS, QUOTES
from hk_pipeline.defs.ref import INDEX_CONSTITUENTS, SECURITIES
from hk_pipeline.indices import INDEX_CODES
from hk_pipeline.schemas.validate import assess
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.landing import LandingEmptyFileError, LandingSource, session_traded
from hk_pipeline.sources.landing_read import COLUMNS, OPTIONAL_COLUMNS
from hk_pipeline_tests.lake_access import read_home
from hk_pipeline_tests.reliability.conftest import _built_once, hypothesis_settings
from hk_pipeline_tests.reliability.harness import (
    BASE,
    NEW,
    State,
    copy_home,
    error_lines,
    one_error_line,
    read_state,
    run_args,
    run_cli,
)

EMPTY = "empty files"
UNKNOWN = "unknown symbols"
REPORTS = "reports without data"

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "landing"
DAY = date(2025, 11, 21)
SNAP = "midday"
PART = (DAY.isoformat(), SNAP)
LANDING = {"HK_PIPELINE_SOURCE": "landing"}
MASTER = "securities/2025-11-21.csv"  # the master in force on DAY
# the file each table reads for (DAY, SNAP), and the table's spec
FILES: dict[str, tuple[str, TableSpec]] = {
    "quotes": ("quotes/2025-11-21_midday", QUOTES),
    "index_levels": ("index_levels/2025-11-21_midday", INDEX_LEVELS),
    "intraday_bars": ("intraday_bars/2025-11-21_midday", INTRADAY_BARS),
    "securities": ("securities/2025-11-21", SECURITIES),
    "index_constituents": ("index_constituents/2025-09-08", INDEX_CONSTITUENTS),
}
HYPOTHESIS = hypothesis_settings(40, long_examples=300)
_ARROW = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="Asia/Hong_Kong"),
}


# --- homes and files ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def landing_home(shared_root: Path) -> Path:
    """A landing home with the fixture's files and PART loaded; never modified (copy it)."""

    def build(home: Path) -> None:
        shutil.copytree(FIXTURE, home / "landing")
        result = run_cli(home, *run_args(PART), env=LANDING)
        assert result.returncode == 0, result.stderr[-2000:]

    return _built_once(shared_root, "hk_landing_holes", build)


@pytest.fixture(scope="session")
def landing_state(landing_home: Path) -> State:
    return read_state(landing_home)


@pytest.fixture
def landing_trial(landing_home: Path, tmp_path: Path) -> Path:
    return copy_home(landing_home, tmp_path / "home")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the landing fixture folder, for the source alone (no warehouse)."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "landing"))


def header_only(path: Path) -> Path:
    """Cut the CSV at ``path`` to its header line (kept byte for byte, line end included)."""
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"\n") + 1])
    return path


def zero_row_parquet(csv_path: Path, kind: str) -> Path:
    """Replace the CSV by a Parquet file of the same stem with the kind's columns, 0 rows."""
    spec = {**COLUMNS[kind], **OPTIONAL_COLUMNS.get(kind, {})}
    schema = pa.schema([(name, _ARROW[t]) for name, t in spec.items()])
    path = csv_path.with_suffix(".parquet")
    pq.write_table(schema.empty_table(), path)
    csv_path.unlink()
    return path


def tables_differing(got: State, want: State) -> list[tuple]:
    keys = set(got.tables) | set(want.tables)
    return sorted((k for k in keys if got.tables.get(k) != want.tables.get(k)), key=str)


# --- empty files ----------------------------------------------------------------------------


def test_every_empty_file_is_refused_naming_it(tmp_path: Path, tally) -> None:
    """Each required kind, CSV with a header only and Parquet with 0 rows: the source refuses
    the file, so the table's load is refused before anything is written."""
    t = tally(EMPTY)
    for kind, (stem, spec) in FILES.items():
        for fmt in ("csv", "parquet"):
            t.trials += 1
            root = Path(shutil.copytree(FIXTURE, tmp_path / f"{kind}-{fmt}" / "landing"))
            path = header_only(root / f"{stem}.csv")
            if fmt == "parquet":
                path = zero_row_parquet(path, kind)
            with pytest.raises(Refused) as refused:
                prepare_partition(spec, LandingSource(root), DAY, SNAP)
            message = refused.value.failure.description or ""
            rows = "0 rows" if fmt == "parquet" else "a header but no data rows"
            assert f"{spec.table} {DAY}|{SNAP} not loaded: {path}: has {rows}" in message
            assert "Re-deliver the complete file" in message and "\n" not in message
            cause = refused.value.__cause__
            assert isinstance(cause, LandingEmptyFileError) and isinstance(cause, SourceError)
            assert cause.path == path
            t.cases += 1
            t.survived += 1
    # an empty master also refuses what is checked against it
    root = Path(shutil.copytree(FIXTURE, tmp_path / "master" / "landing"))
    header_only(root / MASTER)
    t.trials += 1
    with pytest.raises(Refused, match=r"securities/2025-11-21\.csv: has a header but no data"):
        prepare_partition(QUOTES, LandingSource(root), DAY, SNAP)
    t.cases += 1
    t.survived += 1


def test_no_bars_file_still_means_no_bars(root: Path, tally) -> None:
    t = tally(EMPTY)
    t.trials += 1
    (root / "intraday_bars" / "2025-11-21_midday.csv").unlink()
    prepared = prepare_partition(INTRADAY_BARS, LandingSource(root), DAY, SNAP)
    assert prepared.outcome.n_rows == 0 and prepared.outcome.n_rejected == 0
    t.cases += 1
    t.survived += 1


def test_only_a_session_that_did_not_trade_may_be_empty(root: Path, tally) -> None:
    """A header-only master dated on a Saturday is accepted for that Saturday (no session),
    refused for the Monday it is still in force on."""
    t = tally(EMPTY)
    saturday, monday = date(2025, 11, 22), date(2025, 11, 24)
    assert not session_traded(saturday) and not session_traded(date(2025, 12, 25), "close")
    assert session_traded(DAY, SNAP) and session_traded(monday)
    t.trials += 1
    shutil.copy(root / MASTER, root / "securities" / "2025-11-22.csv")
    path = header_only(root / "securities" / "2025-11-22.csv")
    source = LandingSource(root)
    assert source.securities(saturday).empty
    with pytest.raises(LandingEmptyFileError, match=f"{path}: has a header but no data rows"):
        source.securities(monday)
    t.cases += 2
    t.survived += 1


def test_an_empty_quotes_file_leaves_the_warehouse_as_it_was(
    landing_trial: Path, landing_state: State, tally
) -> None:
    """The reproduced case: re-delivering the loaded day's quotes as a header only (with the
    index levels a header only and the bars as a 0-row Parquet) used to empty raw.quotes
    while the marts kept the old numbers, and the error named neither file nor cause."""
    t = tally(EMPTY)
    t.trials += 1
    landing = landing_trial / "landing"
    paths = [
        header_only(landing / "quotes" / "2025-11-21_midday.csv"),
        header_only(landing / "index_levels" / "2025-11-21_midday.csv"),
        zero_row_parquet(
            header_only(landing / "intraday_bars" / "2025-11-21_midday.csv"), "intraday_bars"
        ),
    ]
    result = run_cli(landing_trial, *run_args(PART), env=LANDING)
    assert result.returncode == 1, result.stdout[-1000:]
    error = one_error_line(result.stderr, *(f"{path}: has " for path in paths))
    assert error.count("Re-deliver the complete file") == 3
    # every table as it was: raw partitions, marts, quarantine, ref
    assert tables_differing(read_state(landing_trial), landing_state) == []
    t.cases += len(paths)
    t.survived += 1


def test_an_empty_quotes_file_keeps_the_rest_of_its_delivery_out(
    landing_trial: Path, landing_state: State, tally
) -> None:
    """Only the quotes file is empty; the same delivery's index levels are whole and changed.
    Nothing of the partition is written: a day never holds new levels beside old quotes."""
    t = tally(EMPTY)
    t.trials += 1
    landing = landing_trial / "landing"
    quotes = header_only(landing / "quotes" / "2025-11-21_midday.csv")
    levels = landing / "index_levels" / "2025-11-21_midday.csv"
    levels.write_text(levels.read_text().replace("25734.99", "25740.01"))
    result = run_cli(landing_trial, *run_args(PART), env=LANDING)
    assert result.returncode == 1, result.stdout[-1000:]
    error = one_error_line(
        result.stderr,
        f"{quotes}: has a header but no data rows",
        f"raw.index_levels {DAY}|{SNAP} not loaded: its delivery is incomplete ({quotes} is",
        f"raw.intraday_bars {DAY}|{SNAP} not loaded: its delivery is incomplete",
    )
    assert error.count("Re-deliver the complete file") == 1
    assert tables_differing(read_state(landing_trial), landing_state) == []
    t.cases += 1
    t.survived += 1


def test_an_empty_master_leaves_the_warehouse_as_it_was(
    landing_trial: Path, landing_state: State, tally
) -> None:
    t = tally(EMPTY)
    t.trials += 1
    path = header_only(landing_trial / "landing" / MASTER)
    result = run_cli(landing_trial, *run_args(PART), env=LANDING)
    assert result.returncode == 1
    one_error_line(
        result.stderr, f"ref.securities {DAY}|{SNAP} not loaded: {path}: has a header but no"
    )
    assert tables_differing(read_state(landing_trial), landing_state) == []
    t.cases += 1
    t.survived += 1


def test_an_empty_macro_file_adds_nothing_and_removes_nothing(root: Path, tally) -> None:
    t = tally(EMPTY)
    as_of = calendar.snapshot_time(DAY, SNAP)
    want = LandingSource(root).macro_series(as_of)
    assert len(want) > 0
    # another file with a header only, and one with 0 rows in Parquet: nothing changes
    t.trials += 1
    extra = root / "macro_series" / "more.csv"
    shutil.copy(root / "macro_series" / "readings.csv", extra)
    header_only(extra)
    shutil.copy(extra, root / "macro_series" / "late.csv")
    zero_row_parquet(root / "macro_series" / "late.csv", "macro_series")
    got = LandingSource(root).macro_series(as_of)
    assert got.drop(columns="source").equals(want.drop(columns="source"))
    t.cases += 2
    t.survived += 1


# --- unknown symbols ------------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _master_symbols(root: Path) -> set[str]:
    return {line.split(",")[0] for line in _lines(root / MASTER)[1:]}


@st.composite
def deliveries(draw: st.DrawFn, known: list[str]) -> tuple[list[int], list[str]]:
    """Where strangers go among a file's data rows (sorted positions) and their codes."""
    codes = st.integers(0, 99_999).map(lambda n: f"{n:05d}").filter(lambda c: c not in known)
    n = draw(st.integers(0, 4))
    strangers = draw(st.lists(codes, min_size=n, max_size=n, unique=True))
    where = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    return sorted(where), strangers


def _with_strangers(path: Path, where: list[int], codes: list[str]) -> dict[int, str]:
    """Insert a copy of a data row under each stranger's code; {line: code} of the inserts."""
    header, *rows = _lines(path)
    out, inserted = [header], {}
    for i, (pos, code) in enumerate(zip(where, codes, strict=True)):
        template = rows[(pos + i) % len(rows)].split(",")
        if template[0] in INDEX_CODES:  # copy a share's bar, not an index's
            template = rows[0].split(",")
        rows.insert(min(pos, len(rows)), ",".join([code, *template[1:]]))
    for line_no, row in enumerate(rows, start=2):
        out.append(row)
        if row.split(",")[0] in codes:
            inserted[line_no] = row.split(",")[0]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return inserted


def test_rows_of_unlisted_shares_are_quarantined_with_file_and_line(tmp_path: Path, tally) -> None:
    """Generated deliveries of quotes and bars with strangers (codes the master in force does
    not list) at random places: exactly the strangers are rejected, each with ``path:line``
    and the master's file; index bars stay; the threshold judges the share as usual."""
    t = tally(UNKNOWN)
    t.trials += 1
    known = sorted(_master_symbols(FIXTURE))
    crit = {*INDEX_CODES}
    count = [0]

    @HYPOTHESIS
    @given(quotes=deliveries(known), bars=deliveries(known), threshold=st.sampled_from([0.01, 0.2]))
    def check(quotes, bars, threshold: float) -> None:
        count[0] += 1
        root = Path(shutil.copytree(FIXTURE, tmp_path / str(count[0]) / "landing"))
        master = root / MASTER
        for spec, stem, (where, codes) in (
            (QUOTES, FILES["quotes"][0], quotes),
            (INTRADAY_BARS, FILES["intraday_bars"][0], bars),
        ):
            path = root / f"{stem}.csv"
            inserted = _with_strangers(path, where, codes)
            prepared = prepare_partition(spec, LandingSource(root), DAY, SNAP)
            outcome = prepared.outcome
            got = dict(
                zip(outcome.rejected["row_number"] + 2, outcome.rejected["reason"], strict=True)
            )
            assert got == {
                line: f"{path}:{line}: symbol {code} is not in the securities master in force"
                f" on {DAY} ({master})"
                for line, code in inserted.items()
            }
            assert outcome.frame.height == outcome.n_rows - len(inserted)
            kept = set(outcome.valid["symbol"])
            assert not kept & set(codes)
            if spec is INTRADAY_BARS:
                assert set(INDEX_CODES) <= kept  # index bars are not shares: exempt
            verdict = assess(outcome, threshold=threshold, critical_symbols=crit)
            share = len(inserted) / outcome.n_rows
            assert verdict.severity == (
                "OK" if not inserted else "WARN" if share <= threshold else "ERROR"
            )
            if verdict.severity == "ERROR":
                assert f"first: {path}:" in verdict.message
        t.cases += 1

    check()
    t.survived += 1


def test_quarantined_strangers_in_the_warehouse(
    landing_trial: Path, landing_state: State, tally
) -> None:
    """A re-delivery with a stranger among the quotes and the bars, under a 20% threshold:
    the strangers go to quarantine with their reason, every other table is as before."""
    t = tally(UNKNOWN)
    t.trials += 1
    landing = landing_trial / "landing"
    quotes = landing / "quotes" / "2025-11-21_midday.csv"
    bars = landing / "intraday_bars" / "2025-11-21_midday.csv"
    _with_strangers(quotes, [5], ["09999"])
    _with_strangers(bars, [0], ["08888"])
    result = run_cli(
        landing_trial, *run_args(PART), env={**LANDING, "HK_PIPELINE_QUARANTINE_THRESHOLD": "0.2"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    master = landing / MASTER
    con = read_home(landing_trial)
    try:
        reasons = con.execute(
            "SELECT 'quotes', reason FROM quarantine.quotes WHERE trade_date = ? AND snapshot = ?"
            " UNION ALL SELECT 'bars', reason FROM quarantine.intraday_bars"
            " WHERE trade_date = ? AND snapshot = ? ORDER BY 1",
            [DAY, SNAP, DAY, SNAP],
        ).fetchall()
        symbols = con.execute(
            "SELECT count(*) FILTER (symbol = '09999'), count(*) FROM raw.quotes"
            " WHERE trade_date = ? AND snapshot = ?",
            [DAY, SNAP],
        ).fetchone()
    finally:
        con.close()
    where = f"is not in the securities master in force on {DAY} ({master})"
    assert reasons == [
        ("bars", f"{bars}:2: symbol 08888 {where}"),
        ("quotes", f"{quotes}:7: symbol 09999 {where}"),
    ]
    assert symbols == (0, 12)
    state = read_state(landing_trial)
    assert {k[0] for k in tables_differing(state, landing_state)} == {
        "quarantine.quotes",
        "quarantine.intraday_bars",
        "raw.landing_loads",  # the re-delivered files' checksums
    }
    t.cases += 2
    t.survived += 1


def test_an_unlisted_constituent_refuses_the_partition(
    landing_trial: Path, landing_state: State, tally
) -> None:
    """Even under a 20% threshold (one row of 18 is within it), a member the master does
    not list refuses ref.index_constituents, naming the symbol and both files."""
    t = tally(UNKNOWN)
    t.trials += 1
    members = landing_trial / "landing" / "index_constituents" / "2025-09-08.csv"
    with members.open("a", encoding="utf-8") as fh:
        fh.write("HSI,09999,1000000000,0.5,1.0\n")
    line = len(_lines(members))
    result = run_cli(
        landing_trial, *run_args(PART), env={**LANDING, "HK_PIPELINE_QUARANTINE_THRESHOLD": "0.2"}
    )
    assert result.returncode == 1
    error = one_error_line(
        result.stderr,
        f"ref.index_constituents {DAY}|{SNAP} refused",
        "critical rows rejected: 09999",
    )
    master = landing_trial / "landing" / MASTER
    assert (
        f"first: {members}:{line}: symbol 09999 is not in the securities master in force on"
        f" {DAY} ({master})" in error
    )
    differing = {k[0] for k in tables_differing(read_state(landing_trial), landing_state)}
    assert differing == {"quarantine.index_constituents"}  # the refused row, with its reason
    t.cases += 1
    t.survived += 1


# --- reports without data -------------------------------------------------------------------


def test_report_refuses_a_partition_without_quotes(trial_home: Path, tally) -> None:
    """On the sample market: the loaded partition prints its review, the one never loaded
    used to print a market of flat shares with zero turnover and exit 0."""
    t = tally(REPORTS)
    t.trials += 1
    day, snapshot = NEW
    result = run_cli(trial_home, "report", "--date", day, "--snapshot", snapshot)
    assert result.returncode == 1 and result.stdout == "", result.stdout[:500]
    assert error_lines(result.stderr) == [
        f"error: no quotes for {day} {snapshot} in the warehouse, so there is no market to"
        f" review; load the partition first with: hk-pipeline run --date {day}"
        f" --snapshot {snapshot}"
    ], result.stderr[-1000:]
    loaded = run_cli(trial_home, "report", "--date", BASE[0], "--snapshot", BASE[1])
    assert loaded.returncode == 0 and "## Market Overview" in loaded.stdout
    t.cases += 2
    t.survived += 1


def test_report_asset_refuses_a_partition_without_quotes(trial_home: Path, tally) -> None:
    from hk_pipeline.defs.report import market_report
    from hk_pipeline.defs.resources import PipelineSettingsResource, WarehouseResource

    t = tally(REPORTS)
    t.trials += 1
    reports = trial_home / "reports"
    before = sorted(p.name for p in reports.iterdir()) if reports.exists() else []
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [market_report],
            resources={
                "warehouse": WarehouseResource(home=str(trial_home)),
                "pipeline": PipelineSettingsResource(reports_dir=str(reports)),
            },
            partition_key=f"{NEW[0]}|{NEW[1]}",
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"mart/market_report {NEW[0]}|{NEW[1]}: no quotes for")
    assert f"hk-pipeline run --date {NEW[0]} --snapshot {NEW[1]}" in description
    assert not result.get_asset_materialization_events()
    after = sorted(p.name for p in reports.iterdir()) if reports.exists() else []
    assert after == before  # no review file of the missing partition
    t.cases += 1
    t.survived += 1


def test_write_report_refuses_before_writing(base_home: Path, tmp_path: Path, tally) -> None:
    """The library call under both: write_report raises before writing any file."""
    from hk_pipeline.report.files import write_report
    from hk_pipeline.report.markdown import NoQuotesError

    t = tally(REPORTS)
    t.trials += 1
    con = read_home(base_home)
    try:
        with pytest.raises(NoQuotesError, match=f"no quotes for {NEW[0]} {NEW[1]}"):
            write_report(con, date.fromisoformat(NEW[0]), NEW[1], tmp_path / "reports")
    finally:
        con.close()
    assert not (tmp_path / "reports").exists()
    t.cases += 1
    t.survived += 1
