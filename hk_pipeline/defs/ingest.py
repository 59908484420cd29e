"""Shared body of the ref/raw assets: fetch, validate, assess, write, report.

Validation runs inside the asset so the coerced frame is what reaches the table. The outcome
is reported as the asset's blocking ``schema`` check:

- OK: check passes; the partition is written.
- WARN: the check fails with WARN severity (yellow in the UI, does not block downstream);
  the good rows are written and the rejected ones go to ``quarantine.<table>``.
- ERROR: the check fails with ERROR severity; only the quarantine partition is written, the
  table keeps its previous contents, no materialisation is recorded, and the step raises
  ``dagster.Failure`` with the verdict's message, so every downstream asset is skipped.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.defs.partitions import parse_partition_key
from hk_pipeline.defs.resources import PipelineSettingsResource, SourceResource, WarehouseResource

if TYPE_CHECKING:
    import duckdb

    from hk_pipeline.sources.base import MarketSource

INDEX_CODES = ("HSI", "HSCEI", "HSTECH")
SCHEMA_CHECK = "schema"
SAMPLE_ROWS = 10

Fetch = Callable[["MarketSource", date, str], pd.DataFrame]


@dataclass(frozen=True)
class TableSpec:
    """How one ref/raw table is fed: where rows come from and how they are written."""

    table: str  # schema.table, also the asset key
    fetch: Fetch
    description: str
    upsert_key: tuple[str, ...] | None = None  # None: replace the (date, snapshot) partition

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns, types and descriptions, from its pandera model."""
    from hk_pipeline.schemas.validate import MODELS

    columns = MODELS[table].to_schema().columns
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(col.dtype), description=col.description or None)
            for name, col in columns.items()
        ]
    )


def critical_symbols(
    con: "duckdb.DuckDBPyConnection", trade_date: date, extra: pd.DataFrame | None = None
) -> set[str]:
    """Index codes plus the constituents in force on trade_date (and any in ``extra``).

    A rejected row about one of these fails the check whatever the rejected share: an index
    computed without a member, or a missing level, is wrong, not merely incomplete.
    """
    rows = con.execute(
        """
        SELECT DISTINCT symbol FROM ref.index_constituents
        WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
        """,
        [trade_date, trade_date],
    ).fetchall()
    out = {*INDEX_CODES, *(r[0] for r in rows)}
    if extra is not None and "symbol" in extra.columns:
        out.update(str(s) for s in extra["symbol"].dropna())
    return out


def _md_table(frame: pd.DataFrame) -> str:
    """A Markdown table (no tabulate dependency); cells are escaped for pipes."""
    if frame.empty:
        return "_no failing rows_"
    cols = [str(c) for c in frame.columns]

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def check_metadata(outcome: Any) -> dict[str, Any]:
    """rows, rejected, rejected_pct, failure_counts and a sample of failing rows."""
    n_rows, n_rejected = int(outcome.n_rows), int(outcome.n_rejected)
    sample = pd.DataFrame(
        [
            {
                "row_number": r.get("row_number"),
                "reason": r.get("reason"),
                "record": json.dumps(r.get("record"), default=str, ensure_ascii=False),
            }
            for r in outcome.sample(SAMPLE_ROWS)
        ],
        columns=["row_number", "reason", "record"],
    )
    return {
        "rows": n_rows,
        "rejected": n_rejected,
        "rejected_pct": dg.MetadataValue.float(100.0 * n_rejected / n_rows if n_rows else 0.0),
        "failure_counts": dg.MetadataValue.json(
            json.loads(json.dumps(dict(outcome.failure_counts), default=str))
        ),
        "failing_rows_sample": dg.MetadataValue.md(_md_table(sample)),
    }


def ingest(
    context: dg.AssetExecutionContext,
    spec: TableSpec,
    warehouse: WarehouseResource,
    source: SourceResource,
    pipeline: PipelineSettingsResource,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Fetch, validate, write and report one partition of ``spec.table``."""
    from hk_pipeline.schemas.validate import SchemaMismatchError, assess, validate_frame
    from hk_pipeline.warehouse import replace_partition, upsert_rows
    from hk_pipeline.warehouse.quarantine import replace_quarantine

    trade_date, snapshot = parse_partition_key(context.partition_key)
    if not calendar.is_trading_day(trade_date):
        raise dg.Failure(f"{trade_date} is not an HKEX trading day; nothing to load")
    market = source.get()
    frame = spec.fetch(market, trade_date, snapshot)
    run_id = context.run.run_id
    where = f"{spec.table} {trade_date}|{snapshot}"
    try:
        outcome = validate_frame(spec.table, frame)
    except SchemaMismatchError as exc:
        # the frame as a whole does not fit: nothing loads, the table is left as it was
        yield dg.AssetCheckResult(
            check_name=SCHEMA_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=str(exc),
            metadata={"rows": len(frame), "columns": dg.MetadataValue.json(list(frame.columns))},
        )
        raise dg.Failure(description=f"{where} refused: {exc}", allow_retries=False) from exc

    with warehouse.connection() as con:
        extra = None
        if spec.table.startswith("ref."):
            # ref tables load before (or as) the constituents: take them from the source too
            extra = market.index_constituents(trade_date)
        verdict = assess(
            outcome,
            threshold=pipeline.quarantine_threshold,
            critical_symbols=critical_symbols(con, trade_date, extra),
        )
        metadata = check_metadata(outcome)
        check = dg.AssetCheckResult(
            check_name=SCHEMA_CHECK,
            passed=verdict.severity == "OK",
            # WARN: rows were quarantined but the partition loads (shown yellow, not blocking)
            severity=(
                dg.AssetCheckSeverity.WARN
                if verdict.severity == "WARN" and verdict.passed
                else dg.AssetCheckSeverity.ERROR
            ),
            metadata=metadata,
            description=verdict.message,
        )
        if verdict.severity == "ERROR" or not verdict.passed:
            kept = replace_quarantine(
                con,
                spec.table,
                outcome.rejected,
                trade_date=trade_date,
                snapshot=snapshot,
                run_id=run_id,
                source=market.name,
            )
            yield check
            raise dg.Failure(
                description=(
                    f"{where} refused: {verdict.message}"
                    f" ({kept} rejected row(s) kept with their reasons)"
                ),
                metadata=metadata,
                allow_retries=False,
            )
        if spec.upsert_key is None:
            written = replace_partition(
                con,
                spec.table,
                outcome.valid,
                trade_date=trade_date,
                snapshot=snapshot,
                run_id=run_id,
                source=market.name,
                rejected=outcome.rejected,
            )
        else:
            written = upsert_rows(
                con,
                spec.table,
                outcome.valid,
                key=list(spec.upsert_key),
                trade_date=trade_date,
                snapshot=snapshot,
                run_id=run_id,
                source=market.name,
                rejected=outcome.rejected,
            )
    context.log.info(f"{where}: {written} row(s) written, {outcome.n_rejected} quarantined")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "rows_written": written,
            "rows_received": int(outcome.n_rows),
            "rejected": int(outcome.n_rejected),
            "source": market.name,
            "check": verdict.message,
        },
        check_results=[check],
    )


def make_ingest_asset(spec: TableSpec, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """A partitioned asset writing ``spec.table`` with its blocking ``schema`` check."""
    from hk_pipeline.defs.partitions import snapshot_partitions_def

    group = spec.table.split(".")[0]

    @dg.asset(
        key=spec.asset_key,
        deps=deps,
        description=spec.description,
        group_name=group,
        partitions_def=snapshot_partitions_def,
        kinds={"duckdb", "pandas"},
        metadata={"dagster/column_schema": column_schema(spec.table), "table": spec.table},
        check_specs=[
            dg.AssetCheckSpec(
                SCHEMA_CHECK,
                asset=spec.asset_key,
                blocking=True,
                description=(
                    f"Rows of {spec.table} pass its pandera model; fails (ERROR) above the"
                    " quarantine threshold or when an index or constituent is rejected."
                ),
            )
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        source: SourceResource,
        pipeline: PipelineSettingsResource,
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        yield from ingest(context, spec, warehouse, source, pipeline)

    return _asset
