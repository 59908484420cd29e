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


def _write_quarantine(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rejected: pd.DataFrame | None,
    *,
    trade_date: date,
    snapshot: str,
    run_id: str,
    source: str,
    now: datetime,
) -> None:
    qtable = quarantine_table_for(table)
    con.execute(
        f"DELETE FROM {qtable} WHERE trade_date = ? AND snapshot = ?", [trade_date, snapshot]
    )
    fault_point("write.quarantine.deleted")
    if rejected is None or rejected.empty:
        return
    missing = [c for c in REJECTED_COLUMNS if c not in rejected.columns]
    if missing:
        raise ValueError(
            f"rejected rows for {table} lack column(s) {missing}; expected {list(REJECTED_COLUMNS)}"
        )
    frame = rejected.loc[:, list(REJECTED_COLUMNS)].copy()
    frame["record"] = frame["record"].map(_to_json).astype("string")
    frame["reason"] = frame["reason"].astype("string")
    with _registered(con, frame, "rejected") as view:
        con.execute(
            f"""
            INSERT INTO {qtable} BY NAME
            SELECT row_number, record, reason,
                   ?::DATE AS trade_date, ? AS snapshot, ? AS source, ? AS run_id,
                   ?::TIMESTAMPTZ AS quarantined_at
            FROM {view}
            """,
            [trade_date, snapshot, source, run_id, now],
        )


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
    now = datetime.now(UTC)
    override = {
        "trade_date": "?::DATE",
        "snapshot": "?",
        "run_id": "?",
        "loaded_at": "?::TIMESTAMPTZ",
    }
    params: list[object] = [trade_date, snapshot, run_id, now]
    names = _column_names(rows)
    if "source" in names:
        override["source"] = "coalesce(source, ?)"
    else:
        override["source"] = "?"
    params.append(source)

    def body(c: duckdb.DuckDBPyConnection) -> None:
        fault_point("write.partition.begun")
        c.execute(
            f"DELETE FROM {table} WHERE trade_date = ? AND snapshot = ?", [trade_date, snapshot]
        )
        fault_point("write.partition.deleted")
        if len(rows):
            with _registered(c, rows, "rows") as view:
                _check_rows_in_partition(c, view, names, table, trade_date, snapshot)
                select = _select_rows(view, names, override=override)
                c.execute(f"INSERT INTO {table} BY NAME {select}", params)
        fault_point("write.partition.inserted")
        _write_quarantine(
            c,
            table,
            rejected,
            trade_date=trade_date,
            snapshot=snapshot,
            run_id=run_id,
            source=source,
            now=now,
        )
        if also is not None:
            also(c)
        fault_point("write.partition.before_commit")

    write_transaction(
        con,
        body,
        what=f"{table} {trade_date}|{snapshot}",
        tables=(table, quarantine_table_for(table)),
    )
    fault_point("write.partition.committed")
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

    ``supersede`` (sources that only know the present, see :class:`Supersede`): an incoming
    row without valid_to keeps the valid_to its stored twin already had (a backfill does not
    reopen what a later snapshot closed), then :func:`close_superseded` runs. ``also(con)``
    runs last inside the same transaction. Returns the number of rows inserted.
    """
    _check_partition(trade_date, snapshot, run_id, source)
    columns = _check_target(con, table)
    if not key:
        raise ValueError(f"upsert into {table} needs a non-empty key")
    missing = [k for k in key if k not in columns or k not in rows.columns]
    if missing:
        raise ValueError(f"key column(s) {missing} missing from {table} or from the incoming rows")
    now = datetime.now(UTC)
    override = {"run_id": "?", "loaded_at": "?::TIMESTAMPTZ"}
    params: list[object] = [run_id, now]
    override["source"] = "coalesce(source, ?)" if "source" in rows.columns else "?"
    params.append(source)
    stage = f"_hk_stage_{uuid.uuid4().hex}"
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key)

    def body(c: duckdb.DuckDBPyConnection) -> None:
        # The temp table lives in the transaction: a rollback discards it, a commit keeps
        # it until dropped here.
        c.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM {table} LIMIT 0")
        if len(rows):
            with _registered(c, rows, "rows") as view:
                select = _select_rows(view, list(rows.columns), override=override)
                c.execute(f"INSERT INTO {stage} BY NAME {select}", params)
            fault_point("write.upsert.staged")
            if supersede is not None:
                c.execute(
                    f"""
                    UPDATE {stage} AS s SET valid_to = t.valid_to FROM {table} AS t
                    WHERE {on} AND s.valid_to IS NULL AND t.valid_to IS NOT NULL
                    """
                )
            c.execute(f"DELETE FROM {table} AS t USING {stage} AS s WHERE {on}")
            c.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {stage}")
            fault_point("write.upsert.inserted")
        c.execute(f"DROP TABLE {stage}")
        if supersede is not None:
            close_superseded(
                c,
                table,
                list(supersede.entity_key),
                supersede.valid_from,
                supersede.present_keys,
            )
        _write_quarantine(
            c,
            table,
            rejected,
            trade_date=trade_date,
            snapshot=snapshot,
            run_id=run_id,
            source=source,
            now=now,
        )
        if also is not None:
            also(c)
        fault_point("write.upsert.before_commit")

    write_transaction(
        con,
        body,
        what=f"{table} (effective {trade_date})",
        tables=(table, quarantine_table_for(table)),
    )
    fault_point("write.upsert.committed")
    return len(rows)


@dataclass(frozen=True)
class Supersede:
    """How a snapshot of an effective-dated table replaces what was in force before it.

    For sources that only know the present (a landing master file, a live list): every row
    of the snapshot has ``valid_from``; ``entity_key`` names the thing that has versions
    (``symbol``; ``index_code, symbol``); ``present_keys`` lists every entity the snapshot
    holds, rejected rows included (a row refused by validation must not read as a
    delisting), or is None when the snapshot is not complete (only superseded versions are
    closed then, never absent entities).
    """

    entity_key: tuple[str, ...]
    valid_from: date
    present_keys: frozenset[tuple[object, ...]] | None = None


def close_superseded(
    con: duckdb.DuckDBPyConnection,
    table: str,
    entity_key: list[str],
    valid_from: date,
    present_keys: Iterable[tuple[object, ...]] | None = None,
) -> int:
    """Close what a snapshot taking effect on ``valid_from`` (D) supersedes. No transaction of
    its own: call it inside the write's (``upsert_rows(..., supersede=...)`` does).

    1. A version of an entity with a row from D (the new version) that began before D and is
       in force on D ends on D.
    2. With ``present_keys`` (a full snapshot): a version in force on D of an entity absent
       from it ends on D.
    3. The rows from D end where the entity's next later version begins, if they ran past it
       (a backfill of an earlier day never overlaps what a later snapshot loaded).

    Returns the number of rows whose valid_to changed. Sources that know each row's true
    valid_to (the sample market) never call this.
    """
    columns = _check_target(con, table)
    missing = [k for k in [*entity_key, "valid_from", "valid_to"] if k not in columns]
    if not entity_key or missing:
        what = missing or "entity key"
        raise ValueError(f"close_superseded on {table}: column(s) {what} missing")
    ent = ", ".join(_q(k) for k in entity_key)
    match = " AND ".join(f"t.{_q(k)} = n.{_q(k)}" for k in entity_key)
    in_force = "t.valid_from < ? AND (t.valid_to IS NULL OR t.valid_to > ?)"
    changed = 0

    def run(sql: str, params: list[object]) -> None:
        nonlocal changed
        changed += int(con.execute(sql, params).fetchone()[0])

    run(
        f"""
        UPDATE {table} AS t SET valid_to = ?
        FROM (SELECT DISTINCT {ent} FROM {table} WHERE valid_from = ?) AS n
        WHERE {match} AND {in_force}
        """,
        [valid_from, valid_from, valid_from, valid_from],
    )
    if present_keys is not None:
        keys = pd.DataFrame(list(present_keys), columns=entity_key, dtype=object)
        with _registered(con, keys, "present") as view:
            run(
                f"""
                UPDATE {table} AS t SET valid_to = ?
                WHERE {in_force}
                  AND NOT EXISTS (
                      SELECT 1 FROM {view} AS n
                      WHERE {" AND ".join(f"t.{_q(k)} = n.{_q(k)}::VARCHAR" for k in entity_key)}
                  )
                """,
                [valid_from, valid_from, valid_from],
            )
    run(
        f"""
        UPDATE {table} AS t SET valid_to = n.next_from
        FROM (
            SELECT {ent}, min(valid_from) AS next_from FROM {table}
            WHERE valid_from > ? GROUP BY ALL
        ) AS n
        WHERE {match} AND t.valid_from = ?
          AND (t.valid_to IS NULL OR t.valid_to > n.next_from)
        """,
        [valid_from, valid_from],
    )
    return changed
