"""Mart assets: one per ``marts.runner.MART_NAMES``, each running its SQL for the partition.

Checks (``marts/checks.py``) are blocking: the mart is written (it is derived and replaced on
the next run), then a failing check fails the step and ``mart/market_report`` is skipped, so
no review is written from numbers that do not add up.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from hk_pipeline import calendar
from hk_pipeline.defs.partitions import BACKFILL_POLICY, run_partitions, snapshot_partitions_def
from hk_pipeline.defs.resources import WarehouseResource
from hk_pipeline.marts import checks as mart_checks
from hk_pipeline.marts.runner import (
    MART_NAMES,
    compute_mart,
    mart_description,
    mart_schema,
    mart_sources,
    write_mart,
)

if TYPE_CHECKING:
    from datetime import date

    import duckdb
    import pandas as pd

MART_DEPS: dict[str, list[dg.AssetKey]] = {
    name: [dg.AssetKey(table.split(".")) for table in mart_sources(name)] for name in MART_NAMES
}
"""Each mart's upstream tables, read from its SQL (``runner.mart_sources``)."""

# A check receives (con, frame, trade_date, snapshot) and returns (passed, message, metadata).
CheckFn = Callable[["duckdb.DuckDBPyConnection", "pd.DataFrame", "date", str], Any]


@dataclass(frozen=True)
class MartCheck:
    name: str
    description: str
    run: CheckFn


MART_CHECKS: dict[str, list[MartCheck]] = {
    "index_moves": [
        MartCheck(
            "levels_reconcile",
            "Computed (Hang Seng formula) and official levels agree within 1 bp.",
            lambda con, f, d, s: mart_checks.check_levels_reconcile(f),
        )
    ],
    "index_attribution": [
        MartCheck(
            "contributions_add_up",
            "Constituents' contribution points add up to the index's computed point change.",
            lambda con, f, d, s: mart_checks.check_contributions_sum(
                f, compute_mart(con, "index_moves", d, s)
            ),
        )
    ],
    "market_breadth": [
        MartCheck(
            "breadth_adds_up",
            "Advancers + decliners + unchanged (+ no previous close) = total, per universe.",
            lambda con, f, d, s: mart_checks.check_breadth_adds_up(f),
        )
    ],
    "top_turnover": [
        MartCheck(
            "distinct_descending",
            "Distinct symbols, ranks 1..n, turnover descending.",
            lambda con, f, d, s: mart_checks.check_top_turnover(f),
        )
    ],
}


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["mart", name])


def _json_safe(value: Any) -> Any:

    return json.loads(json.dumps(value, default=str))


def column_schema(name: str) -> dg.TableSchema:
    """Columns, types and descriptions (from the SQL header) of ``mart.<name>``."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c, type=t, description=d or None) for c, t, d in mart_schema(name)
        ]
    )


def check_result(name: str, outcomes: list[tuple[str, bool, str, Any]]) -> dg.AssetCheckResult:
    """The run's result of one mart check: failed if any partition failed, described by the
    first failing partition (or the only one)."""
    failed = [o for o in outcomes if not o[1]]
    key, _passed, message, meta = failed[0] if failed else outcomes[-1]
    if len(outcomes) > 1:
        message = f"{key}: {message}" if failed else f"{len(outcomes)} partitions: {message}"
    metadata: dict[str, Any] = {
        "message": message,
        "details": dg.MetadataValue.json(_json_safe(meta)),
    }
    if len(outcomes) > 1:
        metadata["failed_partitions"] = dg.MetadataValue.json([o[0] for o in failed])
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=message,
        metadata=metadata,
    )


def make_mart_asset(name: str) -> dg.AssetsDefinition:
    key = mart_key(name)
    checks = MART_CHECKS.get(name, [])

    @dg.asset(
        key=key,
        deps=MART_DEPS[name],
        description=mart_description(name),
        group_name="mart",
        partitions_def=snapshot_partitions_def,
        backfill_policy=BACKFILL_POLICY,
        kinds={"duckdb", "sql"},
        metadata={
            "table": f"mart.{name}",
            "sql": f"sql/marts/mart.{name}.sql",
            "dagster/column_schema": column_schema(name),
        },
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=key, blocking=True, description=c.description)
            for c in checks
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        partitions = run_partitions(context)
        rows: dict[str, int] = {}
        outcomes: dict[str, list[tuple[str, bool, str, Any]]] = {c.name: [] for c in checks}
        with warehouse.connection() as con:
            for trade_date, snapshot in partitions:
                frame = compute_mart(con, name, trade_date, snapshot)
                rows[f"{trade_date}|{snapshot}"] = write_mart(
                    con,
                    name,
                    frame,
                    trade_date=trade_date,
                    snapshot=snapshot,
                    run_id=context.run.run_id,
                )
                # a partition without a session (a morning weather cancelled) has empty marts
                # by design: its checks pass saying why, instead of failing a backfill
                no_session = calendar.no_session_reason(trade_date, snapshot)
                for c in checks:
                    if no_session is not None and frame.empty:
                        passed, message, meta = True, f"{no_session}: no rows", {"rows": 0}
                    else:
                        passed, message, meta = c.run(con, frame, trade_date, snapshot)
                    outcomes[c.name].append(
                        (f"{trade_date}|{snapshot}", bool(passed), message, meta)
                    )
        metadata: dict[str, Any] = {"rows": sum(rows.values())}
        if len(rows) == 1:
            metadata["dagster/row_count"] = metadata["rows"]
        else:
            metadata["rows_by_partition"] = dg.MetadataValue.json(rows)
        yield dg.MaterializeResult(
            metadata=metadata,
            check_results=[check_result(c.name, outcomes[c.name]) for c in checks],
        )

    return _asset


MART_ASSETS: list[dg.AssetsDefinition] = [make_mart_asset(n) for n in MART_NAMES]
MART_KEYS = [mart_key(n) for n in MART_NAMES]
