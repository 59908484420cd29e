"""A mart that gains a column does not break a home made before it: the set-up adds it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hk_pipeline.marts.runner import MART_NAMES, add_new_mart_columns
from hk_pipeline.warehouse.schema import FINGERPRINT_TABLE, ensure_lake_schema
from hk_pipeline_tests.lake_access import write_home

DAY = date(2025, 11, 21)


def _columns(con, name: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'mart' AND table_name = ? ORDER BY column_index",
            [name],
        ).fetchall()
    ]


def test_a_home_made_before_a_new_mart_column_gets_it_at_the_next_set_up(tmp_path: Path) -> None:
    con = write_home(tmp_path)
    try:
        full = _columns(con, "top_movers")
        assert "liquid" in full and "liquid_rank" in full
        # the home as an earlier version left it: the mart without its newer columns
        con.execute("ALTER TABLE mart.top_movers DROP COLUMN liquid")
        con.execute("ALTER TABLE mart.top_movers DROP COLUMN liquid_rank")
        con.execute(f"UPDATE {FINGERPRINT_TABLE} SET fingerprint = 'an earlier version'")
        assert "liquid" not in _columns(con, "top_movers")
        assert ensure_lake_schema(con)  # the set-up runs again for the new fingerprint
        got = _columns(con, "top_movers")
        assert {"liquid", "liquid_rank"} <= set(got) and set(got) == set(full)
        # every mart matches its SQL: nothing more to add
        assert not [n for n in MART_NAMES if add_new_mart_columns(con, n, DAY, "midday")]
    finally:
        con.close()
