"""The analysts' views come back ordered by their key: ``FROM views.x`` needs no ORDER BY."""

from __future__ import annotations

from pathlib import Path

from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.warehouse.readers import open_reader
from hk_pipeline_tests.lake_access import home_settings

INDEXES = {"HSI": 1, "HSCEI": 2, "HSTECH": 3}
UNIVERSES = {"all": 1, "main_board": 2, "gem": 3, "HSI": 4, "HSCEI": 5, "HSTECH": 6}
SNAPSHOTS = {"midday": 1, "close": 2}

# Each view's key, as a function of its row (a dict): a view added to sql/views without one
# here fails the test below.
KEYS = {
    "daily_close_history": lambda r: (r["trade_date"], r["symbol"]),
    "index_moves_history": lambda r: (
        r["trade_date"],
        SNAPSHOTS[r["snapshot"]],
        INDEXES[r["index_code"]],
    ),
    "latest_index_moves": lambda r: INDEXES[r["index_code"]],
    "latest_market_breadth": lambda r: UNIVERSES[r["universe"]],
    "latest_top_turnover": lambda r: r["rank"],
}


def test_every_view_comes_back_in_key_order(reference_home: Path) -> None:
    """On the reference lake (2025-11-20 close, 2025-11-21 midday): two days in the history
    views, so an order by symbol alone, or by day alone, would fail."""
    names = sorted(p.name.split(".")[1] for p in (PROJECT_DIR / "sql" / "views").glob("*.sql"))
    assert names == sorted(KEYS)
    con = open_reader(home_settings(reference_home))
    try:
        for name in names:
            cursor = con.execute(f"FROM views.{name}")
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            keys = [KEYS[name](row) for row in rows]
            assert len(set(keys)) > 1, f"views.{name}: too few rows to show an order"
            assert len(set(keys)) == len(keys), f"views.{name}: the key repeats"
            assert keys == sorted(keys), f"views.{name} is not in key order: {keys}"
    finally:
        con.close()
