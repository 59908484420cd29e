"""Shared body of the ref/raw assets: fetch, validate, assess, write, report.

Validation runs inside the asset so the coerced frame is what reaches the table. The outcome
is reported as the asset's blocking ``schema`` check:

- OK: check passes; the partition is written.
- WARN: the check fails with WARN severity (yellow in the UI, does not block downstream);
  the good rows are written and the rejected ones go to ``quarantine.<table>``.
- ERROR: the check fails with ERROR severity; only the quarantine partition is written, the
  table keeps its previous contents, no materialisation is recorded, and the step raises
  ``dagster.Failure`` with the verdict's message, so every downstream asset is skipped.

A source that cannot deliver (``SourceError``: a missing or malformed landing file, an
unreachable provider) fails the step with its own message, which names the file and line or
the provider and host; nothing is written.

Landing rows carry where they came from (``sources.landing.row_origins``): a quarantined
row's reason starts with ``path:line``, and the files read (path, sha256, size) are recorded in
the materialisation's metadata and in ``raw.landing_loads``, in the write's own transaction.

Effective-dated tables from sources that only know the present (``knows_valid_to = False``:
landing, live) are written with ``warehouse.writes.Supersede``: the previous version of a
symbol and symbols absent from the snapshot are closed on the snapshot's valid_from.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.defs.partitions import parse_partition_key
from hk_pipeline.defs.resources import PipelineSettingsResource, SourceResource, WarehouseResource

if TYPE_CHECKING:
    import duckdb

    from hk_pipeline.sources.base import MarketSource
    from hk_pipeline.sources.landing import RowOrigins
    from hk_pipeline.warehouse.landing_loads import LoadedFile
    from hk_pipeline.warehouse.writes import Supersede

INDEX_CODES = ("HSI", "HSCEI", "HSTECH")
SCHEMA_CHECK = "schema"
# Materialisation metadata: the landing files (path, sha256, size) the load read; the landing
# sensor compares it with the files in the folder to tell a loaded set from a new one.
LANDING_FILES_METADATA = "landing_files"
SAMPLE_ROWS = 10

Fetch = Callable[["MarketSource", date, str], pd.DataFrame]


@dataclass(frozen=True)
class TableSpec:
    """How one ref/raw table is fed: where rows come from and how they are written."""

    table: str  # schema.table, also the asset key
    fetch: Fetch
    description: str
    upsert_key: tuple[str, ...] | None = None  # None: replace the (date, snapshot) partition
    # what has versions (ref tables); used only for sources that only know the present
    entity_key: tuple[str, ...] | None = None

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


def landing_files(
    market: "MarketSource", origins: "RowOrigins | None"
) -> "list[LoadedFile] | None":
    """The landing files a frame came from (path relative to the landing folder), or None
    when the frame is not from the landing zone."""
    from hk_pipeline.warehouse.landing_loads import LoadedFile

    root = getattr(market, "root", None)
    if origins is None or root is None:
        return None

    def rel(path: Path) -> str:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            return str(path)

    return [LoadedFile(rel(f.path), f.sha256, int(f.size)) for f in origins.files]


def cite_origins(rejected: pd.DataFrame, origins: "RowOrigins | None") -> pd.DataFrame:
    """Prefix each rejected row's reason with the ``path:line`` it came from."""
    if origins is None or rejected.empty:
        return rejected
    out = rejected.copy()
    out["reason"] = [
        f"{origins.cite(int(row))}: {reason}"
        for row, reason in zip(out["row_number"], out["reason"], strict=True)
    ]
    return out


def supersede_for(
    spec: TableSpec, market: "MarketSource", frame: pd.DataFrame, valid: Any
) -> "Supersede | None":
    """How the snapshot closes what it supersedes, for sources that only know the present.

    None for sources that know each row's valid_to (the sample market) and tables without
    versions. ``present_keys`` comes from the frame as received, rejected rows included, so
    a quarantined row never reads as a delisting.
    """
    from hk_pipeline.warehouse.writes import Supersede

    if spec.entity_key is None or getattr(market, "knows_valid_to", True):
        return None
    starts = valid["valid_from"].unique().to_list() if valid.height else []
    if not starts:
        return None
    if len(starts) > 1:
        raise dg.Failure(
            description=(
                f"{spec.table}: source {market.name} delivered versions starting on"
                f" {sorted(starts)}; a source that knows only the present must deliver one"
                " snapshot (one valid_from) per load"
            ),
            allow_retries=False,
        )
    keys = frame[list(spec.entity_key)].astype("string").itertuples(index=False, name=None)
    present = frozenset(k for k in keys if all(isinstance(v, str) for v in k))
    return Supersede(spec.entity_key, starts[0], present)


def ingest(
    context: dg.AssetExecutionContext,
    spec: TableSpec,
    warehouse: WarehouseResource,
    source: SourceResource,
    pipeline: PipelineSettingsResource,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Fetch, validate, write and report one partition of ``spec.table``."""
    from hk_pipeline.faults import fault_point
    from hk_pipeline.schemas.validate import SchemaMismatchError, assess, validate_frame
    from hk_pipeline.sources.base import SourceError
    from hk_pipeline.sources.landing import row_origins
    from hk_pipeline.warehouse import replace_partition, upsert_rows
    from hk_pipeline.warehouse.landing_loads import replace_landing_loads
    from hk_pipeline.warehouse.quarantine import replace_quarantine

    trade_date, snapshot = parse_partition_key(context.partition_key)
    if not calendar.is_trading_day(trade_date):
        raise dg.Failure(f"{trade_date} is not an HKEX trading day; nothing to load")
    market = source.get()
    run_id = context.run.run_id
    where = f"{spec.table} {trade_date}|{snapshot}"
    try:
        frame = spec.fetch(market, trade_date, snapshot)
    except SourceError as exc:
        # the source's own words name the file and line, or the provider and host
        raise dg.Failure(description=f"{where} not loaded: {exc}", allow_retries=False) from exc
    fault_point("ingest.fetched")
    origins = row_origins(frame)
    files = landing_files(market, origins)
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
    fault_point("ingest.validated")
    outcome.rejected = cite_origins(outcome.rejected, origins)
    supersede = supersede_for(spec, market, frame, outcome.frame)
    record = (
        None
        if files is None
        else partial(
            replace_landing_loads,
            files=files,
            trade_date=trade_date,
            snapshot=snapshot,
            kind=spec.table.split(".", 1)[1],
            run_id=run_id,
        )
    )

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
        fault_point("ingest.before_write")
        if spec.upsert_key is None:
            written = replace_partition(
                con,
                spec.table,
                outcome.valid_arrow,  # straight from the validated frame, no pandas round trip
                trade_date=trade_date,
                snapshot=snapshot,
                run_id=run_id,
                source=market.name,
                rejected=outcome.rejected,
                also=record,
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
                supersede=supersede,
                also=record,
            )
    context.log.info(f"{where}: {written} row(s) written, {outcome.n_rejected} quarantined")
    metadata = {
        "dagster/row_count": written,
        "rows_written": written,
        "rows_received": int(outcome.n_rows),
        "rejected": int(outcome.n_rejected),
        "source": market.name,
        "check": verdict.message,
    }
    if files is not None:
        metadata[LANDING_FILES_METADATA] = dg.MetadataValue.json(
            [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]
        )
    yield dg.MaterializeResult(metadata=metadata, check_results=[check])


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
