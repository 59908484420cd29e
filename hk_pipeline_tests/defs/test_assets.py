"""One partition materialised with the fake source: rows, idempotence, quarantine, blocking."""

from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline_tests.defs.conftest import DAY, KEY, Materialize
from hk_pipeline_tests.lake_access import read_home

QUOTES = dg.AssetKey(["raw", "quotes"])
TABLE_ROWS = {
    "ref.securities": 4,
    "ref.index_constituents": 6,
    "raw.quotes": 4,
    "raw.index_levels": 3,
    "raw.intraday_bars": 8,
    "raw.macro_series": 1,
    "mart.index_moves": 3,
}
DOWNSTREAM_OF_QUOTES = {
    "mart/index_moves",
    "mart/index_attribution",
    "mart/market_breadth",
    "mart/sector_performance",
    "mart/top_turnover",
    "mart/top_movers",
    "mart/market_report",
}


def _counts(home: Path) -> dict[str, int]:
    con = read_home(home / "warehouse.duckdb")
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLE_ROWS}
    finally:
        con.close()


def _query(home: Path, sql: str) -> list[tuple]:
    con = read_home(home / "warehouse.duckdb")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _check(result: dg.ExecuteInProcessResult, key: dg.AssetKey, name: str = "schema"):
    found = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == key and e.check_name == name
    ]
    assert len(found) == 1, f"expected one {name} evaluation on {key}"
    return found[0]


def test_one_partition_writes_every_table(materialize: Materialize, home: Path) -> None:
    result = materialize()
    assert result.success
    assert _counts(home) == TABLE_ROWS
    assert _query(
        home, "SELECT DISTINCT trade_date::VARCHAR, snapshot, source FROM raw.quotes"
    ) == [(DAY, "midday", "sample")]
    assert _query(home, "SELECT DISTINCT run_id FROM raw.quotes") == [(result.run_id,)]
    check = _check(result, QUOTES)
    assert check.passed
    assert check.metadata["rows"].value == 4 and check.metadata["rejected"].value == 0
    mat = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == QUOTES
    ).materialization
    assert mat.partition == KEY
    assert mat.metadata["dagster/row_count"].value == 4
    assert mat.metadata["source"].value == "sample"
    report = next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "mart/market_report"
    )
    assert "data:image/png;base64," in report.metadata["chart"].value
    assert Path(report.metadata["chart_path"].value).exists()


def test_rerun_replaces_not_duplicates(materialize: Materialize, home: Path) -> None:
    assert materialize().success
    first = _counts(home)
    before = _query(home, "SELECT * EXCLUDE (run_id, loaded_at) FROM raw.quotes ORDER BY symbol")
    second = materialize()
    assert second.success
    assert _counts(home) == first
    after = _query(home, "SELECT * EXCLUDE (run_id, loaded_at) FROM raw.quotes ORDER BY symbol")
    assert after == before
    assert _query(home, "SELECT DISTINCT run_id FROM raw.quotes") == [(second.run_id,)]


def test_bad_row_quarantined_rest_loads_with_warning(materialize: Materialize, home: Path) -> None:
    result = materialize("negative_price", threshold=0.5)
    assert result.success
    check = _check(result, QUOTES)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["rejected"].value == 1
    assert "08001" in check.metadata["failing_rows_sample"].value
    assert _query(home, "SELECT count(*) FROM raw.quotes") == [(3,)]
    rows = _query(
        home, "SELECT trade_date::VARCHAR, snapshot, reason, record FROM quarantine.quotes"
    )
    assert len(rows) == 1
    assert rows[0][:2] == (DAY, "midday") and "08001" in rows[0][3] and rows[0][2]
    assert _materialized(result) >= DOWNSTREAM_OF_QUOTES  # a warning does not block


@pytest.mark.parametrize(
    ("variant", "threshold"),
    [("all_bad", 0.5), ("negative_price", 0.01), ("bad_constituent", 0.5)],
    ids=["over-threshold", "over-default-threshold", "bad-constituent"],
)
def test_failed_check_keeps_partition_and_blocks_downstream(
    materialize: Materialize, home: Path, variant: str, threshold: float
) -> None:
    good = materialize()
    assert good.success
    before = _query(home, "SELECT * FROM raw.quotes ORDER BY symbol")

    bad = materialize(variant, threshold=threshold)

    assert not bad.success
    check = _check(bad, QUOTES)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["rejected"].value >= 1
    assert check.metadata["failure_counts"].value
    # the partition is untouched: same rows, same (first) run id
    assert _query(home, "SELECT * FROM raw.quotes ORDER BY symbol") == before
    # the rejected rows are still kept, with this run's id
    assert _query(home, "SELECT DISTINCT run_id FROM quarantine.quotes") == [(bad.run_id,)]
    # no materialisation of quotes or of anything downstream of it
    assert not ({"raw/quotes"} | DOWNSTREAM_OF_QUOTES) & _materialized(bad)
    # the tables loaded by the same step from the same day still load
    assert {"raw/index_levels", "raw/intraday_bars"} <= _materialized(bad)
    started = {e.step_key for e in bad.all_events if e.event_type_value == "STEP_START"}
    assert not {"mart__index_moves", "mart__market_report"} & started  # dependents never started
    failure = next(e for e in bad.all_events if e.is_step_failure)
    assert failure.step_key == "raw_market"
    assert "refused" in failure.step_failure_data.user_failure_data.description


def test_failing_mart_check_blocks_the_report(materialize: Materialize, home: Path) -> None:
    result = materialize("level_off")
    assert not result.success
    check = _check(result, dg.AssetKey(["mart", "index_moves"]), "levels_reconcile")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "HSI" in check.description
    done = _materialized(result)
    assert "mart/index_moves" in done  # derived, replaced on the next run
    assert "mart/market_report" not in done
