"""Keeping rejected rows when their partition is refused.

``replace_partition``/``upsert_rows`` write quarantine together with the partition. When a
validation check fails with ERROR the partition must keep its previous contents, yet the rows
that made it fail must still be kept for whoever investigates: this writes only
``quarantine.<table>`` for (trade_date, snapshot), in one transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from hk_pipeline.faults import fault_point
from hk_pipeline.warehouse.tx import write_transaction
from hk_pipeline.warehouse.writes import (
    REJECTED_COLUMNS,
    QuarantineStamp,
    delete_partition,
    insert_quarantine,
    quarantine_table_for,
    rejected_frame,
)


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
    frame = rejected_frame(table, frame)
    frame["row_number"] = frame["row_number"].astype("int64")
    stamp = QuarantineStamp(trade_date, snapshot, run_id, source, datetime.now(UTC))

    def body(c: duckdb.DuckDBPyConnection) -> None:
        delete_partition(c, qtable, trade_date, snapshot)
        fault_point("quarantine.deleted")
        if len(frame):
            insert_quarantine(c, qtable, frame, stamp)
            fault_point("quarantine.inserted")

    write_transaction(con, body, what=f"{qtable} {trade_date}|{snapshot}", tables=(qtable,))
    return len(frame)
