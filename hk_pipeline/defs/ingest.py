"""The ref/raw assets: each loads its partitions (``hk_pipeline.ingest``) and reports them.

What loading a partition means (fetch, validate, judge, quarantine, write) lives in
``hk_pipeline.ingest``, without Dagster; this module turns it into assets. The validation's
outcome is reported as the asset's blocking ``schema`` check:

- OK: check passes; the partition is written.
- WARN: the check fails with WARN severity (yellow in the UI, does not block downstream);
  the good rows are written and the rejected ones go to ``quarantine.<table>``.
- ERROR: the check fails with ERROR severity; only the quarantine partition is written, the
  table keeps its previous contents, no materialisation is recorded, and the step raises
  ``dagster.Failure`` with the verdict's message, so every downstream asset is skipped.

A source that cannot deliver fails the step with its own message, which names the file and
line or the provider and host; nothing is written. The landing files a load read (path,
sha256, size) are recorded in the materialisation's metadata (``LANDING_FILES_METADATA``).
"""

import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from hk_pipeline.defs.partitions import BACKFILL_POLICY, run_partitions, snapshot_partitions_def
from hk_pipeline.defs.resources import PipelineSettingsResource, SourceResource, WarehouseResource
from hk_pipeline.ingest import partition_load
from hk_pipeline.ingest.feed import TableFeed
from hk_pipeline.ingest.partition_load import Prepared
from hk_pipeline.ingest.supersede import ManySnapshotsError
from hk_pipeline.schemas.validate import MODELS, ValidationOutcome
from hk_pipeline.sources.base import MarketSource
from hk_pipeline.sources.landing_errors import LandingEmptyFileError
from hk_pipeline.warehouse.landing_loads import LoadedFile

SCHEMA_CHECK = "schema"
# Materialisation metadata: the landing files (path, sha256, size) the load read; the landing
# sensor compares it with the files in the folder to tell a loaded set from a new one.
LANDING_FILES_METADATA = "landing_files"
SAMPLE_ROWS = 10


class TableSpec(TableFeed):
    """A ``TableFeed`` as an asset: its key is the table's ``schema.table``."""

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns, types and descriptions, from its pandera model."""

    columns = MODELS[table].to_schema().columns
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(col.dtype), description=col.description or None)
            for name, col in columns.items()
        ]
    )


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


def check_metadata(outcome: ValidationOutcome) -> dict[str, Any]:
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


class Refused(Exception):
    """A partition that must not load: the failing check (if any) and the step's Failure."""

    def __init__(self, failure: dg.Failure, check: dg.AssetCheckResult | None = None) -> None:
        super().__init__(failure.description)
        self.failure = failure
        self.check = check


@dataclass
class Loaded:
    """What one partition's load of one table did, for the run's check and metadata."""

    trade_date: date
    snapshot: str
    written: int
    received: int
    rejected: int
    severity: str  # the verdict: OK or WARN (ERROR raises Refused)
    message: str
    check_metadata: dict[str, Any]
    files: list[LoadedFile] | None

    @property
    def key(self) -> str:
        return f"{self.trade_date}|{self.snapshot}"


def _failed_check(
    spec: TableSpec, description: str, metadata: dict[str, Any]
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=SCHEMA_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def prepare_partition(
    spec: TableSpec, market: MarketSource, trade_date: date, snapshot: str
) -> Prepared:
    """``partition_load.prepare``, a refusal reported as the step's Failure and, when the
    frame does not fit the table, the failing ``schema`` check."""

    try:
        return partition_load.prepare(spec, market, trade_date, snapshot)
    except partition_load.FrameDoesNotFit as exc:
        check = _failed_check(
            spec,
            exc.reason,
            {"rows": exc.rows, "columns": dg.MetadataValue.json(exc.columns)},
        )
        failure = dg.Failure(description=str(exc), allow_retries=False)
        # the cause stays the source's or the schema's own error
        raise Refused(failure, check) from exc.__cause__
    except partition_load.Refused as exc:
        raise Refused(dg.Failure(description=str(exc), allow_retries=False)) from exc.__cause__
    except ManySnapshotsError as exc:
        # not a refusal of one partition: the source breaks its contract, the step stops
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


def load_partition(
    context: dg.AssetExecutionContext,
    spec: TableSpec,
    market: MarketSource,
    con: duckdb.DuckDBPyConnection,
    pipeline: PipelineSettingsResource,
    trade_date: date,
    snapshot: str,
    prepared: Prepared,
) -> Loaded:
    """Write one partition of ``spec.table`` as ``prepare_partition`` fetched and validated
    it (``partition_load.write``); raise Refused, with the failing ``schema`` check, if it
    must not load (the table is then unchanged for that partition)."""

    outcome = prepared.outcome
    metadata = check_metadata(outcome)
    try:
        written = partition_load.write(
            spec,
            market,
            con,
            prepared,
            trade_date=trade_date,
            snapshot=snapshot,
            run_id=context.run.run_id,
            threshold=pipeline.quarantine_threshold,
        )
    except partition_load.RowsRefused as exc:
        check = _failed_check(
            spec, exc.verdict.message, {**metadata, "partition": f"{trade_date}|{snapshot}"}
        )
        failure = dg.Failure(description=str(exc), metadata=metadata, allow_retries=False)
        raise Refused(failure, check) from None  # the message says it all
    return Loaded(
        trade_date=trade_date,
        snapshot=snapshot,
        written=written.rows,
        received=int(outcome.n_rows),
        rejected=int(outcome.n_rejected),
        severity=written.verdict.severity,
        message=written.verdict.message,
        check_metadata=metadata,
        files=prepared.files,
    )


def _batch_check_metadata(loads: list[Loaded]) -> dict[str, Any]:
    """The run's check metadata: one partition's as is; for a ranged run, totals, the
    partitions that quarantined rows and the failing-row sample of the first of them."""
    if len(loads) == 1:
        return loads[0].check_metadata
    rows = sum(x.received for x in loads)
    rejected = sum(x.rejected for x in loads)
    counts: dict[str, int] = {}
    for x in loads:
        for name, n in x.check_metadata["failure_counts"].value.items():
            counts[name] = counts.get(name, 0) + int(n)
    first_bad = next((x for x in loads if x.rejected), loads[0])
    return {
        "partitions": len(loads),
        "rows": rows,
        "rejected": rejected,
        "rejected_pct": dg.MetadataValue.float(100.0 * rejected / rows if rows else 0.0),
        "failure_counts": dg.MetadataValue.json(counts),
        "rejected_by_partition": dg.MetadataValue.json(
            {x.key: x.rejected for x in loads if x.rejected}
        ),
        "failing_rows_sample": first_bad.check_metadata["failing_rows_sample"],
    }


def summarize(spec: TableSpec, loads: list[Loaded], source: str) -> dg.MaterializeResult:
    """One materialisation (Dagster records it for every partition of the run) carrying the
    run's ``schema`` check: WARN if any partition quarantined rows, else passed."""
    warned = [x for x in loads if x.severity == "WARN"]
    description = (
        loads[0].message
        if len(loads) == 1
        else "; ".join(f"{x.key}: {x.message}" for x in warned)
        or f"{len(loads)} partitions: every row passed"
    )
    check = dg.AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=SCHEMA_CHECK,
        passed=not warned,
        # WARN: rows were quarantined but the partition loads (shown yellow, not blocking)
        severity=dg.AssetCheckSeverity.WARN if warned else dg.AssetCheckSeverity.ERROR,
        metadata=_batch_check_metadata(loads),
        description=description,
    )
    written = sum(x.written for x in loads)
    metadata: dict[str, Any] = {
        "rows_written": written,
        "rows_received": sum(x.received for x in loads),
        "rejected": sum(x.rejected for x in loads),
        "source": source,
        "check": description,
    }
    if len(loads) == 1:
        metadata["dagster/row_count"] = written
    else:
        # Dagster copies this metadata to every partition of the run: say whose rows they are
        metadata["partitions"] = len(loads)
        metadata["rows_by_partition"] = dg.MetadataValue.json({x.key: x.written for x in loads})
    files = [f for x in loads for f in (x.files or [])]
    if any(x.files is not None for x in loads):
        metadata[LANDING_FILES_METADATA] = dg.MetadataValue.json(
            [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]
        )
    return dg.MaterializeResult(asset_key=spec.asset_key, metadata=metadata, check_results=[check])


def ingest(
    context: dg.AssetExecutionContext,
    specs: list[TableSpec],
    warehouse: WarehouseResource,
    source: SourceResource,
    pipeline: PipelineSettingsResource,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Load every partition of the run into each of ``specs``' tables, day by day.

    Partitions are loaded one at a time, each in its own transaction, so memory holds one
    partition and a refused partition leaves the earlier ones of the run written. Tables of
    one multi-asset load together per partition (the sample market simulates a day once); a
    refused table stops at that partition while the step's other tables load the whole
    range and are materialised, then the step fails with every refusal's message. The one
    exception is a truncated delivery: when a file of the partition is empty
    (``LandingEmptyFileError``), none of the step's tables writes that partition, so a day
    never holds new index levels beside old quotes, and all of them stop there.
    """
    market = source.get()
    partitions = run_partitions(context)
    loads: dict[str, list[Loaded]] = {spec.table: [] for spec in specs}
    refused: dict[str, Refused] = {}
    with warehouse.connection() as con, _ahead(specs, market, partitions) as prepared:
        for (trade_date, snapshot), ready in zip(partitions, prepared, strict=True):
            # a refused table stops; the others of the step go on
            live = [spec for spec in specs if spec.table not in refused]
            outcomes = {spec.table: _outcome(ready[spec.table]) for spec in live}
            empty = partition_load.incomplete_delivery(
                got.__cause__ for got in outcomes.values() if isinstance(got, Refused)
            )
            for spec in live:
                got = outcomes[spec.table]
                if empty is not None and not isinstance(got, Refused):
                    got = _refused_with_delivery(spec, trade_date, snapshot, empty)
                try:
                    if isinstance(got, Refused):
                        raise got
                    loaded = load_partition(
                        context, spec, market, con, pipeline, trade_date, snapshot, prepared=got
                    )
                except Refused as exc:
                    refused[spec.table] = _with_progress(exc, len(loads[spec.table]))
                    continue
                loads[spec.table].append(loaded)
    for spec in specs:
        if spec.table in refused:
            check = refused[spec.table].check
            if check is not None:
                yield check
            continue
        rows = loads[spec.table]
        context.log.info(
            f"{spec.table}: {sum(x.written for x in rows)} row(s) written,"
            f" {sum(x.rejected for x in rows)} quarantined, {len(rows)} partition(s)"
        )
        yield summarize(spec, rows, market.name)
    if refused:
        failures = [r.failure for r in refused.values()]
        raise dg.Failure(
            description="; ".join(f.description or "" for f in failures),
            metadata=failures[0].metadata,
            allow_retries=False,
        ) from next(iter(refused.values()))


def _outcome(future: Future[Prepared]) -> Prepared | Refused:
    """The prepared partition, or its refusal (raised by ``prepare_partition``)."""
    try:
        return future.result()
    except Refused as exc:
        return exc


def _refused_with_delivery(
    spec: TableSpec, trade_date: date, snapshot: str, empty: LandingEmptyFileError
) -> Refused:
    """``partition_load.refused_with_delivery`` as the step's Failure."""
    refusal = partition_load.refused_with_delivery(spec.table, trade_date, snapshot, empty)
    wrapped = Refused(dg.Failure(description=str(refusal), allow_retries=False))
    wrapped.__cause__ = empty
    return wrapped


@contextmanager
def _ahead(
    specs: list[TableSpec], market: MarketSource, partitions: list[tuple[date, str]]
) -> Iterator[Iterator[dict[str, Future[Prepared]]]]:
    """Each partition's tables, fetched and validated one partition ahead of the writes.

    While DuckDB writes partition n (it releases the GIL), one thread fetches and validates
    partition n + 1, so a ranged run uses both cores; memory holds two partitions. Only that
    thread calls the source and polars (validation and the conversion of its result), and
    it touches no database. Results are consumed in order, so a refusal reads exactly as it
    would without the thread.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-ahead") as pool:

        def submit(trade_date: date, snapshot: str) -> dict[str, Future[Prepared]]:
            return {
                spec.table: pool.submit(prepare_partition, spec, market, trade_date, snapshot)
                for spec in specs
            }

        def in_order() -> Iterator[dict[str, Future[Prepared]]]:
            pending = submit(*partitions[0]) if partitions else {}
            for i in range(len(partitions)):
                current = pending
                if i + 1 < len(partitions):
                    pending = submit(*partitions[i + 1])
                yield current

        try:
            yield in_order()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _with_progress(refused: Refused, written: int) -> Refused:
    """Say how many earlier partitions of the run this table did write."""
    if written:
        refused.failure = dg.Failure(
            description=(
                f"{refused.failure.description}; {written} earlier partition(s) of this run"
                " were written"
            ),
            metadata=refused.failure.metadata,
            allow_retries=False,
        )
    return refused


def _check_spec(spec: TableSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        SCHEMA_CHECK,
        asset=spec.asset_key,
        blocking=True,
        description=(
            f"Rows of {spec.table} pass its pandera model; fails (ERROR) above the"
            " quarantine threshold or when an index or constituent is rejected."
        ),
    )


def _spec_metadata(spec: TableSpec) -> dict[str, Any]:
    return {"dagster/column_schema": column_schema(spec.table), "table": spec.table}


def make_ingest_asset(spec: TableSpec, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """A partitioned asset writing ``spec.table`` with its blocking ``schema`` check."""

    @dg.asset(
        key=spec.asset_key,
        deps=deps,
        description=spec.description,
        group_name=spec.table.split(".")[0],
        partitions_def=snapshot_partitions_def,
        backfill_policy=BACKFILL_POLICY,
        kinds={"duckdb", "pandas"},
        metadata=_spec_metadata(spec),
        check_specs=[_check_spec(spec)],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        source: SourceResource,
        pipeline: PipelineSettingsResource,
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        yield from ingest(context, [spec], warehouse, source, pipeline)

    return _asset


def make_ingest_multi_asset(
    name: str, specs: list[TableSpec], deps: dict[str, list[dg.AssetKey]]
) -> dg.AssetsDefinition:
    """One step writing several tables fed from the same day of the source, partition by
    partition; each table is still its own asset with its own ``schema`` check, and any
    subset of them can be materialised."""

    by_key = {spec.asset_key: spec for spec in specs}

    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                spec.asset_key,
                deps=deps.get(spec.table, []),
                description=spec.description,
                group_name=spec.table.split(".")[0],
                kinds={"duckdb", "pandas"},
                metadata=_spec_metadata(spec),
            )
            for spec in specs
        ],
        check_specs=[_check_spec(spec) for spec in specs],
        partitions_def=snapshot_partitions_def,
        backfill_policy=BACKFILL_POLICY,
        can_subset=True,
    )
    def _multi(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        source: SourceResource,
        pipeline: PipelineSettingsResource,
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        selected = [by_key[k] for k in by_key if k in context.selected_asset_keys]
        yield from ingest(context, selected, warehouse, source, pipeline)

    return _multi
