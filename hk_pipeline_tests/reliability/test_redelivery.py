"""Re-deliveries: a corrected master or constituent list leaves ref.* as a fresh load would.

A landing master ``securities/<D>.csv`` (and a list ``index_constituents/<D>.csv``) is the
whole truth from D. Files arrive in any order and a file may be delivered again with a symbol
dropped, added or changed, for any date, the past included. After each delivery is loaded
(*incremental*), the ref tables must equal what loading the final files into an empty home in
effective-date order gives (*fresh*), and both must equal the chain worked out here in plain
Python from the files (:func:`expected`): a version ends on the first later loaded date that
has a new row for its entity or omits it; a row validation rejected holds the entity's
previous version across its date (``warehouse.writes.Supersede``).

Loads go through the functions a run's ref assets call (``prepare_partition`` reads the real
landing folder and validates, ``load_partition`` assesses and writes) on lakes opened with
``connect``, without a Dagster run per load; one end-to-end test goes through ``hk-pipeline
run``. Compared: every column except ``run_id`` and ``loaded_at`` (which run wrote a row, and
when, differ by construction); the quarantine (minus run_id, quarantined_at, and the
``valid_to`` inside a quarantined record: the source's guess, the next file in the folder at
the time, which the write does not use) and the landing-load records (minus run_id,
loaded_at) must agree too.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from hk_pipeline.defs.ingest import TableSpec, load_partition, prepare_partition
from hk_pipeline.defs.ref import INDEX_CONSTITUENTS, SECURITIES
from hk_pipeline.defs.resources import PipelineSettingsResource
from hk_pipeline.sources.landing import LandingSource
from hk_pipeline_tests.lake_access import read_home, write_home
from hk_pipeline_tests.reliability.conftest import LONG
from hk_pipeline_tests.reliability.harness import error_lines, run_args, run_cli, start_cli

AREA = "re-deliveries"
SNAPSHOT = "close"
# A master and a list in the landing folder from the start, never loaded: the file of the
# other kind in force that a load reads (a master load reads the day's constituents, a list
# load checks its symbols against the master).
ANCHOR = date(2025, 10, 31)
DAYS = (date(2025, 11, 3), date(2025, 11, 5), date(2025, 11, 7), date(2025, 11, 11))
# In every master: the only constituents (a constituent the master does not list refuses
# its partition), never rejected (a rejected constituent refuses it too).
CORE = ("00005", "00388", "00700")
OPTIONAL = ("00002", "00016", "01299", "09988")  # come, go, change and get rejected
INDICES = ("HSI", "HSTECH")
SPECS = {"securities": SECURITIES, "index_constituents": INDEX_CONSTITUENTS}
HEADERS = {
    "securities": "symbol,name,board,industry,board_lot,issued_shares,currency",
    "index_constituents": "index_code,symbol,issued_shares,faf,cap_factor",
}
COMPARED_TABLES = (
    ("ref.securities", "run_id, loaded_at"),
    ("ref.index_constituents", "run_id, loaded_at"),
    ("quarantine.securities", "run_id, quarantined_at"),
    ("quarantine.index_constituents", "run_id, quarantined_at"),
    ("raw.landing_loads", "run_id, loaded_at"),
)

# About 0.3 s per load (one lake transaction each); an example loads ~6 files.
MAX_DELIVERIES = 10 if LONG else 5
SETTINGS = settings(
    max_examples=200 if LONG else 8,
    deadline=None,
    # CI sees the same sequences every run; long mode explores fresh ones
    derandomize=not LONG,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: CI time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
IN_ORDER_SETTINGS = settings(SETTINGS, max_examples=100 if LONG else 5)


@dataclass(frozen=True)
class Delivery:
    """One file put into the landing folder: ``<kind>/<day>.csv`` with ``rows``."""

    kind: str  # securities | index_constituents
    day: date
    rows: tuple[tuple[object, ...], ...]

    def text(self) -> str:
        return "\n".join([HEADERS[self.kind], *(",".join(map(str, r)) for r in self.rows)]) + "\n"


def master_row(symbol: str, name: str = "Alpha", lot: int = 100, shares: int = 1000) -> tuple:
    return (symbol, f"{name} {symbol}", "Main Board", "Financials", lot, shares, "HKD")


def member_row(index: str, symbol: str, shares: int = 1000, faf: float = 1.0) -> tuple:
    return (index, symbol, shares, faf, 1.0)


ANCHOR_FILES = (
    Delivery("securities", ANCHOR, tuple(master_row(s) for s in CORE)),
    Delivery("index_constituents", ANCHOR, (member_row("HSI", "00005"),)),
)


# --- loading --------------------------------------------------------------------------------

PIPELINE = PipelineSettingsResource(
    # small files: one rejected row is far above the default 1 %; a real master of 2,728
    # shares passes 27
    quarantine_threshold=1.0,
    reports_dir="unused",
)


def load(con: duckdb.DuckDBPyConnection, root: Path, kind: str, day: date, run_id: str) -> None:
    """Load the ``kind`` file in force on ``day`` as the ref asset's run does."""
    spec: TableSpec = SPECS[kind]
    market = LandingSource(root)  # a new one per load, as a run gets
    prepared = prepare_partition(spec, market, day, SNAPSHOT)
    context = SimpleNamespace(run=SimpleNamespace(run_id=run_id))  # all load_partition reads
    load_partition(context, spec, market, con, PIPELINE, day, SNAPSHOT, prepared)  # type: ignore[arg-type]


def deliver(root: Path, d: Delivery) -> None:
    folder = root / d.kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{d.day.isoformat()}.csv").write_text(d.text(), encoding="utf-8")


def final_files(deliveries: list[Delivery]) -> list[Delivery]:
    """The last delivery of each (kind, day), in effective-date order, masters first."""
    last = {(d.kind, d.day): d for d in deliveries}
    return sorted(last.values(), key=lambda d: (d.day, d.kind != "securities"))


def tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    out = {}
    for name, lineage in COMPARED_TABLES:
        rows = con.execute(f"SELECT * EXCLUDE ({lineage}) FROM {name} ORDER BY ALL").fetchall()
        if name.startswith("quarantine."):
            # the record is the row as the source sent it: its valid_to is the next file in
            # the folder at the time, which the write does not use (the chain is rebuilt)
            rows = [(*r[:3], _without_valid_to(r[3]), *r[4:]) for r in rows]
        out[name] = rows
    return out


def _without_valid_to(record: str) -> str:
    fields = json.loads(record)
    fields.pop("valid_to", None)
    return json.dumps(fields, sort_keys=True)


@dataclass
class Homes:
    """Two lakes and one landing folder, emptied before each example (opening a lake costs
    about a second, emptying its tables a tenth of that)."""

    incremental: duckdb.DuckDBPyConnection
    fresh: duckdb.DuckDBPyConnection
    root: Path

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        for d in ANCHOR_FILES:
            deliver(self.root, d)
        for con in (self.incremental, self.fresh):
            con.execute("BEGIN TRANSACTION")
            for name, _ in COMPARED_TABLES:
                con.execute(f"DELETE FROM {name}")
            con.execute("COMMIT")


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homes]:
    base = tmp_path_factory.mktemp("redelivery")
    incremental = write_home(base / "incremental")
    fresh = write_home(base / "fresh")
    try:
        yield Homes(incremental, fresh, base / "landing")
    finally:
        incremental.close()
        fresh.close()


def replay(homes: Homes, deliveries: list[Delivery]) -> tuple[dict, dict]:
    """(incremental, fresh): each delivery loaded as it arrives, then the final files
    loaded into an empty home in effective-date order; one landing folder for both."""
    homes.reset()
    for i, d in enumerate(deliveries):
        deliver(homes.root, d)
        load(homes.incremental, homes.root, d.kind, d.day, f"incremental-{i}")
    for i, d in enumerate(final_files(deliveries)):
        load(homes.fresh, homes.root, d.kind, d.day, f"fresh-{i}")
    return tables(homes.incremental), tables(homes.fresh)


# --- the chain, worked out from the files -----------------------------------------------------


def expected(deliveries: list[Delivery]) -> dict[str, list[tuple]]:
    """ref.securities and ref.index_constituents from the final files, in plain Python."""
    out: dict[str, list[tuple]] = {}
    for kind, width in (("securities", 1), ("index_constituents", 2)):
        files = [d for d in final_files(deliveries) if d.kind == kind]
        accepted = {f.day: {r[:width]: r for r in f.rows if valid(kind, r)} for f in files}
        held = {
            f.day: {r[:width] for r in f.rows if not valid(kind, r)} - set(accepted[f.day])
            for f in files
        }
        loaded = sorted(day for day in accepted if accepted[day])
        rows = []
        for day in loaded:
            for entity, r in accepted[day].items():
                ends = [e for e in loaded if e > day and entity not in held[e]]
                valid_to = ends[0] if ends else None
                if kind == "securities":
                    # the table's columns: ..., listed_on, valid_from, valid_to, source
                    rows.append((*r, None, day, valid_to, "landing"))
                else:
                    rows.append((*r, day, valid_to, "landing"))
        out[f"ref.{kind}"] = sorted(rows, key=repr)
    return out


def valid(kind: str, row: tuple) -> bool:
    """What validation keeps of the generated rows: board_lot > 0, faf in (0, 1]."""
    return bool(row[4] > 0) if kind == "securities" else bool(0 < row[3] <= 1)


# --- generated deliveries ---------------------------------------------------------------------


@st.composite
def a_master(draw: st.DrawFn, day: date, rejects: bool) -> Delivery:
    # with rejected rows, at least two optional symbols: a hold needs one listed twice
    optional = st.sets(st.sampled_from(OPTIONAL), min_size=2 if rejects else 0)
    symbols = [*CORE, *sorted(draw(optional))]
    rows = []
    for s in symbols:
        lot = draw(st.sampled_from([100, 500]))
        if rejects and s in OPTIONAL and draw(st.integers(0, 2)) == 0:
            lot = 0  # rejected by validation (board_lot > 0): quarantined, the symbol held
        name = draw(st.sampled_from(["Alpha", "Beta"]))
        rows.append(master_row(s, name, lot, draw(st.sampled_from([1000, 2000]))))
    return Delivery("securities", day, tuple(rows))


@st.composite
def a_list(draw: st.DrawFn, day: date) -> Delivery:
    pairs = [(i, s) for i in INDICES for s in CORE]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    rows = [
        member_row(i, s, draw(st.sampled_from([1000, 2000])), draw(st.sampled_from([0.5, 1.0])))
        for i, s in sorted(chosen)
    ]
    return Delivery("index_constituents", day, tuple(rows))


@st.composite
def a_redelivery(draw: st.DrawFn, previous: Delivery, rejects: bool) -> Delivery:
    """``previous`` again with one row dropped (never a core master row, never the last
    row) or one field changed."""
    rows = list(previous.rows)
    droppable = [i for i, r in enumerate(rows) if previous.kind != "securities" or r[0] in OPTIONAL]
    if len(rows) > 1 and droppable and draw(st.booleans()):
        del rows[draw(st.sampled_from(droppable))]
    else:
        i = draw(st.integers(0, len(rows) - 1))
        row = list(rows[i])
        if previous.kind == "securities":
            lots = [100, 500, 0] if rejects and row[0] in OPTIONAL else [100, 500]
            field = draw(st.sampled_from([(1, ["Alpha", "Beta"]), (4, lots), (5, [1000, 2000])]))
            value = draw(st.sampled_from(field[1]))
            row[field[0]] = f"{value} {row[0]}" if field[0] == 1 else value
        else:
            field = draw(st.sampled_from([(2, [1000, 2000]), (3, [0.5, 1.0])]))
            row[field[0]] = draw(st.sampled_from(field[1]))
        rows[i] = tuple(row)
    return Delivery(previous.kind, previous.day, tuple(rows))


@st.composite
def sequences(draw: st.DrawFn, *, rejects: bool, in_order: bool) -> list[Delivery]:
    """Two or more deliveries of both kinds, in any order unless ``in_order`` (then sorted
    by day, re-deliveries after the file they correct). About half are re-deliveries of a
    file delivered before, with one row dropped or one field changed; the others are new
    files (for a day delivered before or not)."""
    out: list[Delivery] = []
    if rejects:  # masters for two or three days first: a hold needs an earlier version
        days = draw(st.lists(st.sampled_from(DAYS), min_size=2, max_size=3, unique=True))
        out += [draw(a_master(day, rejects)) for day in days]
    for _ in range(draw(st.integers(0 if rejects else 2, MAX_DELIVERIES - len(out)))):
        latest = list({(d.kind, d.day): d for d in out}.values())
        if latest and draw(st.booleans()):
            out.append(draw(a_redelivery(draw(st.sampled_from(latest)), rejects)))
            continue
        day = draw(st.sampled_from(DAYS))
        kind = draw(st.sampled_from(["securities", "index_constituents"]))
        out.append(draw(a_master(day, rejects)) if kind == "securities" else draw(a_list(day)))
    return sorted(out, key=lambda d: d.day) if in_order else out  # sorted() is stable


# Examples always tried: the cases of the issue, then the generated ones.
PAST_REDELIVERY = [
    Delivery("securities", DAYS[0], tuple(master_row(s) for s in (*CORE, "00002", "00016"))),
    Delivery("securities", DAYS[2], tuple(master_row(s) for s in (*CORE, "00002", "00016"))),
    # the past date again: 00016 dropped, 00002's lot changed
    Delivery("securities", DAYS[0], (*(master_row(s) for s in CORE), master_row("00002", lot=500))),
]
LIST_REDELIVERY = [
    Delivery(
        "index_constituents", DAYS[1], (member_row("HSI", "00005"), member_row("HSI", "00700"))
    ),
    Delivery("index_constituents", DAYS[3], (member_row("HSI", "00005"),)),
    Delivery("index_constituents", DAYS[1], (member_row("HSI", "00005", faf=0.5),)),
]


def dropped_on_redelivery(deliveries: list[Delivery]) -> bool:
    """Whether some delivery drops an entity the previous file for its (kind, day) had."""
    seen: dict[tuple[str, date], set] = {}
    width = {"securities": 1, "index_constituents": 2}
    for d in deliveries:
        now = {r[: width[d.kind]] for r in d.rows}
        if seen.get((d.kind, d.day), set()) - now:
            return True
        seen[(d.kind, d.day)] = now
    return False


def held_across(deliveries: list[Delivery]) -> bool:
    """Whether a final master holds a symbol (rejected row) that has a version before it."""
    masters = [d for d in final_files(deliveries) if d.kind == "securities"]
    for i, f in enumerate(masters):
        rejected = {r[0] for r in f.rows if not valid("securities", r)}
        earlier = {r[0] for m in masters[:i] for r in m.rows if valid("securities", r)}
        if rejected & earlier:
            return True
    return False


HOLD = [
    Delivery("securities", DAYS[0], tuple(master_row(s) for s in (*CORE, "00002", "00016"))),
    # 00002's row rejected: its DAYS[0] version stays in force across DAYS[1]
    Delivery(
        "securities",
        DAYS[1],
        (*(master_row(s) for s in (*CORE, "00016")), master_row("00002", lot=0)),
    ),
    Delivery("securities", DAYS[2], tuple(master_row(s) for s in (*CORE, "00002"))),
    # DAYS[2] again, 00002 rejected there too: held across both, never closed
    Delivery("securities", DAYS[2], (*(master_row(s) for s in CORE), master_row("00002", lot=0))),
]


def test_incremental_equals_fresh_for_any_order_of_deliveries(homes: Homes, tally) -> None:
    """Deliveries and re-deliveries for any date, in any order, no rejected rows."""
    t = tally(AREA)
    drops = 0

    @SETTINGS
    @example(PAST_REDELIVERY)
    @example(LIST_REDELIVERY)
    @given(sequences(rejects=False, in_order=False))
    def case(deliveries: list[Delivery]) -> None:
        nonlocal drops
        t.cases += len(deliveries)
        drops += dropped_on_redelivery(deliveries)
        incremental, fresh = replay(homes, deliveries)
        assert incremental == fresh
        for name, rows in expected(deliveries).items():
            assert sorted(fresh[name], key=repr) == rows, name

    case()
    assert drops >= 2, "the examples must include re-deliveries that drop an entity"
    t.trials += 1
    t.survived += 1


def test_rejected_rows_hold_and_incremental_equals_fresh(homes: Homes, tally) -> None:
    """With quarantined rows (a symbol held on its date), deliveries for the latest date so
    far or a later one, the latest re-delivered at will: incremental equals fresh and the
    chain worked out from the files (the order the hold is sure to be remembered in; see
    the next test for the one case it is not)."""
    t = tally(AREA)
    holds = 0

    @IN_ORDER_SETTINGS
    @example(HOLD)
    @given(sequences(rejects=True, in_order=True))
    def case(deliveries: list[Delivery]) -> None:
        nonlocal holds
        t.cases += len(deliveries)
        holds += held_across(deliveries)
        incremental, fresh = replay(homes, deliveries)
        assert incremental == fresh
        for name, rows in expected(deliveries).items():
            assert sorted(fresh[name], key=repr) == rows, name

    case()
    assert holds >= 2, "the examples must include rejected rows holding a version"
    t.trials += 1
    t.survived += 1


def test_a_hold_with_nothing_to_extend_is_restored_by_loading_its_date_again(
    homes: Homes, tally
) -> None:
    """The documented limit (``Supersede``): 00002 rejected on DAYS[1] with no version
    before it; a master for the earlier DAYS[0] listing 00002 arrives later and its version
    ends on DAYS[1] as if 00002 were absent there. Loading DAYS[1] again holds it."""
    t = tally(AREA)
    later = Delivery(
        "securities", DAYS[1], (*(master_row(s) for s in CORE), master_row("00002", lot=0))
    )
    earlier = Delivery("securities", DAYS[0], (*(master_row(s) for s in CORE), master_row("00002")))
    incremental, fresh = replay(homes, [later, earlier])
    version = [r for r in incremental["ref.securities"] if r[0] == "00002"]
    assert [(r[-3], r[-2]) for r in version] == [(DAYS[0], DAYS[1])]
    assert [(r[-3], r[-2]) for r in fresh["ref.securities"] if r[0] == "00002"] == [(DAYS[0], None)]
    again, fresh = replay(homes, [later, earlier, later])
    assert again == fresh
    assert fresh["ref.securities"] == expected([later, earlier])["ref.securities"]
    t.trials += 1
    t.survived += 1
    t.cases += 1


# --- end to end -------------------------------------------------------------------------------

LANDING = Path(__file__).resolve().parents[1] / "fixtures" / "landing"
DAY = ("2025-11-21", "close")
ENV = {"HK_PIPELINE_SOURCE": "landing"}


def _redeliver(landing: Path) -> None:
    """securities/2025-11-21.csv again: 08083 (Youzan) gone, HSBC's board lot 400 -> 200;
    the day's close quotes without 08083 (a consistent delivery: its quote would now be
    quarantined as a symbol the master does not list)."""
    for name in ("securities/2025-11-21.csv", "quotes/2025-11-21_close.csv"):
        path = landing / name
        lines = [x for x in path.read_text().splitlines() if not x.startswith("08083,")]
        text = "\n".join(lines) + "\n"
        path.write_text(
            text.replace(
                "HSBC Holdings,Main Board,Financials,400,",
                "HSBC Holdings,Main Board,Financials,200,",
            )
        )


def state(home: Path) -> dict[str, list[tuple]]:
    con = read_home(home)
    try:
        return tables(con)
    finally:
        con.close()


def test_a_corrected_master_rerun_equals_a_fresh_home(tmp_path: Path, tally) -> None:
    t = tally(AREA)
    incremental, fresh = tmp_path / "incremental", tmp_path / "fresh"
    shutil.copytree(LANDING, incremental / "landing")
    shutil.copytree(LANDING, fresh / "landing")
    _redeliver(fresh / "landing")
    started = start_cli(fresh, *run_args(DAY), env=ENV)  # the fresh home, meanwhile
    try:
        first = run_cli(incremental, *run_args(DAY), env=ENV)
        assert first.returncode == 0, error_lines(first.stderr) or first.stderr[-2000:]
        before = {r[0] for r in state(incremental)["ref.securities"]}
        assert "08083" in before and len(before) == 12
        _redeliver(incremental / "landing")
        rerun = run_cli(incremental, *run_args(DAY), env=ENV)
        assert rerun.returncode == 0, error_lines(rerun.stderr) or rerun.stderr[-2000:]
    finally:
        _out, err = started.communicate(timeout=300)
    assert started.returncode == 0, err[-2000:]

    got, want = state(incremental), state(fresh)
    assert got == want
    day = date(2025, 11, 21)
    listed = {r[0]: r for r in got["ref.securities"] if r[-3] == day}
    assert len(listed) == 11 and "08083" not in listed
    assert listed["00005"][4] == 200  # board_lot
    t.trials += 1
    t.survived += 1
    t.cases += 1
