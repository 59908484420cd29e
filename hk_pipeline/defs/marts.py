"""Mart assets: one per ``marts.runner.MART_NAMES``, each running its SQL for the run's partitions.

A run of one partition or of a range computes and writes each mart in one set-based
statement and one transaction (``runner.materialize_mart``). Checks (``marts/checks.py``) are
blocking and read the rows that were written (and, for the contributions, the
``mart.index_moves`` rows written before them): a failing check fails the step and
``mart/market_report`` is skipped, so no review is written from numbers that do not add up.
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
    mart_description,
    mart_schema,
    mart_sources,
    materialize_mart,
    read_marts,
)

if TYPE_CHECKING:
    from datetime import date

    import duckdb
    import pandas as pd

MART_DEPS: dict[str, list[dg.AssetKey]] = {
    name: [dg.AssetKey(table.split(".")) for table in mart_sources(name)] for name in MART_NAMES
}
"""Each mart's upstream tables, read from its SQL (``runner.mart_sources``)."""

# A check receives the partition's written rows and those of the marts it ``reads`` (by
# name) and returns (passed, message, metadata).
CheckFn = Callable[["pd.DataFrame", dict[str, "pd.DataFrame"]], Any]


@dataclass(frozen=True)
class MartCheck:
    name: str
    description: str
    run: CheckFn
    reads: tuple[str, ...] = ()
    """Other marts whose written rows the check compares with (they run first)."""


MART_CHECKS: dict[str, list[MartCheck]] = {
    "index_moves": [
        MartCheck(
            "levels_reconcile",
            "Computed (Hang Seng formula) and official levels agree within 1 bp.",
            lambda f, other: mart_checks.check_levels_reconcile(f),
        )
    ],
    "index_attribution": [
        MartCheck(
            "contributions_add_up",
            "Constituents' contribution points add up to the index's computed point change.",
            lambda f, other: mart_checks.check_contributions_sum(f, other["index_moves"]),
            reads=("index_moves",),
        )
    ],
    "market_breadth": [
        MartCheck(
            "breadth_adds_up",
            "Advancers + decliners + unchanged (+ no previous close) = total, per universe.",
            lambda f, other: mart_checks.check_breadth_adds_up(f),
        )
    ],
    "top_turnover": [
        MartCheck(
            "distinct_descending",
            "Distinct symbols, ranks 1..n, turnover descending.",
            lambda f, other: mart_checks.check_top_turnover(f),
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


Outcome = tuple[str, bool, str, Any]
"""(partition key, passed, message, metadata) of one check on one partition."""


def run_checks(
    con: "duckdb.DuckDBPyConnection",
    name: str,
    checks: list[MartCheck],
    partitions: list[tuple["date", str]],
) -> dict[str, list[Outcome]]:
    """Each check on each partition, over the rows ``mart.<name>`` holds (one read for the
    range, and one per other mart a check reads)."""
    outcomes: dict[str, list[Outcome]] = {c.name: [] for c in checks}
    if not checks:
        return outcomes
    frames = read_marts(con, name, partitions)
    others = {
        other: read_marts(con, other, partitions)
        for other in sorted({r for c in checks for r in c.reads})
    }
    for trade_date, snapshot in partitions:
        part = (trade_date, snapshot)
        frame = frames[part]
        # a partition without a session (a morning weather cancelled) has empty marts by
        # design: its checks pass saying why, instead of failing a backfill
        no_session = calendar.no_session_reason(trade_date, snapshot)
        for c in checks:
            if no_session is not None and frame.empty:
                passed, message, meta = True, f"{no_session}: no rows", {"rows": 0}
            else:
                passed, message, meta = c.run(frame, {o: others[o][part] for o in c.reads})
            outcomes[c.name].append((f"{trade_date}|{snapshot}", bool(passed), message, meta))
    return outcomes


def make_mart_asset(name: str) -> dg.AssetsDefinition:
    key = mart_key(name)
    # checks of this mart alone run in its step; one reading another mart is its own step
    # after both (make_cross_check)
    checks = [c for c in MART_CHECKS.get(name, []) if not c.reads]

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
        with warehouse.connection() as con:
            written = materialize_mart(con, name, partitions, run_id=context.run.run_id)
            outcomes = run_checks(con, name, checks, partitions)
        rows = {f"{d}|{s}": n for (d, s), n in written.items()}
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


def make_cross_check(name: str, check: MartCheck) -> dg.AssetChecksDefinition:
    """A blocking check of ``mart.<name>`` that also reads the marts ``check.reads``: its own
    step, after all of them are written in the run (so it reads this run's rows)."""

    @dg.asset_check(
        asset=mart_key(name),
        name=check.name,
        description=check.description,
        blocking=True,
        additional_deps=[mart_key(r) for r in check.reads],
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        partitions = run_partitions(context)  # type: ignore[arg-type]  # same partition API
        with warehouse.connection() as con:
            outcomes = run_checks(con, name, [check], partitions)
        return check_result(check.name, outcomes[check.name])

    return _check


MART_CROSS_CHECKS: list[dg.AssetChecksDefinition] = [
    make_cross_check(name, c) for name, checks in MART_CHECKS.items() for c in checks if c.reads
]
# the cross checks are definitions of their own (an AssetChecksDefinition is an
# AssetsDefinition): listed with the assets, every list of the project's assets carries them
MART_ASSETS: list[dg.AssetsDefinition] = [
    *(make_mart_asset(n) for n in MART_NAMES),
    *MART_CROSS_CHECKS,
]
MART_KEYS = [mart_key(n) for n in MART_NAMES]
