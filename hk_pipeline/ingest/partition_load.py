"""One partition of one ref/raw table, loaded in two steps: ``prepare`` then ``write``.

``prepare`` fetches and validates, touching no database (so a run can prepare the next
partition in another thread while this one is written). ``write`` judges the validation
(``schemas.validate.assess``) and writes:

- OK: the partition is written.
- WARN: the good rows are written and the rejected ones go to ``quarantine.<table>``.
- ERROR: only the quarantine partition is written; the table keeps its previous contents
  and ``RowsRefused`` is raised with the verdict's message.

A source that cannot deliver (``SourceError``: a missing or malformed landing file, an
unreachable provider) refuses the partition with its own message, which names the file and
line or the provider and host; nothing is written. An empty landing file refuses more: the
partition of every table delivered with it (``incomplete_delivery``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial

import duckdb
import pandas as pd
import pyarrow as pa

from hk_pipeline import calendar
from hk_pipeline.faults import fault_point
from hk_pipeline.ingest.feed import TableFeed
from hk_pipeline.ingest.origins import cite_origins, landing_files
from hk_pipeline.ingest.supersede import supersede_for
from hk_pipeline.ingest.symbols import critical_symbols, securities_master
from hk_pipeline.schemas.validate import (
    SchemaMismatchError,
    ValidationOutcome,
    Verdict,
    assess,
    validate_frame,
)
from hk_pipeline.sources.base import MarketSource, SourceError
from hk_pipeline.sources.landing import row_origins
from hk_pipeline.sources.landing_errors import LandingEmptyFileError
from hk_pipeline.warehouse.landing_loads import LoadedFile, replace_landing_loads
from hk_pipeline.warehouse.quarantine import replace_quarantine
from hk_pipeline.warehouse.writes import Supersede, replace_partition, upsert_rows


class Refused(Exception):
    """A partition that must not load; the table is unchanged for that partition.

    The message says which table and partition, and why; a source's error is the cause.
    """


class FrameDoesNotFit(Refused):
    """The frame as a whole does not fit the table's schema: nothing of it loads."""

    def __init__(self, message: str, reason: str, rows: int, columns: list[str]) -> None:
        super().__init__(message)
        self.reason = reason  # the schema's own words, without the partition
        self.rows = rows
        self.columns = columns


class RowsRefused(Refused):
    """The rejected rows fail the verdict (too many, or a critical one): only the quarantine
    partition was written."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass
class Prepared:
    """One partition of one table as fetched and validated, before anything is written."""

    outcome: ValidationOutcome  # rejected rows cited with their origin
    rows: pa.Table | pd.DataFrame  # the valid rows as the writer takes them: Arrow
    # (partitions), pandas (upserts)
    files: list[LoadedFile] | None
    supersede: Supersede | None
    extra: pd.DataFrame | None  # ref tables: the day's constituents, as critical symbols


@dataclass(frozen=True)
class Written:
    """What ``write`` did: rows written and the verdict (OK or WARN) they were written under."""

    rows: int
    verdict: Verdict


def prepare(spec: TableFeed, market: MarketSource, trade_date: date, snapshot: str) -> Prepared:
    """Fetch and validate one partition of ``spec.table``, touching no database (so it can
    run ahead of the writes, in another thread); raise Refused if it must not load."""

    where = f"{spec.table} {trade_date}|{snapshot}"
    if not calendar.is_trading_day(trade_date):
        raise Refused(f"{trade_date} is not an HKEX trading day; nothing to load")
    try:
        frame = spec.fetch(market, trade_date, snapshot)
        master = securities_master(spec, market, trade_date)
        # ref tables load before (or as) the constituents: take them from the source too
        extra = market.index_constituents(trade_date) if spec.table.startswith("ref.") else None
    except SourceError as exc:
        # the source's own words name the file and line, or the provider and host
        raise Refused(f"{where} not loaded: {exc}") from exc
    fault_point("ingest.fetched")
    origins = row_origins(frame)
    files = landing_files(market, origins)
    try:
        outcome = validate_frame(spec.table, frame, master=master)
    except SchemaMismatchError as exc:
        # the frame as a whole does not fit: nothing loads, the table is left as it was
        raise FrameDoesNotFit(
            f"{where} refused: {exc}", str(exc), len(frame), list(frame.columns)
        ) from exc
    fault_point("ingest.validated")
    outcome.rejected = cite_origins(outcome.rejected, origins)
    return Prepared(
        outcome=outcome,
        # converted here: polars must not run on the writing thread at the same time (its
        # pool is shared; a conversion holding the GIL there deadlocked against this thread)
        rows=outcome.valid_arrow if spec.upsert_key is None else outcome.valid,
        files=files,
        supersede=supersede_for(spec, market, frame, outcome.frame),
        extra=extra,
    )


def write(
    spec: TableFeed,
    market: MarketSource,
    con: duckdb.DuckDBPyConnection,
    prepared: Prepared,
    *,
    trade_date: date,
    snapshot: str,
    run_id: str,
    threshold: float,
) -> Written:
    """Write one partition of ``spec.table`` as ``prepare`` fetched and validated it; raise
    RowsRefused if it must not load (the table is then unchanged for that partition, the
    rejected rows kept in its quarantine with their reasons)."""

    where = f"{spec.table} {trade_date}|{snapshot}"
    outcome, files = prepared.outcome, prepared.files
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
    verdict = assess(
        outcome,
        threshold=threshold,
        critical_symbols=critical_symbols(con, trade_date, prepared.extra),
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
        raise RowsRefused(
            f"{where} refused: {verdict.message} ({kept} rejected row(s) kept with their reasons)",
            verdict,
        )
    fault_point("ingest.before_write")
    common = {
        "trade_date": trade_date,
        "snapshot": snapshot,
        "run_id": run_id,
        "source": market.name,
        "rejected": outcome.rejected,
        "also": record,
    }
    if spec.upsert_key is None:
        # straight from the validated frame, no pandas round trip
        written = replace_partition(con, spec.table, prepared.rows, **common)
    else:
        written = upsert_rows(
            con,
            spec.table,
            prepared.rows,
            key=list(spec.upsert_key),
            supersede=prepared.supersede,
            **common,
        )
    return Written(rows=written, verdict=verdict)


def incomplete_delivery(causes: Iterable[BaseException | None]) -> LandingEmptyFileError | None:
    """The empty landing file among the causes of a partition's refusals, if any.

    An empty file is a truncated delivery: then none of the tables loaded together for the
    partition (one step's quotes, index levels and bars) may write it, so a day never holds
    new index levels beside old quotes.
    """
    return next((c for c in causes if isinstance(c, LandingEmptyFileError)), None)


def refused_with_delivery(
    table: str, trade_date: date, snapshot: str, empty: LandingEmptyFileError
) -> Refused:
    """The refusal of a table whose own rows are whole but whose delivery is truncated."""
    refusal = Refused(
        f"{table} {trade_date}|{snapshot} not loaded: its delivery is incomplete"
        f" ({empty.path} is empty), so nothing of the partition is written"
    )
    refusal.__cause__ = empty
    return refusal
