"""``hk-pipeline``: a thin command line over Dagster's own APIs.

Every run goes through the persistent Dagster instance under ``$HK_PIPELINE_HOME/dagster``, so
it shows in the UI's run history. Runs execute in-process (no process per step).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import ipaddress
import math
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING

from hk_pipeline import calendar
from hk_pipeline.cli_guard import GuardError, guarded, root_message
from hk_pipeline.cli_interrupts import Interrupted, stoppable
from hk_pipeline.config import SOURCES, ConfigError, Settings, load_settings
from hk_pipeline.instance_config import write_dagster_home
from hk_pipeline.paths import PROJECT_DIR

if TYPE_CHECKING:
    import dagster as dg

# Each command imports what it runs inside its function (Dagster alone adds ~1.9 s, the
# definitions ~5.9 s), so `--help` and the commands that never touch them start in ~0.9 s:
# the deferred imports of docs/architecture.md.

WORKSPACE_YAML = PROJECT_DIR / "workspace.yaml"
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
PLANNED_EVENTS_VARIABLE = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# Run tag naming the CLI command that started a run: a run stuck past its stop's grace period
# is recorded as failed by this tag (cli_interrupts), as Dagster cannot do it from a stuck step.
STOP_TAG = "hk_pipeline/cli_command"
# Trading days per backfill run: Dagster's per-run cost (~1.5 s) is paid once per batch, and
# a refused partition stops the backfill with at most one batch partly written.
DEFAULT_BATCH_DAYS = 20


class CliError(Exception):
    """A user error: printed as one line, exit code 2 (1 for a failed run)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def prepare_environment(source: str | None) -> Settings:
    """Apply --source, load settings, point DAGSTER_HOME at the project's Dagster home."""
    if source:
        os.environ["HK_PIPELINE_SOURCE"] = source
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    try:
        # dagster.yaml follows HK_PIPELINE_DAGSTER_POSTGRES_URL at every command
        home = write_dagster_home(settings)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    os.environ["DAGSTER_HOME"] = str(home)
    # A run over a range of partitions records one "materialisation planned" event per asset
    # instead of one per asset and partition: ~0.1 s a partition of SQLite event-log writes.
    # Dagster's trade-off: partitions of a ranged run that fails show as missing, not failed,
    # in the UI (the run, and the backfill's line, say which partition failed). Single-partition
    # runs are unaffected. Set the variable to false to get per-partition events back.
    os.environ.setdefault(PLANNED_EVENTS_VARIABLE, "true")
    return settings


def parse_day(text: str, what: str = "--date") -> date:
    """A trading day from ``YYYY-MM-DD``; CliError naming the next trading day otherwise."""
    try:
        d = date.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"{what} {text!r} is not a date (expected YYYY-MM-DD)") from exc
    if d < calendar.START_DATE:
        raise CliError(f"{what} {d} is before the first partition, {calendar.START_DATE}")
    if d > calendar.last_calendar_date():
        raise CliError(
            f"{what} {d} is past the last day the HKEX calendar knows"
            f" ({calendar.last_calendar_date()})"
        )
    return d


def parse_instant(text: str) -> str:
    """``--at-time`` as DuckDB reads it; a time without an offset is Hong Kong time."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CliError(
            f"--at-time {text!r} is not a time (expected e.g. 2025-11-21T12:30+08:00)"
        ) from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=calendar.TZ)
    return instant.isoformat(sep=" ")


def require_trading_day(d: date, what: str = "--date") -> date:
    if not calendar.is_trading_day(d):
        from hk_pipeline.defs.schedules import closed_reason

        raise CliError(
            f"{what} {d} is not an HKEX trading day ({closed_reason(d)}); the next trading"
            f" day is {calendar.next_trading_day(d)}"
        )
    return d


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step and its message (the Failure's description, no traceback)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            data = event.step_failure_data
            user = data.user_failure_data
            if user is not None and user.description:
                message = user.description
            elif data.error is not None:
                message = root_message(data.error)
            else:
                message = "failed"
            return f"step {event.step_key}: {message}"
    return "the run failed (see the Dagster UI for its logs)"


def execute_partition(
    settings: Settings, d: date, snapshot: str, tags: dict[str, str] | None = None
) -> str:
    """Run the snapshot job for (d, snapshot) in-process on the persistent instance.

    The Definitions are built from ``settings`` (not the module-level ``defs``, whose
    resources were fixed when it was first imported). Returns the run id; raises CliError
    (code 1) with the failure message if the run fails.
    """
    from hk_pipeline.defs.partitions import partition_key

    key = partition_key(d, snapshot)
    return _execute(settings, {"partition_key": key}, str(key), key, tags)


def execute_days(
    settings: Settings,
    first: date,
    last: date,
    snapshot: str | None,
    tags: dict[str, str] | None = None,
) -> str:
    """Run the snapshot job once for trading days first..last (one snapshot or both).

    One Dagster run over a partition range: each asset loops over the range's partitions,
    one at a time, so the run costs Dagster's per-run overhead once, not per partition.
    """
    from hk_pipeline.defs.partitions import partition_range_tags, range_keys

    if first == last and snapshot:
        return execute_partition(settings, first, snapshot, tags)
    range_tags = partition_range_tags(first, last, snapshot)
    label = describe_range(first, last, snapshot)
    _, last_key = range_keys(first, last, snapshot)
    return _execute(settings, {}, label, last_key, {**(tags or {}), **range_tags})


def describe_range(first: date, last: date, snapshot: str | None) -> str:
    """``2025-11-17|midday..2025-11-21|close``, or one key when the range is one partition."""
    from hk_pipeline.defs.partitions import range_keys

    lo, hi = range_keys(first, last, snapshot)
    return lo if lo == hi else f"{lo}..{hi}"


def _execute(
    settings: Settings,
    how: dict[str, object],
    label: str,
    last_key: object,
    tags: dict[str, str] | None,
) -> str:

    from hk_pipeline.definitions import build_definitions
    from hk_pipeline.defs.jobs import SNAPSHOT_JOB_NAME
    from hk_pipeline.defs.partitions import snapshot_partitions_def

    if not snapshot_partitions_def.has_partition_key(str(last_key)):
        raise CliError(f"partition {last_key} does not exist yet (partitions run up to tomorrow)")
    job = build_definitions(settings).resolve_job_def(SNAPSHOT_JOB_NAME)
    with _open_instance(settings) as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config=QUIET_RUN_CONFIG,
            tags=tags,
            **how,
        )
    if not result.success:
        raise CliError(f"run {result.run_id} for {label} failed: {_failure_message(result)}", 1)
    return result.run_id


# A wait is announced when it starts and then every this many seconds, with the time so far.
WAIT_NOTICE_SECONDS = 10.0
_POLL_SECONDS = 0.1


def _flock_holders(path: Path) -> list[str]:
    """The processes holding a flock on ``path`` (``/proc/locks``, Linux), e.g. ``pid 42:
    hk-pipeline run ...``; empty where the kernel does not say."""
    from hk_pipeline.warehouse.catalog_locks import process_name

    try:
        st = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:  # no /proc (macOS), or the file went away: the line stays general
        return []
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in text.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:02:131 0 EOF"; waiters have a "->" field
        if len(fields) >= 6 and "->" not in fields and fields[1] == "FLOCK" and fields[5] == where:
            pids.append(int(fields[4]))
    return [process_name(pid) for pid in sorted(set(pids)) if pid != os.getpid()]


def wait_for_flock(handle: IO[bytes], path: Path, what: str) -> None:
    """Take an exclusive flock on ``handle``, saying on stderr what it waits for and how long.

    Uncontended it is taken at once, silently. Held by another process, the wait is announced
    with the holder (when the kernel names it), then every WAIT_NOTICE_SECONDS with the time
    so far, and once more when it is taken: a command that seems to hang says why.
    """
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    from hk_pipeline.warehouse.tx import announce

    holders = _flock_holders(path)
    held_by = f" held by {'; '.join(holders)}" if holders else " held by another process"
    announce(f"waiting for {what} ({path},{held_by}); it is released when that one is done")
    started = time.monotonic()
    notice_at = started + WAIT_NOTICE_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            now = time.monotonic()
            if now >= notice_at:
                announce(f"still waiting for {what}: {now - started:.0f} s so far")
                notice_at = now + WAIT_NOTICE_SECONDS
            time.sleep(_POLL_SECONDS)
    announce(f"got {what} after waiting {time.monotonic() - started:.1f} s")


@contextmanager
def _open_instance(settings: Settings) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance of the home. Opening it creates Dagster's SQLite storage on first
    use, and two commands started together on a new home raced doing so ("table ...
    already exists"): the opening is serialised by a lock file beside dagster.yaml."""
    import dagster as dg

    lock = settings.dagster_home / ".open.lock"
    with open(lock, "a+b") as handle:
        wait_for_flock(handle, lock, "the Dagster instance's lock")
        try:
            instance = dg.DagsterInstance.get()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    with instance:
        yield instance


def _fail_stuck_runs(settings: Settings, token: str) -> Callable[[str], str]:
    """For ``stoppable(on_abandon=...)``: record this command's unfinished runs as failed."""

    def fail(reason: str) -> str:
        import dagster as dg

        unfinished = [
            dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED,
        ]
        with _open_instance(settings) as instance:
            runs = instance.get_runs(dg.RunsFilter(tags={STOP_TAG: token}, statuses=unfinished))
            for run in runs:
                instance.report_run_failed(run, reason)
        ids = ", ".join(run.run_id for run in runs)
        return f" (Dagster records run {ids} as failed)" if ids else ""

    return fail


def _read_only(settings: Settings):
    from hk_pipeline.warehouse.readers import ReaderError, open_reader

    try:
        return open_reader(settings)
    except ReaderError as exc:
        raise CliError(str(exc)) from exc


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    d = require_trading_day(parse_day(args.date))
    started = time.monotonic()
    key = f"{d}|{args.snapshot}"
    token = uuid.uuid4().hex
    # SIGTERM / Ctrl-C end the run within seconds, with one line (cli_interrupts)
    with stoppable(
        f"running {key}",
        "Run the same command again to finish it.",
        on_abandon=_fail_stuck_runs(settings, token),
    ):
        run_id = execute_partition(settings, d, args.snapshot, tags={STOP_TAG: token})
        print(f"{key}: run {run_id} succeeded in {time.monotonic() - started:.1f}s")
        from hk_pipeline.report.summary import render_summary

        con = _read_only(settings)
        try:
            print(render_summary(con, d, args.snapshot))
        finally:
            con.close()
    return 0


def batches(days: list[date], batch_days: int) -> list[list[date]]:
    """Consecutive trading days in runs of at most ``batch_days``."""
    if batch_days < 1:
        raise CliError(f"--batch-days must be at least 1, got {batch_days}")
    return [days[i : i + batch_days] for i in range(0, len(days), batch_days)]


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    start = parse_day(args.start, "--start")
    end = parse_day(args.end, "--end")
    if end < start:
        raise CliError(f"--end {end} is before --start {start}")
    days = calendar.trading_days(start, end)
    if not days:
        raise CliError(
            f"no trading day from {start} to {end}; the next trading day is"
            f" {calendar.next_trading_day(end)}"
        )
    snapshot = args.snapshot
    per_day = 1 if snapshot else len(calendar.SNAPSHOTS)
    runs = batches(days, args.batch_days)
    backfill_id = uuid.uuid4().hex[:8]
    print(
        f"backfill {backfill_id}: {len(days) * per_day} partition(s), {start} to {end},"
        f" in {len(runs)} run(s) of up to {args.batch_days} trading day(s)"
    )
    started = time.monotonic()
    for i, run_days in enumerate(runs, start=1):
        label = describe_range(run_days[0], run_days[-1], snapshot)
        count = len(run_days) * per_day
        t0 = time.monotonic()
        try:
            # SIGTERM / Ctrl-C end the backfill within seconds, with one line (cli_interrupts)
            with stoppable(
                f"running {label}, run {i} of {len(runs)} of backfill {backfill_id}",
                "Partitions committed before it keep what they wrote; run the same backfill"
                " again to finish it.",
                on_abandon=_fail_stuck_runs(settings, backfill_id),
            ):
                execute_days(
                    settings,
                    run_days[0],
                    run_days[-1],
                    snapshot,
                    tags={"hk_pipeline/backfill": backfill_id, STOP_TAG: backfill_id},
                )
        except CliError as exc:
            print(f"[{i}/{len(runs)}] {label} FAILED", flush=True)
            raise CliError(f"backfill {backfill_id} stopped: {exc}", 1) from exc
        print(
            f"[{i}/{len(runs)}] {label} ok: {count} partition(s) in"
            f" {time.monotonic() - t0:.1f}s (elapsed {time.monotonic() - started:.1f}s)",
            flush=True,
        )
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    d = require_trading_day(parse_day(args.date))
    from hk_pipeline.report.markdown import NoQuotesError, render_review

    con = _read_only(settings)
    try:
        print(render_review(con, d, args.snapshot))
    except NoQuotesError as exc:  # a review of missing data would show a flat market
        raise CliError(str(exc), 1) from exc
    finally:
        con.close()
    return 0


def _open_reader(settings: Settings, args: argparse.Namespace):
    """The sandboxed reader and the limits of its statements (HK_PIPELINE_SQL_MEMORY_LIMIT,
    HK_PIPELINE_SQL_TIMEOUT)."""
    from hk_pipeline.warehouse.readers import ReaderError, open_reader, query_limits

    try:
        limits = query_limits()
        con = open_reader(
            settings,
            sandbox=True,
            limits=limits,
            snapshot_version=args.at_version,
            snapshot_time=args.at_time,
        )
    except ReaderError as exc:
        raise CliError(str(exc)) from exc
    return con, limits


def _run_sql(con, sql: str, limits) -> tuple[list[str], list[tuple]] | None:
    """Run every statement of ``sql`` (queries only, each under ``limits``); the last result,
    if any."""
    from hk_pipeline.warehouse.readers import ReaderError, check_statements, run_statement

    last = None
    try:
        for text in check_statements(con, sql):
            result = run_statement(con, text, limits)
            if result is not None:
                last = result
    except ReaderError as exc:
        raise CliError(str(exc)) from exc
    return last


def _decimals(magnitude: float) -> int:
    """Decimals shown in a table for a number of this size: 2 from 1,000 up (HKD amounts,
    index points), 4 from 1 (prices, percents), else 6 significant ones (basis points, ratios)."""
    if magnitude >= 1000:
        return 2
    if magnitude >= 1 or magnitude == 0:
        return 4
    # 0.0014353190458393783 -> 0.00143532: the first significant digit and five more
    return 5 - math.floor(math.log10(magnitude))


def table_cell(value: object) -> str:
    """One value as ``hk-pipeline sql`` shows it in a table: for reading, not for copying.

    Floats and decimals are rounded by magnitude (``-615.5499999999993`` shows as
    ``-615.55``; trailing zeros dropped), instants are shown in Hong Kong time to the second
    (the lake keeps UTC; the market's day is Hong Kong's). ``--format csv|json`` keep every
    digit: :func:`exported_value`.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = float(value)
        if not math.isfinite(number):
            return str(value)
        text = f"{number:.{_decimals(abs(number))}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(calendar.TZ).replace(microsecond=0).isoformat(sep=" ")
    return str(value)


def exported_value(value: object) -> object:
    """One value for CSV and JSON: full precision; an instant as ISO 8601 in Hong Kong time
    with its offset (``2025-11-21T12:00:03.120000+08:00``), the same instant the lake holds."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(calendar.TZ)
        return value.isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _print_result(result: tuple[list[str], list[tuple]] | None, fmt: str, max_rows: int) -> None:
    if result is None:
        return
    columns, rows = result
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        # repr of a float is its shortest exact form: csv writes floats with repr
        writer.writerows([exported_value(v) for v in row] for row in rows)
    elif fmt == "json":
        import json

        records = [
            {c: exported_value(v) for c, v in zip(columns, row, strict=True)} for row in rows
        ]
        print(json.dumps(records, default=str, ensure_ascii=False, indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        # numbers right-aligned, so that their decimal points line up within a column
        for i, _ in enumerate(columns):
            kinds = {type(row[i]) for row in rows[:max_rows] if row[i] is not None}
            if kinds and all(issubclass(k, int | float | Decimal) for k in kinds):
                table.columns[i].justify = "right"
        for row in rows[:max_rows]:
            table.add_row(*(table_cell(v) for v in row))
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 400
        console = Console(width=width)
        console.print(table)
        more = len(rows) - max_rows
        tail = f" ({more} more not shown; --format csv prints all)" if more > 0 else ""
        console.print(f"{len(rows)} row(s){tail}")


SHELL_HELP = """\
Statements end with ';' and may span lines; only queries run (SELECT, WITH, FROM, DESCRIBE,
SHOW, SUMMARIZE, EXPLAIN). The analysts' views are in schema views (docs/catalogue.md).
  .tables          the analysts' views, with what each holds
  .help            this text
  .quit, .exit     leave (so does Ctrl-D); Ctrl-C drops the statement being typed
Tables round numbers and show times in Hong Kong time; --format csv or json keeps every digit."""


def _shell(con, fmt: str, max_rows: int, limits) -> int:
    """A small REPL: statements end with ';', `.quit` leaves, errors never end it."""
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())

        print(
            "hk-pipeline sql: read-only; end statements with ';', .tables lists, .help helps,"
            " .quit leaves"
        )
    buffer: list[str] = []
    while True:
        try:
            line = input(("... " if buffer else "hk> ") if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            buffer = []
            print()
            continue
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit"):
            break
        if not buffer and stripped == ".tables":
            stripped = (
                "SELECT schema_name || '.' || view_name AS name, comment FROM duckdb_views()"
                " WHERE NOT internal ORDER BY 1;"
            )
        elif not buffer and stripped.startswith("."):
            # answered at once: a dot command never waits for a ';' (DuckDB's shell has more of
            # them, e.g. .read; this one has only these, and anything else is refused as such)
            name = stripped.split()[0]
            if name == ".help":
                print(SHELL_HELP, flush=True)
            else:
                print(
                    f"error: {name} is not a command of this shell; .help lists them",
                    file=sys.stderr,
                    flush=True,
                )
            continue
        if not stripped and not buffer:
            continue
        buffer.append(stripped)
        if not stripped.endswith(";"):
            continue
        sql, buffer = "\n".join(buffer), []
        try:
            _print_result(_run_sql(con, sql, limits), fmt, max_rows)
        except CliError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.stdout.flush()
    if buffer:
        print("error: statement not ended with ';' (ignored)", file=sys.stderr)
    return 0


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    if args.at_version is not None and args.at_time is not None:
        raise CliError("give --at-version or --at-time, not both")
    if args.at_time is not None:
        args.at_time = parse_instant(args.at_time)
    con, limits = _open_reader(settings, args)
    try:
        if args.query is None:
            return _shell(con, args.format, args.max_rows, limits)
        _print_result(_run_sql(con, args.query, limits), args.format, args.max_rows)
        return 0
    finally:
        con.close()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from hk_pipeline.warehouse.migrate import MigrateError, migrate

    source = Path(args.source_file) if args.source_file else settings.warehouse_path
    try:
        result = migrate(source, settings)
    except MigrateError as exc:
        raise CliError(str(exc), 1) from exc
    for line in result.lines():
        print(line)
    return 0


def cmd_upkeep(args: argparse.Namespace, settings: Settings) -> int:
    from hk_pipeline.warehouse.connection import connect
    from hk_pipeline.warehouse.upkeep import upkeep

    con = connect(settings)
    try:
        result = upkeep(con, retention_days=args.retention_days)
    finally:
        con.close()
    print(result.summary())
    return 0


def cmd_record(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch today's answers of every live provider for one snapshot and keep them as they
    came, for ``HK_PIPELINE_SOURCE=replay`` (see hk_pipeline/sources/replay.py)."""
    from hk_pipeline.sources.base import SourceError
    from hk_pipeline.sources.registry import live_today
    from hk_pipeline.sources.replay import record

    try:
        kept = record(settings.home, args.snapshot, today=live_today())
    except SourceError as exc:
        raise CliError(str(exc), 1) from exc
    print(
        f"recorded {kept.day} {kept.snapshot}: {kept.requests} answers, {kept.raw_bytes:,} bytes"
        f" as received, {kept.stored_bytes:,} bytes kept in {kept.path}"
    )
    for host, row in sorted(kept.by_host.items()):
        print(f"  {host}: {row['requests']} requests, {row['raw_bytes']:,} bytes")
    return 0


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay on this machine
        return False


def require_free_port(host: str, port: int) -> None:
    """CliError (exit 1) naming the port and ``--port`` unless ``host:port`` can be listened on.

    Checked before anything starts: `dg dev` starts the daemon first, and when the
    webserver then fails to bind, that daemon stayed running on the home. SO_REUSEADDR as the
    webserver sets it, so a port with connections in TIME_WAIT counts as free.
    """
    if not 1 <= port <= 65535:
        raise CliError(f"--port {port} is not a TCP port (1-65535)")
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"--host {host!r} does not resolve ({exc.strerror})") from exc
    bound = 0
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise CliError(
                        f"port {port} on {host} is already in use (another `hk-pipeline ui`, or"
                        f" another program): stop that, or start the UI on a free port with"
                        f" --port (e.g. --port {port + 1 if port < 65535 else 3000}); nothing"
                        " was started",
                        1,
                    ) from None
                if exc.errno == errno.EACCES:
                    raise CliError(
                        f"port {port} needs privileges this user lacks; choose one above 1023"
                        " with --port; nothing was started",
                        1,
                    ) from None
                if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    continue  # e.g. ::1 of "localhost" on a machine without IPv6
                raise
            bound += 1
    if not bound:
        raise CliError(f"--host {host!r} is not an address of this machine; nothing was started")


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    if not is_loopback(args.host) and not args.public:
        raise CliError(
            f"--host {args.host} would let other machines reach the UI, which has no login:"
            " anyone who reaches it can launch runs and change schedules. Add --public to do"
            " so anyway (behind a firewall or an authenticating proxy), or leave --host out"
            " (127.0.0.1)"
        )
    if args.public and not is_loopback(args.host):
        print(
            f"warning: the Dagster UI has no login: anyone who can reach"
            f" http://{args.host}:{args.port} can read the runs' logs, launch runs and turn"
            " schedules on or off. Keep it behind a firewall or an authenticating proxy.",
            file=sys.stderr,
            flush=True,
        )
    require_free_port(args.host, args.port)
    # `dg dev` (package dagster-dg-cli), the command Dagster recommends: `dagster dev` prints
    # a deprecation warning pointing to it. Given the workspace file, `dg dev` starts the
    # same webserver and daemon as `dagster dev` did, on this project's code location, and
    # needs no dg project layout ([tool.dg]) nor a uv-managed environment.
    exe = Path(sys.executable).with_name("dg")
    dg_command = str(exe) if exe.exists() else shutil.which("dg")
    if dg_command is None:
        raise CliError(
            "the dg command (package dagster-dg-cli) is not installed in this environment:"
            " run `make install`"
        )
    os.chdir(PROJECT_DIR)
    argv = [dg_command, "dev", "-w", str(WORKSPACE_YAML), "-h", args.host, "-p", str(args.port)]
    # flushed: os.execv replaces the process, and a buffered line would be lost
    print(
        f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})",
        flush=True,
    )
    # An ignored SIGINT survives exec (a shell script's `hk-pipeline ui &` has one), and
    # `dg dev` maps SIGTERM onto SIGINT's handler: it would then ignore SIGTERM too and could
    # only be killed. With the default dispositions it stops its webserver and daemon.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(dg_command, argv)
    return 0  # not reached


def _global_options(default: object) -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser.

    They are accepted before the command (``hk-pipeline --source landing run ...``) and after
    it (``hk-pipeline run --source landing ...``, the form people type). The top-level copy
    carries the real default; each subcommand's copy defaults to SUPPRESS, so a subcommand that
    was not given the option leaves the top-level value alone, and one given after the command
    wins over one given before it.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--source", choices=SOURCES, default=default, help="override HK_PIPELINE_SOURCE"
    )
    return common


def _partition_options() -> argparse.ArgumentParser:
    """``--date`` and ``--snapshot``, both required: the commands about one partition."""
    partition = argparse.ArgumentParser(add_help=False)
    partition.add_argument("--date", required=True, help="trading day, YYYY-MM-DD")
    partition.add_argument("--snapshot", required=True, choices=calendar.SNAPSHOTS)
    return partition


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hk-pipeline",
        description="Hong Kong market warehouse (Dagster + DuckLake).",
        parents=[_global_options(None)],
    )
    common = _global_options(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    partition = _partition_options()
    run = sub.add_parser(
        "run", parents=[common, partition], help="materialise every asset of one (date, snapshot)"
    )
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser(
        "backfill", parents=[common], help="run every trading day in a range, in order"
    )
    backfill.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
    backfill.add_argument("--snapshot", choices=calendar.SNAPSHOTS, help="default: both")
    backfill.add_argument(
        "--batch-days",
        type=int,
        default=DEFAULT_BATCH_DAYS,
        help=f"trading days per Dagster run (default {DEFAULT_BATCH_DAYS}); 1 runs each day alone",
    )
    backfill.set_defaults(func=cmd_backfill)

    report = sub.add_parser(
        "report", parents=[common, partition], help="print the Markdown review from the warehouse"
    )
    report.set_defaults(func=cmd_report)

    sql = sub.add_parser(
        "sql", parents=[common], help="query the lake read-only; without a query, a shell"
    )
    sql.add_argument("query", nargs="?", help='e.g. "FROM views.latest_index_moves"')
    sql.add_argument(
        "--at-version", type=int, help="read the lake as of this snapshot id (time travel)"
    )
    sql.add_argument(
        "--at-time",
        help="read the lake as it was at this instant, e.g. 2025-11-21T12:30+08:00 (no offset:"
        " Hong Kong time)",
    )
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--max-rows", type=int, default=1000, help="rows shown as a table")
    sql.set_defaults(func=cmd_sql)

    mig = sub.add_parser(
        "migrate",
        parents=[common],
        help="copy an earlier version's warehouse.duckdb into the lake (left as is)",
    )
    mig.add_argument(
        "--from",
        dest="source_file",
        help="the DuckDB file to copy (default: $HK_PIPELINE_HOME/warehouse.duckdb)",
    )
    mig.set_defaults(func=cmd_migrate)

    upk = sub.add_parser(
        "upkeep",
        parents=[common],
        help="compact small files, expire old snapshots, remove unreferenced files",
    )
    upk.add_argument(
        "--retention-days",
        type=float,
        default=None,
        help="keep snapshots this many days for time travel (default: HK_PIPELINE_RETENTION_DAYS"
        " or 30)",
    )
    upk.set_defaults(func=cmd_upkeep)

    rec = sub.add_parser(
        "record",
        parents=[common],
        help="keep today's live answers of one snapshot for HK_PIPELINE_SOURCE=replay",
    )
    rec.add_argument("--snapshot", required=True, choices=calendar.SNAPSHOTS)
    rec.set_defaults(func=cmd_record)

    ui = sub.add_parser(
        "ui", parents=[common], help="start the Dagster UI (and daemon) on this project"
    )
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); another than loopback needs --public",
    )
    ui.add_argument("--port", type=int, default=3000, help="TCP port (default 3000); must be free")
    ui.add_argument(
        "--public",
        action="store_true",
        help="allow a --host other machines can reach (the UI has no login)",
    )
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with guarded(args.command, None):  # dagster.yaml is written here: the home may refuse it
            settings = prepare_environment(args.source)
        with guarded(args.command, settings):
            return args.func(args, settings)
    except GuardError as exc:  # the lake cannot be opened, the disk is full or read-only
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:  # SIGINT / SIGTERM during a run: 130 / 143, as a shell reports
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
