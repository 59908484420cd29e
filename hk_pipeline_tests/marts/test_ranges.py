"""Marts over ranges: one set-based statement and one transaction for every partition of a
run, with the same rows as one partition at a time."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from hk_pipeline.marts.runner import (
    MART_NAMES,
    compute_mart,
    compute_marts,
    computed_partitions,
    materialize_mart,
    read_mart,
)
from hk_pipeline.report.markdown import MartsNotWrittenError, render_review
from hk_pipeline_tests.marts.conftest import D
from hk_pipeline_tests.marts.test_marts import _Recorder

PARTS = [(D, "midday"), (D, "close")]
NO_SESSION = (date(2023, 10, 9), "midday")  # typhoon signal 8: no morning session


def _same(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    """Counts and text exactly; floating sums to a relative 1e-12 (the summing order of a
    set-based statement may differ from one partition's)."""
    assert list(got.columns) == list(want.columns), name
    assert len(got) == len(want), name
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    for column in want.columns:
        if pd.api.types.is_float_dtype(want[column]):
            np.testing.assert_allclose(
                got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-12, err_msg=name
            )
        else:
            pd.testing.assert_series_equal(got[column], want[column], obj=f"{name}.{column}")


def test_a_range_gives_the_rows_of_each_partition_alone(warehouse) -> None:
    for name in MART_NAMES:
        ranged = compute_marts(warehouse, name, PARTS)
        dates = pd.to_datetime(ranged["trade_date"]).dt.date
        for d, s in PARTS:
            alone = compute_mart(warehouse, name, d, s)
            _same(ranged[(dates == d) & (ranged["snapshot"] == s)], alone, f"{name} {d}|{s}")


def test_a_range_is_one_statement_and_one_transaction(warehouse) -> None:
    run = _Recorder(warehouse)
    rows = materialize_mart(run, "market_breadth", PARTS, run_id="r1")
    assert rows == {(D, "midday"): 6, (D, "close"): 6}
    assert sum(s.startswith("BEGIN") for s in run.statements) == 1
    assert sum("mart.market_breadth BY NAME" in s for s in run.statements) == 1
    written = read_mart(warehouse, "market_breadth", D, "close")
    _same(written, compute_mart(warehouse, "market_breadth", D, "close"), "written")


def test_each_partition_of_the_range_is_replaced_whole(warehouse) -> None:
    materialize_mart(warehouse, "top_turnover", PARTS, run_id="r1")
    materialize_mart(warehouse, "top_turnover", [(D, "close")], run_id="r2")
    got = warehouse.execute(
        "SELECT snapshot, run_id, count(*) FROM mart.top_turnover GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert got == [("close", "r2", 7), ("midday", "r1", 7)]


def test_a_partition_without_a_session_is_emptied_and_macro_kept(warehouse) -> None:
    parts = [NO_SESSION, *PARTS]
    assert materialize_mart(warehouse, "market_breadth", parts, run_id="r")[NO_SESSION] == 0
    assert compute_mart(warehouse, "market_breadth", *NO_SESSION).empty
    # macro_asof is not about trading: it is computed for the partition all the same
    assert computed_partitions("macro_asof", parts) == parts
    assert computed_partitions("market_breadth", parts) == PARTS


def test_the_report_reads_written_marts_only(warehouse) -> None:
    with pytest.raises(MartsNotWrittenError, match="hk-pipeline run --date 2025-11-21"):
        render_review(warehouse, D, "midday")
