"""Running the mart SQL of ``sql/marts`` over partitions and writing the result.

Each ``sql/marts/mart.<name>.sql`` is a single SELECT over ``ref.*`` and ``raw.*`` computing
every partition it is given at once: ``$trade_dates`` and ``$snapshots`` list the partitions
(the i-th of each making the i-th), the partition columns of the rows come from the data, and
``macro_asof`` also takes ``$as_ofs`` and ``$trading_days``. A ranged run is therefore one
set-based statement per mart, written in one transaction (``materialize_mart``), not a loop
of one statement per partition. The SQL is the one definition of each number: assets and
analysts run the same text, and the report reads what the assets wrote. Mart tables are
created from the SQL's own result types (``LIMIT 0``), so no second DDL has to be kept in
step with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from weakref import WeakKeyDictionary

import duckdb
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.faults import fault_point
from hk_pipeline.paths import MARTS_DIR, VIEWS_DIR
from hk_pipeline.warehouse.catalog import current_columns
from hk_pipeline.warehouse.ddl import apply_ddl
from hk_pipeline.warehouse.rules import ensure_rules
from hk_pipeline.warehouse.sql_headers import STANDARD_COLUMNS, header_column_docs
from hk_pipeline.warehouse.tx import registered, write_transaction

MART_NAMES: tuple[str, ...] = (
    "index_moves",
    "index_attribution",
    "market_breadth",
    "sector_performance",
    "top_turnover",
    "top_movers",
    "macro_asof",
)
"""Marts in dependency order. Each reads only ``ref.*``/``raw.*``, so any order works today;
the report reads all of them."""

MART_SCHEMA = "mart"
LINEAGE_COLUMNS = ("run_id", "loaded_at")
Partition = tuple[date, str]
"""(trade_date, snapshot)."""

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")
# a table or view the SQL reads: raw.quotes, ref.securities, mart.index_moves, views.x (rules.*
# are macros, not data, and CTE names carry no schema)
_SOURCE = re.compile(r"\b(raw|ref|mart|views)\.([a-z_][a-z0-9_]*)\b(?!\s*\()")
# Marts whose table a connection has created and commented in a committed write_mart: later
# writes on it only re-read the column names (see _write_columns). Weak keys: an entry goes
# with its connection, so a new connection (another run) starts over.
_ENSURED: WeakKeyDictionary[duckdb.DuckDBPyConnection, set[str]] = WeakKeyDictionary()


def _check_name(name: str) -> None:
    if name not in MART_NAMES:
        raise ValueError(f"unknown mart {name!r}: expected one of {', '.join(MART_NAMES)}")


def table_name(name: str) -> str:
    """``index_moves`` -> ``mart.index_moves``."""
    _check_name(name)
    return f"{MART_SCHEMA}.{name}"


def mart_sql(name: str) -> str:
    """The SELECT of ``sql/marts/mart.<name>.sql`` (without a trailing semicolon)."""
    _check_name(name)
    path = MARTS_DIR / f"{MART_SCHEMA}.{name}.sql"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"mart SQL {path} is missing; is the project checkout complete?"
        ) from None
    return _read_sql(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read_sql(path: Path, mtime_ns: int, size: int) -> str:
    """The file's statement, read once per (mtime, size): a run calls mart_sql several times
    per mart and partition, and an edited file (new mtime) is read again, so a long-lived
    process (``dg dev``) never runs stale SQL."""
    del mtime_ns, size  # only part of the cache key
    return path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()


def mart_description(name: str) -> str:
    """The first header line of the mart's SQL, without ``-- mart.<name>:``."""
    first = mart_sql(name).splitlines()[0]
    return first.removeprefix("--").strip().removeprefix(f"{table_name(name)}:").strip()


def mart_sources(name: str) -> tuple[str, ...]:
    """The tables ``mart.<name>`` reads, sorted (``raw.quotes``, ``ref.securities``, ...).

    Read from the SQL itself (comments stripped), so the asset graph's lineage cannot drift
    from what the SQL does. A view of ``sql/views`` stands for the tables it reads.
    """
    return _sources(mart_sql(name), frozenset())


def _sources(sql: str, seen: frozenset[str]) -> tuple[str, ...]:
    found: set[str] = set()
    for schema, table in _SOURCE.findall(_COMMENT.sub("", sql)):
        qualified = f"{schema}.{table}"
        if schema != "views":
            found.add(qualified)
            continue
        if qualified in seen:
            raise ValueError(f"view {qualified} reads itself through its sources")
        path = VIEWS_DIR / f"{qualified}.sql"
        if not path.exists():
            raise FileNotFoundError(f"a mart reads {qualified} but {path} does not exist")
        found.update(_sources(path.read_text(encoding="utf-8"), seen | {qualified}))
    return tuple(sorted(found))


def sql_parameters(sql: str) -> list[str]:
    """Names of the ``$name`` parameters a statement uses (comments ignored), in order."""
    return list(_sql_parameters(sql))


@lru_cache(maxsize=64)
def _sql_parameters(sql: str) -> tuple[str, ...]:
    # Keyed on the text itself: stripping comments and scanning costs ~0.1 ms a mart call.
    return tuple(dict.fromkeys(_PARAM.findall(_COMMENT.sub("", sql))))


@lru_cache(maxsize=1)
def _all_trading_days() -> tuple[date, ...]:
    start = calendar.START_DATE.replace(year=calendar.START_DATE.year - 5)
    return tuple(calendar.trading_days(start, calendar.last_calendar_date()))


def trading_days_param() -> list[date]:
    """HKEX trading days bound to ``$trading_days`` (five years before START_DATE onwards).

    Passed to the SQL rather than stored in a table so the macro rule stays in one SELECT;
    a release dated before the first of these days gets no effective time and is not seen.
    """
    return list(_all_trading_days())


def _checked_partitions(partitions: Iterable[Partition]) -> list[Partition]:
    """The partitions, validated, duplicates dropped, in the order given."""
    out: list[Partition] = []
    for trade_date, snapshot in partitions:
        if not isinstance(trade_date, date) or isinstance(trade_date, datetime):
            raise TypeError(f"trade_date must be a datetime.date, got {trade_date!r}")
        if snapshot not in calendar.SNAPSHOTS:
            raise ValueError(f"snapshot {snapshot!r} is not one of {', '.join(calendar.SNAPSHOTS)}")
        if (trade_date, snapshot) not in out:
            out.append((trade_date, snapshot))
    return out


def _parameters(
    name: str, partitions: Sequence[Partition], as_ofs: Sequence[datetime] | None = None
) -> dict[str, object]:
    """The SQL's parameters for computing ``partitions`` (already checked).

    ``as_ofs`` (tz-aware, one per partition) default to each snapshot's instant.
    """
    wanted = sql_parameters(mart_sql(name))
    available: dict[str, object] = {
        "trade_dates": [d for d, _ in partitions],
        "snapshots": [s for _, s in partitions],
    }
    if "as_ofs" in wanted:
        if as_ofs is None:
            as_ofs = [calendar.snapshot_time(d, s) for d, s in partitions]
        available["as_ofs"] = list(as_ofs)
    if "trading_days" in wanted:
        available["trading_days"] = trading_days_param()
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ValueError(f"mart {name} uses parameter(s) {missing} the runner does not provide")
    return {p: available[p] for p in wanted}


def _shape_parameters(name: str) -> dict[str, object]:
    """Parameters for planning the SQL's result shape (one partition; the types matter)."""
    return _parameters(name, [(calendar.START_DATE, calendar.SNAPSHOTS[0])])


# marts that hold rows also for a snapshot without a session (see computed_partitions)
SESSIONLESS_MARTS = frozenset({"macro_asof"})


def computed_partitions(name: str, partitions: Iterable[Partition]) -> list[Partition]:
    """The partitions mart ``name`` has rows for: those with a session, or all for macro_asof.

    A snapshot without a session (the mid-day of a morning weather cancelled) gives no rows
    for every mart of the session's trading: zeros or a universe of untraded shares would
    read as a real, dead quiet session in any average over days. ``macro_asof`` is not about
    trading and is kept.
    """
    checked = _checked_partitions(partitions)
    if name in SESSIONLESS_MARTS:
        return checked
    return [(d, s) for d, s in checked if calendar.snapshot_traded(d, s)]


def compute_marts(
    con: duckdb.DuckDBPyConnection, name: str, partitions: Iterable[Partition]
) -> pd.DataFrame:
    """Run mart ``name`` for every partition at once and return the rows of them all."""
    _check_name(name)
    return _select(con, name, computed_partitions(name, partitions), None)


def compute_mart(
    con: duckdb.DuckDBPyConnection,
    name: str,
    trade_date: date,
    snapshot: str,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Run mart ``name`` for partition (trade_date, snapshot) and return its rows.

    ``as_of`` (tz-aware) is only used by marts that take it; it defaults to the snapshot's
    instant from the calendar. A snapshot without a session gives no rows (see
    ``computed_partitions``).
    """
    _check_name(name)
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"as_of must be timezone-aware, got {as_of!r}")
    partitions = computed_partitions(name, [(trade_date, snapshot)])
    return _select(con, name, partitions, None if as_of is None else [as_of] * len(partitions))


def _select(
    con: duckdb.DuckDBPyConnection,
    name: str,
    partitions: Sequence[Partition],
    as_ofs: Sequence[datetime] | None,
) -> pd.DataFrame:
    ensure_rules(con)
    return con.execute(mart_sql(name), _parameters(name, partitions, as_ofs)).fetchdf()


@dataclass(frozen=True)
class _TableState:
    """What the catalogue holds for a mart table: its comment and {column: comment}."""

    comment: str | None
    columns: dict[str, str | None]


def _table_state(con: duckdb.DuckDBPyConnection, name: str) -> _TableState | None:
    """The mart table as the catalogue has it now, or None if there is no such table.

    Two small catalogue queries (~0.4 ms each; joining them in one query costs more).
    """
    tables = con.execute(
        """
        SELECT comment FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        """,
        [MART_SCHEMA, name],
    ).fetchall()
    if not tables:
        return None
    columns = con.execute(
        """
        SELECT column_name, comment FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        ORDER BY column_index
        """,
        [MART_SCHEMA, name],
    ).fetchall()
    return _TableState(comment=tables[0][0], columns=dict(columns))


def ensure_mart_table(
    con: duckdb.DuckDBPyConnection, name: str, trade_date: date, snapshot: str
) -> None:
    """Create ``mart.<name>`` from the SQL's result shape plus run_id/loaded_at, if missing.

    Also (re)sets the table comment from the SQL header. Call inside a transaction.
    """
    _ensure(con, name, trade_date, snapshot)


def add_new_mart_columns(
    con: duckdb.DuckDBPyConnection, name: str, trade_date: date, snapshot: str
) -> list[str]:
    """Add to an existing ``mart.<name>`` the columns its SQL now returns and it lacks.

    A mart that gains a column (``mart.top_movers.liquid``) must not break the homes made
    before: the lake's set-up (run once per schema fingerprint) adds the column, NULL in the
    partitions written before, which a re-run of those partitions fills. Returns the names
    added. Plans the mart SQL, so it is for the set-up, not for every write.
    """
    state = _table_state(con, name)
    if state is None:
        return []
    params = _parameters(name, _checked_partitions([(trade_date, snapshot)]))
    ensure_rules(con)
    shape = con.execute(f"DESCRIBE SELECT * FROM ({mart_sql(name)}) LIMIT 0", params).fetchall()
    added = []
    for column, column_type, *_ in shape:
        if column not in state.columns:
            con.execute(f'ALTER TABLE {table_name(name)} ADD COLUMN "{column}" {column_type}')
            added.append(column)
    return added


def _ensure(
    con: duckdb.DuckDBPyConnection, name: str, trade_date: date, snapshot: str
) -> _TableState:
    """ensure_mart_table, returning the table's state (columns as they were before comments).

    Reads the catalogue first and writes only what differs. Planning the full mart SQL for
    ``CREATE ... IF NOT EXISTS ... LIMIT 0`` and re-setting unchanged comments cost ~3 ms a
    mart and wrote (and committed) catalogue entries on every call; every run opens its own
    connection, so its first write of each mart comes here and should be cheap too.
    """
    # Bound first, as before, so bad arguments fail the same way whether the table exists.
    params = _parameters(name, _checked_partitions([(trade_date, snapshot)]))
    state = _table_state(con, name)
    if state is None:
        ensure_rules(con)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {MART_SCHEMA}")
        con.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {table_name(name)} AS
            SELECT *, NULL::VARCHAR AS run_id, NULL::TIMESTAMPTZ AS loaded_at
            FROM ({mart_sql(name)}) LIMIT 0
            """,
            params,
        )
        if _in_lake(con):
            con.execute(f"ALTER TABLE {table_name(name)} SET PARTITIONED BY (trade_date, snapshot)")
        state = _table_state(con, name)
        if state is None:
            raise RuntimeError(f"{table_name(name)} is missing right after CREATE TABLE")
    description = mart_description(name)
    if state.comment != description:
        comment = description.replace("'", "''")
        con.execute(f"COMMENT ON TABLE {table_name(name)} IS '{comment}'")
    _comment_columns(con, name, state.columns)
    return state


def _in_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the current database is a DuckLake (an in-memory one has no partitioning)."""
    rows = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return bool(rows) and rows[0][0] == "ducklake"


def mart_column_docs(name: str) -> dict[str, str]:
    """Column descriptions of ``mart.<name>`` from its SQL header's ``columns:`` block.

    The partition and lineage columns (trade_date, snapshot, run_id, loaded_at) get the
    descriptions the raw tables use.
    """
    return dict(_column_docs(mart_sql(name)))


@lru_cache(maxsize=64)
def _column_docs(sql: str) -> dict[str, str]:
    """Parsed once per SQL text; callers get a copy (mart_column_docs) or only read it."""
    return {**header_column_docs(sql), **STANDARD_COLUMNS}


def _comment_columns(
    con: duckdb.DuckDBPyConnection, name: str, current: dict[str, str | None]
) -> None:
    """``COMMENT ON COLUMN`` from the header, only where the stored comment differs.

    ``current`` is {column: stored comment}, as _table_state read it.
    """
    docs = _column_docs(mart_sql(name))
    for column, comment in current.items():
        text = docs.get(column)
        if text and text != comment:
            quoted = text.replace("'", "''")
            con.execute(f"COMMENT ON COLUMN {table_name(name)}.\"{column}\" IS '{quoted}'")


def mart_schema(name: str) -> tuple[tuple[str, str, str], ...]:
    """(column, DuckDB type, description) of ``mart.<name>``, for the Dagster UI."""
    _check_name(name)
    return _mart_schemas()[name]


@lru_cache(maxsize=1)
def _mart_schemas() -> dict[str, tuple[tuple[str, str, str], ...]]:
    """Every mart's result columns, from DESCRIBE on an empty in-memory warehouse (~50 ms).

    The SQL is planned for one partition: only the result types matter here.
    """
    out: dict[str, tuple[tuple[str, str, str], ...]] = {}
    con = duckdb.connect()
    try:
        apply_ddl(con)
        ensure_rules(con)
        for name in MART_NAMES:
            described = con.execute(
                f"DESCRIBE ({mart_sql(name)})", _shape_parameters(name)
            ).fetchall()
            columns = [(r[0], r[1]) for r in described]
            columns += [("run_id", "VARCHAR"), ("loaded_at", "TIMESTAMP WITH TIME ZONE")]
            docs = mart_column_docs(name)
            out[name] = tuple((c, t, docs.get(c, "")) for c, t in columns)
    finally:
        con.close()
    return out


def _ensured(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The marts ensured on ``con`` (a throwaway set for an object without weak references)."""
    try:
        return _ENSURED.setdefault(con, set())
    except TypeError:
        return set()


def _write_columns(
    con: duckdb.DuckDBPyConnection, name: str, trade_date: date, snapshot: str
) -> list[str]:
    """The table's columns for write_mart's check; creates and comments it once per connection.

    A run writes every partition of its range on one connection, so the comments are compared
    once per mart, not per partition. The columns are still read on every write (one catalogue
    query): the stale-table error stays exact, and a table dropped since (or whose creation
    was rolled back) has none, so it is ensured again.
    """
    if name in _ensured(con):
        # the argument errors of the full path
        _parameters(name, _checked_partitions([(trade_date, snapshot)]))
        columns = current_columns(con, table_name(name))
        if columns:
            return columns
    return list(_ensure(con, name, trade_date, snapshot).columns)


def _check_columns(table: str, written: Iterable[str], columns: Iterable[str]) -> None:
    """Refuse to write columns the table lacks (the SQL changed after the table was made).

    ``columns`` are the table's, as the catalogue held them inside the write's transaction.
    """
    extra = sorted(set(written) - set(columns) - set(LINEAGE_COLUMNS))
    if extra:
        raise ValueError(
            f"{table} has no column(s) {extra}: its SQL changed since the table was created;"
            f" DROP TABLE {table} (marts are derived) and re-run its partitions"
        )


def _replace(
    con: duckdb.DuckDBPyConnection,
    name: str,
    partitions: Sequence[Partition],
    columns: Iterable[str],
    insert: Callable[[duckdb.DuckDBPyConnection, str, datetime], None],
) -> None:
    """Replace ``partitions`` of ``mart.<name>`` in one transaction.

    Create the table if missing, refuse ``columns`` it lacks, delete the partitions, then
    ``insert(con, table, loaded_at)``. ``partitions`` must be checked and non-empty.
    """
    table = table_name(name)
    loaded_at = datetime.now(UTC)
    first_date, first_snapshot = partitions[0]
    keys = {
        "trade_dates": [d for d, _ in partitions],
        "snapshots": [s for _, s in partitions],
    }
    fault_point("mart.before_write")

    def body(c: duckdb.DuckDBPyConnection) -> None:
        _check_columns(table, columns, _write_columns(c, name, first_date, first_snapshot))
        c.execute(
            f"""
            DELETE FROM {table}
            WHERE trade_date BETWEEN list_min($trade_dates::DATE[])
                AND list_max($trade_dates::DATE[])
              AND (trade_date, snapshot) IN (
                SELECT unnest($trade_dates::DATE[]), unnest($snapshots::VARCHAR[])
              )
            """,
            keys,
        )
        fault_point("mart.deleted")
        insert(c, table, loaded_at)
        fault_point("mart.inserted")

    described = (
        f"{first_date}|{first_snapshot}"
        if len(partitions) == 1
        else f"{len(partitions)} partitions {first_date}|{first_snapshot}.."
        f"{partitions[-1][0]}|{partitions[-1][1]}"
    )
    write_transaction(con, body, what=f"{table} {described}", tables=(table,))
    # Only once committed: a rolled-back CREATE or COMMENT must be redone by the next write.
    _ensured(con).add(name)
    fault_point("mart.committed")


def materialize_mart(
    con: duckdb.DuckDBPyConnection,
    name: str,
    partitions: Iterable[Partition],
    *,
    run_id: str,
) -> dict[Partition, int]:
    """Compute mart ``name`` for every partition in one statement and replace them all.

    One transaction: each (trade_date, snapshot) partition given is replaced as a whole
    (deleted, then the rows the SQL computes for it inserted straight from the query, with
    run_id and loaded_at); a partition without a session is emptied. Returns the rows now
    in each partition.
    """
    if not run_id:
        raise ValueError("run_id must be non-empty")
    _check_name(name)
    checked = _checked_partitions(partitions)
    if not checked:
        raise ValueError(f"no partition to write {table_name(name)} for")
    params = _parameters(name, computed_partitions(name, checked))
    columns = [c for c, _, _ in mart_schema(name)]

    def insert(c: duckdb.DuckDBPyConnection, table: str, loaded_at: datetime) -> None:
        ensure_rules(c)
        c.execute(
            f"""
            INSERT INTO {table} BY NAME
            SELECT *, $run_id::VARCHAR AS run_id, $loaded_at::TIMESTAMPTZ AS loaded_at
            FROM ({mart_sql(name)})
            """,
            {**params, "run_id": run_id, "loaded_at": loaded_at},
        )

    _replace(con, name, checked, columns, insert)
    counts = dict.fromkeys(checked, 0)
    for trade_date, snapshot, rows in con.execute(
        f"""
        SELECT trade_date, snapshot, count(*) FROM {table_name(name)}
        WHERE trade_date BETWEEN ? AND ? GROUP BY ALL
        """,
        [min(d for d, _ in checked), max(d for d, _ in checked)],
    ).fetchall():
        if (trade_date, snapshot) in counts:
            counts[(trade_date, snapshot)] = int(rows)
    return counts


def write_mart(
    con: duckdb.DuckDBPyConnection,
    name: str,
    frame: pd.DataFrame,
    *,
    trade_date: date,
    snapshot: str,
    run_id: str,
) -> int:
    """Replace partition (trade_date, snapshot) of ``mart.<name>`` with ``frame``.

    One transaction: create the table if missing, delete the partition, insert by column
    name with run_id and loaded_at. Rows of another partition raise ValueError (they would
    survive that partition's next replace). Returns the number of rows inserted.
    """
    if not run_id:
        raise ValueError("run_id must be non-empty")
    _check_name(name)
    partition = _checked_partitions([(trade_date, snapshot)])
    table = table_name(name)
    if len(frame):
        dates = pd.to_datetime(frame["trade_date"]).dt.date
        bad = int(((dates != trade_date) | (frame["snapshot"] != snapshot)).sum())
        if bad:
            raise ValueError(
                f"{bad} row(s) for {table} do not belong to partition {trade_date}|{snapshot}"
            )
    rows = frame.drop(columns=[c for c in LINEAGE_COLUMNS if c in frame.columns])

    def insert(c: duckdb.DuckDBPyConnection, table: str, loaded_at: datetime) -> None:
        if not len(rows):
            return
        with registered(c, rows, "mart") as view:
            c.execute(
                f"""
                INSERT INTO {table} BY NAME
                SELECT *, ?::VARCHAR AS run_id, ?::TIMESTAMPTZ AS loaded_at FROM {view}
                """,
                [run_id, loaded_at],
            )

    _replace(con, name, partition, list(frame.columns), insert)
    return len(frame)


def read_marts(
    con: duckdb.DuckDBPyConnection, name: str, partitions: Iterable[Partition]
) -> dict[Partition, pd.DataFrame]:
    """The written rows of ``mart.<name>`` for each partition (one query for them all).

    Reads the table, never the SQL: what the asset graph wrote is what checks and the
    report see. A partition without rows maps to an empty frame with the table's columns.
    """
    checked = _checked_partitions(partitions)
    table = table_name(name)
    if not current_columns(con, table):
        raise MartNotWrittenError(
            f"{table} does not exist: materialise the mart assets (hk-pipeline run) first"
        )
    if not checked:
        return {}
    frame = con.execute(
        f"""
        SELECT * EXCLUDE (run_id, loaded_at) FROM {table}
        WHERE trade_date BETWEEN ? AND ?
        """,
        [min(d for d, _ in checked), max(d for d, _ in checked)],
    ).fetchdf()
    dates = pd.to_datetime(frame["trade_date"]).dt.date
    return {
        (d, s): frame[(dates == d) & (frame["snapshot"] == s)].reset_index(drop=True)
        for d, s in checked
    }


class MartNotWrittenError(RuntimeError):
    """A mart table the report or a check reads does not exist: its asset never ran."""


def read_mart(
    con: duckdb.DuckDBPyConnection, name: str, trade_date: date, snapshot: str
) -> pd.DataFrame:
    """The written rows of ``mart.<name>`` for the partition (see ``read_marts``)."""
    return read_marts(con, name, [(trade_date, snapshot)])[(trade_date, snapshot)]
