"""Keeping rejected rows when their partition is refused.

``replace_partition``/``upsert_rows`` write quarantine together with the partition. When a
validation check fails with ERROR the partition must keep its previous contents, yet the rows
that made it fail must still be kept for whoever investigates: this writes only
``quarantine.<table>`` for (trade_date, snapshot), in one transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from hk_pipeline.faults import fault_point
from hk_pipeline.warehouse.tx import registered, write_transaction
from hk_pipeline.warehouse.writes import REJECTED_COLUMNS, quarantine_table_for


def _as_json(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def replace_quarantine(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rejected: pd.DataFrame | None,
    *,
    trade_date: date,
    snapshot: str,
    run_id: str,
    source: str,
) -> int:
    """Replace partition (trade_date, snapshot) of ``quarantine.<table>`` with ``rejected``.

    ``rejected`` has columns row_number, record (dict or JSON text), reason. Returns the
    number of rows written. ``table`` itself is not touched.
    """
    qtable = quarantine_table_for(table)
    frame = pd.DataFrame(columns=list(REJECTED_COLUMNS)) if rejected is None else rejected
    missing = [c for c in REJECTED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"rejected rows for {table} lack column(s) {missing}; expected {list(REJECTED_COLUMNS)}"
        )
    frame = frame.loc[:, list(REJECTED_COLUMNS)].copy()
    frame["row_number"] = frame["row_number"].astype("int64")
    frame["record"] = frame["record"].map(_as_json).astype("string")
    frame["reason"] = frame["reason"].astype("string")
    now = datetime.now(UTC)

    def body(c: duckdb.DuckDBPyConnection) -> None:
        c.execute(
            f"DELETE FROM {qtable} WHERE trade_date = ? AND snapshot = ?", [trade_date, snapshot]
        )
        fault_point("quarantine.deleted")
        if len(frame):
            with registered(c, frame, "quarantine") as view:
                c.execute(
                    f"""
                    INSERT INTO {qtable} BY NAME
                    SELECT row_number, record, reason,
                           ?::DATE AS trade_date, ? AS snapshot, ? AS source, ? AS run_id,
                           ?::TIMESTAMPTZ AS quarantined_at
                    FROM {view}
                    """,
                    [trade_date, snapshot, source, run_id, now],
                )
            fault_point("quarantine.inserted")

    write_transaction(con, body, what=f"{qtable} {trade_date}|{snapshot}", tables=(qtable,))
    return len(frame)
