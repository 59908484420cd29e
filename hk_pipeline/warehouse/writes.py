"""Idempotent writes: partition replacement and keyed upserts, each in one transaction.

Frames are converted to Arrow and registered under a unique name (never picked up by
DuckDB's replacement scan from a Python variable), then inserted ``BY NAME`` so column order
in the frame does not matter. A failure anywhere rolls the whole write back: the previous
state of the partition survives.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pyarrow as pa

from hk_pipeline.calendar import SNAPSHOTS
from hk_pipeline.faults import fault_point
from hk_pipeline.warehouse.catalog import split_name, table_columns
from hk_pipeline.warehouse.tx import registered as _registered
from hk_pipeline.warehouse.tx import write_transaction

WRITABLE_SCHEMAS = ("ref", "raw")
REJECTED_COLUMNS = ("row_number", "record", "reason")
LINEAGE_COLUMNS = ("source", "run_id", "loaded_at")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

InTransaction = Callable[[duckdb.DuckDBPyConnection], None]
"""Extra statements a write runs inside its own transaction (e.g. the landing load record)."""


def quarantine_table_for(table: str) -> str:
    """``raw.quotes`` -> ``quarantine.quotes``."""
    _, name = split_name(table)
    return f"quarantine.{name}"


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _check_target(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = split_name(table)
    if schema not in WRITABLE_SCHEMAS or not _IDENT.match(name):
        raise ValueError(
            f"cannot write to {table!r}: expected a table in schema {' or '.join(WRITABLE_SCHEMAS)}"
        )
    columns = table_columns(con, table)
    if not columns:
        raise ValueError(f"table {table} does not exist; add sql/ddl/{table}.sql and reconnect")
    if not table_columns(con, quarantine_table_for(table)):
        raise ValueError(f"quarantine table {quarantine_table_for(table)} does not exist")
    return columns


def _check_partition(trade_date: date, snapshot: str, run_id: str, source: str) -> None:
    if not isinstance(trade_date, date) or isinstance(trade_date, datetime):
        raise TypeError(f"trade_date must be a datetime.date, got {trade_date!r}")
    if snapshot not in SNAPSHOTS:
        raise ValueError(f"snapshot {snapshot!r} is not one of {', '.join(SNAPSHOTS)}")
    if not run_id or not source:
        raise ValueError(f"run_id and source must be non-empty (got {run_id!r}, {source!r})")


def _to_json(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def _select_rows(view: str, frame_columns: list[str], *, override: dict[str, str]) -> str:
    """SELECT over ``view`` replacing ``override`` columns with SQL expressions."""
    dropped = [c for c in frame_columns if c in override]
    exclude = f" EXCLUDE ({', '.join(_q(c) for c in dropped)})" if dropped else ""
    extra = ", ".join(f"{expr} AS {_q(col)}" for col, expr in override.items())
    if len(dropped) == len(frame_columns):
        return f"SELECT {extra} FROM {view}"
    return f"SELECT *{exclude}, {extra} FROM {view}"


def rejected_frame(table: str, rejected: pd.DataFrame) -> pd.DataFrame:
    """``rejected`` cut to row_number, record (as JSON text), reason; ValueError naming the
    missing columns otherwise."""
    missing = [c for c in REJECTED_COLUMNS if c not in rejected.columns]
    if missing:
        raise ValueError(
            f"rejected rows for {table} lack column(s) {missing}; expected {list(REJECTED_COLUMNS)}"
        )
    frame = rejected.loc[:, list(REJECTED_COLUMNS)].copy()
    frame["record"] = frame["record"].map(_to_json).astype("string")
    frame["reason"] = frame["reason"].astype("string")
    return frame


@dataclass(frozen=True)
class QuarantineStamp:
    """What every quarantined row of one write carries: its partition, run, source and time."""

    trade_date: date
    snapshot: str
    run_id: str
    source: str
    at: datetime


def insert_quarantine(
    con: duckdb.DuckDBPyConnection, qtable: str, frame: pd.DataFrame, stamp: QuarantineStamp
) -> None:
    """Insert a :func:`rejected_frame` into ``qtable`` (partition and lineage from ``stamp``)."""
    with _registered(con, frame, "rejected") as view:
        con.execute(
            f"""
            INSERT INTO {qtable} BY NAME
            SELECT row_number, record, reason,
                   ?::DATE AS trade_date, ? AS snapshot, ? AS source, ? AS run_id,
                   ?::TIMESTAMPTZ AS quarantined_at
            FROM {view}
            """,
            [stamp.trade_date, stamp.snapshot, stamp.source, stamp.run_id, stamp.at],
        )


def delete_partition(
    con: duckdb.DuckDBPyConnection, table: str, trade_date: date, snapshot: str
) -> None:
    """Delete partition (trade_date, snapshot) of ``table`` (inside the caller's transaction)."""
    con.execute(
        f"DELETE FROM {table} WHERE trade_date = ? AND snapshot = ?", [trade_date, snapshot]
    )


def _write_quarantine(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rejected: pd.DataFrame | None,
    stamp: QuarantineStamp,
) -> None:
    qtable = quarantine_table_for(table)
    delete_partition(con, qtable, stamp.trade_date, stamp.snapshot)
    fault_point("write.quarantine.deleted")
    if rejected is None or rejected.empty:
        return
    insert_quarantine(con, qtable, rejected_frame(table, rejected), stamp)


def _commit_with_quarantine(
    con: duckdb.DuckDBPyConnection,
    table: str,
    write_rows: InTransaction,
    rejected: pd.DataFrame | None,
    stamp: QuarantineStamp,
    also: InTransaction | None,
    step: str,
    what: str,
) -> None:
    """One write transaction over ``table`` and its quarantine table: ``write_rows(c)``, the
    quarantine partition, then ``also(c)``; fault points ``write.<step>.before_commit`` and
    ``write.<step>.committed`` around the commit."""

    def body(c: duckdb.DuckDBPyConnection) -> None:
        write_rows(c)
        _write_quarantine(c, table, rejected, stamp)
        if also is not None:
            also(c)
        fault_point(f"write.{step}.before_commit")

    write_transaction(con, body, what=what, tables=(table, quarantine_table_for(table)))
    fault_point(f"write.{step}.committed")


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pd.DataFrame | pa.Table,
    *,
    trade_date: date,
    snapshot: str,
    run_id: str,
    source: str,
    rejected: pd.DataFrame | None = None,
    also: InTransaction | None = None,
) -> int:
    """Replace partition (trade_date, snapshot) of ``table`` and of its quarantine table.

    One transaction: delete the partition from both tables, insert ``rows`` by column name
    (adding trade_date, snapshot, run_id and loaded_at; ``source`` is filled where the frame
    has none), insert ``rejected`` (row_number, record, reason) into ``quarantine.<table>``.
    Rows whose own trade_date/snapshot differ from the partition raise ValueError.
    ``also(con)``, if given, runs last inside the same transaction.
    Returns the number of rows inserted into ``table``.
    """
    _check_partition(trade_date, snapshot, run_id, source)
    columns = _check_target(con, table)
    for col in ("trade_date", "snapshot"):
        if col not in columns:
            raise ValueError(f"{table} has no {col} column: use upsert_rows for it")
    stamp = QuarantineStamp(trade_date, snapshot, run_id, source, datetime.now(UTC))
    override = {
        "trade_date": "?::DATE",
        "snapshot": "?",
        "run_id": "?",
        "loaded_at": "?::TIMESTAMPTZ",
    }
    params: list[object] = [trade_date, snapshot, run_id, stamp.at]
    names = _column_names(rows)
    if "source" in names:
        override["source"] = "coalesce(source, ?)"
    else:
        override["source"] = "?"
    params.append(source)

    def write_rows(c: duckdb.DuckDBPyConnection) -> None:
        fault_point("write.partition.begun")
        delete_partition(c, table, trade_date, snapshot)
        fault_point("write.partition.deleted")
        if len(rows):
            with _registered(c, rows, "rows") as view:
                _check_rows_in_partition(c, view, names, table, trade_date, snapshot)
                select = _select_rows(view, names, override=override)
                c.execute(f"INSERT INTO {table} BY NAME {select}", params)
        fault_point("write.partition.inserted")

    what = f"{table} {trade_date}|{snapshot}"
    _commit_with_quarantine(con, table, write_rows, rejected, stamp, also, "partition", what)
    return len(rows)


def _column_names(rows: pd.DataFrame | pa.Table) -> list[str]:
    return list(rows.column_names) if isinstance(rows, pa.Table) else list(rows.columns)


def _check_rows_in_partition(
    con: duckdb.DuckDBPyConnection,
    view: str,
    names: list[str],
    table: str,
    trade_date: date,
    snapshot: str,
) -> None:
    """Refuse rows that belong to another partition (they would survive its next replace)."""
    conditions, params = [], []
    if "trade_date" in names:
        conditions.append("trade_date::DATE IS DISTINCT FROM ?::DATE")
        params.append(trade_date)
    if "snapshot" in names:
        conditions.append("snapshot IS DISTINCT FROM ?")
        params.append(snapshot)
    if not conditions:
        return
    bad = con.execute(
        f"SELECT count(*) FROM {view} WHERE {' OR '.join(conditions)}", params
    ).fetchall()[0][0]
    if bad:
        raise ValueError(
            f"{bad} row(s) for {table} do not belong to partition {trade_date}|{snapshot};"
            " split the frame by (trade_date, snapshot)"
        )


def upsert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pd.DataFrame,
    *,
    key: list[str],
    trade_date: date,
    snapshot: str,
    run_id: str,
    source: str,
    rejected: pd.DataFrame | None = None,
    supersede: Supersede | None = None,
    also: InTransaction | None = None,
) -> int:
    """Upsert ``rows`` into an effective-dated table (ref.*, raw.macro_series) by ``key``.

    One transaction: rows of ``table`` whose key matches an incoming row are deleted, the
    incoming rows inserted by name (with run_id, loaded_at and, where missing, source); the
    quarantine partition (trade_date, snapshot) of the run is replaced by ``rejected``.
    Rows are staged in a temp table first so keys compare in the table's own types.

    ``supersede`` (sources that only know the present, see :class:`Supersede`): the rows are
    the snapshot taking effect on ``supersede.valid_from`` (D). With ``present_keys`` (a full
    snapshot) every row from D is replaced by them, so an entity a re-delivery drops has no
    row from D any more; then the valid_to of the versions around D is recomputed from what
    the table holds (:func:`close_superseded`): the table ends as loading the same files into
    an empty home in effective-date order would leave it. The incoming valid_to is not used.
    ``also(con)`` runs last inside the same transaction. Returns the number of rows inserted.
    """
    _check_partition(trade_date, snapshot, run_id, source)
    columns = _check_target(con, table)
    if not key:
        raise ValueError(f"upsert into {table} needs a non-empty key")
    missing = [k for k in key if k not in columns or k not in rows.columns]
    if missing:
        raise ValueError(f"key column(s) {missing} missing from {table} or from the incoming rows")
    if supersede is not None:
        _check_supersede(columns, table, supersede)
        if not len(rows):
            # a snapshot of nothing would remove every version from D: a truncated delivery
            raise ValueError(
                f"{table}: refusing to replace the snapshot effective {supersede.valid_from}"
                " with no rows; check the delivered file"
            )
    stamp = QuarantineStamp(trade_date, snapshot, run_id, source, datetime.now(UTC))
    override = {"run_id": "?", "loaded_at": "?::TIMESTAMPTZ"}
    params: list[object] = [run_id, stamp.at]
    override["source"] = "coalesce(source, ?)" if "source" in rows.columns else "?"
    params.append(source)
    stage = f"_hk_stage_{uuid.uuid4().hex}"
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key)

    def write_rows(c: duckdb.DuckDBPyConnection) -> None:
        # The temp tables live in the transaction: a rollback discards them, a commit keeps
        # them until dropped here.
        c.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM {table} LIMIT 0")
        if len(rows):
            with _registered(c, rows, "rows") as view:
                select = _select_rows(view, list(rows.columns), override=override)
                c.execute(f"INSERT INTO {stage} BY NAME {select}", params)
            fault_point("write.upsert.staged")
            if supersede is None:
                c.execute(f"DELETE FROM {table} AS t USING {stage} AS s WHERE {on}")
                c.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {stage}")
            else:
                _replace_snapshot(c, table, stage, on, supersede)
            fault_point("write.upsert.inserted")
        c.execute(f"DROP TABLE {stage}")

    what = f"{table} (effective {trade_date})"
    _commit_with_quarantine(con, table, write_rows, rejected, stamp, also, "upsert", what)
    return len(rows)


@dataclass(frozen=True)
class Supersede:
    """How a snapshot of an effective-dated table replaces what was in force before it.

    For sources that only know the present (a landing master file, a live list): every row
    of the snapshot has ``valid_from`` (D); ``entity_key`` names the thing that has versions
    (``symbol``; ``index_code, symbol``); ``present_keys`` lists every entity the snapshot
    holds, rejected rows included, or is None when the snapshot is not complete (its rows
    then replace only their own keys, and no entity is taken as absent from it).

    The chain it leaves (``S`` = the distinct valid_from of the table, the snapshots loaded):
    a version of an entity ends on the first later snapshot that either has a row for the
    entity (its next version) or omits the entity (a delisting, a member leaving).

    A row validation rejected is present but has no version: the snapshot neither ends nor
    replaces the entity's version in force on the eve of D, which stays in force across D
    (the entity is *held*; a quarantined row never reads as a delisting, nor as a change).
    The hold is remembered by the version that spans it, so later loads and re-deliveries
    keep it. One case it cannot be remembered: a rejected row of an entity that has nothing
    in force on the eve of D (a new listing, or a version a re-delivery ended earlier). If a
    later delivery then gives the entity a version before D, that version ends on D as if
    the entity were absent from D; load D again (after fixing its row, or as it is) to hold
    it.
    """

    entity_key: tuple[str, ...]
    valid_from: date
    present_keys: frozenset[tuple[object, ...]] | None = None


def _check_supersede(columns: list[str], table: str, supersede: Supersede) -> None:
    entity_key = list(supersede.entity_key)
    missing = [k for k in [*entity_key, "valid_from", "valid_to"] if k not in columns]
    if not entity_key or missing:
        what = missing or "entity key"
        raise ValueError(f"cannot supersede versions of {table}: column(s) {what} missing")
    valid_from = supersede.valid_from
    if not isinstance(valid_from, date) or isinstance(valid_from, datetime):
        raise TypeError(f"Supersede.valid_from must be a datetime.date, got {valid_from!r}")


def _replace_snapshot(
    con: duckdb.DuckDBPyConnection, table: str, stage: str, on: str, supersede: Supersede
) -> None:
    """Replace the snapshot effective D by the staged rows and recompute the chain around D.

    The holds (see :class:`Supersede`) are read from the versions before the old rows go:
    a held entity's version spans snapshots that have no row for it.
    """
    valid_from = supersede.valid_from
    other = con.execute(
        f"SELECT count(*), min(valid_from) FROM {stage} WHERE valid_from IS DISTINCT FROM ?",
        [valid_from],
    ).fetchall()[0]
    if other[0]:
        raise ValueError(
            f"{table}: {other[0]} incoming row(s) start on {other[1]}, not on"
            f" {valid_from}; a snapshot that replaces what was in force has one valid_from"
        )
    full = supersede.present_keys is not None
    # No try/finally around the temp tables: a failure rolls the transaction back, which
    # discards them (and a DROP in an aborted transaction would hide the real error).
    chain = _Chain(con, table, list(supersede.entity_key), valid_from)
    chain.capture_holds(decided_at_d=full)
    if full:
        con.execute(f"DELETE FROM {table} WHERE valid_from = ?", [valid_from])
    else:
        con.execute(f"DELETE FROM {table} AS t USING {stage} AS s WHERE {on}")
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {stage}")
    chain.reread_d(stage if full else None)
    chain.hold_present(supersede.present_keys)
    chain.apply()
    chain.drop()


def close_superseded(
    con: duckdb.DuckDBPyConnection,
    table: str,
    entity_key: list[str],
    valid_from: date,
    present_keys: Iterable[tuple[object, ...]] | None = None,
) -> int:
    """Recompute the valid_to of the versions around the snapshot effective ``valid_from``
    (D), as the table's rows now stand. No transaction of its own: call it inside the
    write's (``upsert_rows(..., supersede=...)`` does the same around its replacement).

    The versions recomputed are each entity's last version before D and its row from D;
    each ends on the first later snapshot (a distinct valid_from of the table) that has a
    row for the entity or omits it, skipping the snapshots where it is held (see
    :class:`Supersede`). With ``present_keys`` (a full snapshot) the entities held on D are
    those listed without a row from D; without, the holds on D stay as they were.

    Returns the number of rows whose valid_to changed. Sources that know each row's true
    valid_to (the sample market) never call this.
    """
    columns = _check_target(con, table)
    keys = None if present_keys is None else frozenset(tuple(k) for k in present_keys)
    _check_supersede(columns, table, Supersede(tuple(entity_key), valid_from, keys))
    chain = _Chain(con, table, list(entity_key), valid_from)
    chain.capture_holds(decided_at_d=keys is not None)
    chain.hold_present(keys)
    changed = chain.apply()
    chain.drop()
    return changed


class _Chain:
    """The valid_to chain around the snapshot effective D, worked out set-based in SQL.

    The table's versions (entity key, valid_from, valid_to) are copied once into a temp
    table, so the holds and the new ends are computed without scanning the lake table again;
    only :meth:`reread_d` (after the snapshot's rows are replaced) and :meth:`apply` (one
    UPDATE of the rows whose valid_to changes) touch it.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, table: str, entity_key: list[str], valid_from: date
    ) -> None:
        self.con, self.table, self.key, self.d = con, table, entity_key, valid_from
        tag = uuid.uuid4().hex
        self.versions, self.held = f"_hk_versions_{tag}", f"_hk_held_{tag}"
        self.ent = ", ".join(_q(k) for k in entity_key)
        con.execute(
            f"CREATE TEMP TABLE {self.versions} AS"
            f" SELECT {self.ent}, valid_from, valid_to FROM {table}"
        )

    def _same(self, a: str, b: str) -> str:
        return " AND ".join(f"{a}.{_q(k)} = {b}.{_q(k)}" for k in self.key)

    def _cols(self, alias: str) -> str:
        return ", ".join(f"{alias}.{_q(k)}" for k in self.key)

    def _around(self) -> str:
        """Each entity's last version before D and its rows from D (two ``?`` for D): the
        only versions a snapshot effective D can end differently. Earlier versions end on
        or before the last one's start; later ones depend on later snapshots only."""
        v = self.versions
        return f"""
            SELECT {self._cols("t")}, t.valid_from, t.valid_to FROM {v} AS t
            JOIN (
                SELECT {self.ent}, max(valid_from) AS last FROM {v}
                WHERE valid_from < ? GROUP BY ALL
            ) AS p ON {self._same("t", "p")} AND t.valid_from = p.last
            UNION ALL
            SELECT {self._cols("t")}, t.valid_from, t.valid_to FROM {v} AS t
            WHERE t.valid_from = ?
        """

    def capture_holds(self, *, decided_at_d: bool) -> None:
        """The holds the versions around D span: (entity, d) for each snapshot d without a
        row for the entity inside one of its versions. D counts as a snapshot even before
        its first load (a partial snapshot holds every entity it does not list whose
        version runs across D). ``decided_at_d``: holds on D itself are left out, the
        snapshot being loaded decides them."""
        skip_d = "AND s.d <> ?" if decided_at_d else ""
        params: list[object] = [self.d, self.d, self.d] + ([self.d] if decided_at_d else [])
        self.con.execute(
            f"""
            CREATE TEMP TABLE {self.held} AS
            SELECT DISTINCT {self._cols("a")}, s.d
            FROM ({self._around()}) AS a
            JOIN (SELECT DISTINCT valid_from AS d FROM {self.versions} UNION SELECT ?::DATE) AS s
              ON s.d > a.valid_from AND (a.valid_to IS NULL OR s.d < a.valid_to) {skip_d}
            ANTI JOIN {self.versions} AS r ON {self._same("r", "a")} AND r.valid_from = s.d
            """,
            params,
        )

    def reread_d(self, replaced_by: str | None) -> None:
        """Take the rows from D as the table now holds them: ``replaced_by`` (the staged
        rows, when they replaced the whole snapshot), else read back from the table."""
        self.con.execute(f"DELETE FROM {self.versions} WHERE valid_from = ?", [self.d])
        source = self.table if replaced_by is None else replaced_by
        self.con.execute(
            f"INSERT INTO {self.versions}"
            f" SELECT {self.ent}, valid_from, valid_to FROM {source} WHERE valid_from = ?",
            [self.d],
        )

    def hold_present(self, present_keys: frozenset[tuple[object, ...]] | None) -> None:
        """Hold on D the snapshot's present entities (those with a row from D are not held:
        :meth:`apply` drops holds where a row exists)."""
        if present_keys is None:
            return
        keys = pd.DataFrame(list(present_keys), columns=self.key, dtype=object)
        cols = ", ".join(f"n.{_q(k)}::VARCHAR" for k in self.key)
        with _registered(self.con, keys, "present") as view:
            self.con.execute(
                f"INSERT INTO {self.held} SELECT DISTINCT {cols}, ?::DATE FROM {view} AS n",
                [self.d],
            )

    def apply(self) -> int:
        """Set each version around D to end on the first later snapshot that is not a hold
        of its entity (NULL if none); returns the number of rows whose valid_to changed."""
        v = self.versions
        sql = f"""
            UPDATE {self.table} AS t SET valid_to = e.ends
            FROM (
                WITH snaps AS (SELECT DISTINCT valid_from AS d FROM {v}),
                holds AS (
                    SELECT h.* FROM {self.held} AS h
                    ANTI JOIN {v} AS r ON {self._same("r", "h")} AND r.valid_from = h.d
                ),
                targets AS (
                    SELECT DISTINCT {self._cols("a")}, a.valid_from AS v
                    FROM ({self._around()}) AS a
                ),
                candidates AS (
                    SELECT {self._cols("g")}, g.v, s.d FROM targets AS g
                    JOIN snaps AS s ON s.d > g.v
                    ANTI JOIN holds AS h ON {self._same("h", "g")} AND h.d = s.d
                )
                SELECT {self._cols("g")}, g.v, min(c.d) AS ends
                FROM targets AS g
                LEFT JOIN candidates AS c ON {self._same("c", "g")} AND c.v = g.v
                GROUP BY ALL
            ) AS e
            WHERE {self._same("t", "e")} AND t.valid_from = e.v
              AND t.valid_to IS DISTINCT FROM e.ends
        """
        return int(self.con.execute(sql, [self.d, self.d]).fetchone()[0])

    def drop(self) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {self.held}")
        self.con.execute(f"DROP TABLE IF EXISTS {self.versions}")
