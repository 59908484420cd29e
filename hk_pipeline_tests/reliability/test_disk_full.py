"""Storage that refuses a write: one `error:` line naming what is full or read-only and what to
do, exit 1, no traceback; each partition keeps its old or its new complete state; the next
run with room completes.

- **The file-size limit** (RLIMIT_FSIZE on the child; CPython ignores SIGXFSZ, so writes fail
  with EFBIG, which SQLite reports only as "disk I/O error") at three levels: small enough
  that Dagster's own SQLite storage fails before the run starts; one that fails the lake's
  catalog (catalog.sqlite) at a commit, with Dagster's storage in PostgreSQL so that it is not
  the first to fail; and one that lets every file outside the lake reach its size and stops
  the first Parquet file bigger than that.
- **A full disk** (ENOSPC): the lake's folder on a small tmpfs.
- **A full temporary folder** (TMPDIR on a full tmpfs): neither a run nor ``hk-pipeline sql``
  needs a temporary file; both answer (a sort past the sql memory limit fails naming it).
- **A read-only home**, or only its lake folder: read-only bind mounts, which stop root too
  (CI runs as root; chmod would not).

Mounts are made in a mount namespace of the command's own (``harness.run_cli_mounted``).
"""

from __future__ import annotations

import os
import resource
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from hk_pipeline_tests.reliability.harness import (
    NEW,
    State,
    check_files_after_upkeep,
    check_old_or_new,
    error_lines,
    full_tmpfs,
    mounts_available,
    one_error_line,
    read_only_mount,
    read_state,
    run_args,
    run_cli,
    run_cli_mounted,
    upkeep_later,
)

AREA = "disk full"
READ_ONLY_AREA = "read-only home"
MARGIN = 400_000  # bytes Dagster's storage may grow by during a run that fails early
DAGSTER_FIRST = 50_000  # below every file of Dagster's storage: the run cannot even be recorded
CATALOG_FIRST = 100_000  # the catalog's WAL passes it before any Parquet file of the run does
ROOM_ON_TMPFS = 300_000  # bytes free for the run's new files: quotes fit, the bars do not


def _largest(files: list[Path]) -> int:
    return max((p.stat().st_size for p in files if p.is_file()), default=0)


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _one_line(result, *needles: str) -> str:
    """The command failed with exit 1 and exactly one `error:` line holding every needle."""
    assert result.returncode == 1, result.stderr[-1500:]
    return one_error_line(result.stderr, *needles)


def _completes(home: Path, reference: State, env: dict[str, str] | None = None) -> None:
    result = run_cli(home, *run_args(NEW), env=env)
    assert result.returncode == 0, result.stderr[-1500:]
    assert read_state(home).tables == reference.tables


@pytest.fixture
def mounts() -> None:
    """Skip without mount namespaces (CI has them: it fails there instead)."""
    why = mounts_available()
    if why is None:
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"mount namespaces are needed under CI: {why}", pytrace=False)
    pytest.skip(f"no mount namespaces here: {why}")


def test_run_fails_clearly_and_keeps_the_previous_state(
    trial_home: Path, reference_home: Path, base_state: State, reference: State, tally
) -> None:
    """The lake's Parquet file is the first over the limit."""
    t = tally(AREA)
    outside = [p for p in trial_home.rglob("*") if not p.is_relative_to(trial_home / "lake")]
    limit = _largest([p for p in outside if not p.is_relative_to(trial_home / "cache")]) + MARGIN
    new_files = (reference_home / "lake").rglob(f"*/trade_date={NEW[0]}/snapshot={NEW[1]}/*")
    assert limit < _largest(list(new_files)), "no Parquet file of the run reaches the limit"

    result = run_cli(trial_home, *run_args(NEW), preexec_fn=_file_size_limit(limit))
    t.trials += 1
    t.cases += 1
    # the run died writing the lake, and the line says so
    _one_line(
        result, "out of disk space", "File too large", f"the lake's data folder {trial_home}/lake"
    )
    # the previous state, as a reader sees it: each partition old or new, nothing half-written
    state = read_state(trial_home)
    assert not check_old_or_new(state, base_state, reference)
    _completes(trial_home, reference)
    # the cut-off Parquet file is an orphan, gone after the upkeep
    assert state.files is not None and state.files.orphans
    upkeep_later(trial_home)
    assert not check_files_after_upkeep(trial_home)
    assert read_state(trial_home).tables == reference.tables
    t.survived += 1


def test_dagster_storage_fails_first(
    trial_home: Path, base_state: State, reference: State, mounts: None, tally
) -> None:
    """Dagster cannot record the run: nothing reaches the lake. The next run has room but a
    full TMPDIR and absurd `hk-pipeline sql` limits: it needs no temporary file and ignores
    those limits (they are the sql command's only)."""
    t = tally(AREA)
    assert _largest(list((trial_home / "dagster").rglob("*"))) > DAGSTER_FIRST
    result = run_cli(trial_home, *run_args(NEW), preexec_fn=_file_size_limit(DAGSTER_FIRST))
    t.trials += 1
    t.cases += 1
    _one_line(
        result,
        "out of disk space",
        f"Dagster's storage {trial_home / 'dagster'}",
        f"may not write files past {DAGSTER_FIRST:,} bytes (ulimit -f)",
    )
    assert read_state(trial_home).tables == base_state.tables

    tmp = trial_home.parent / "full-tmp"
    t.cases += 1
    result = run_cli_mounted(
        trial_home,
        *run_args(NEW),
        setup=full_tmpfs(tmp),
        env={
            "TMPDIR": str(tmp),
            "HK_PIPELINE_SQL_MEMORY_LIMIT": "1MB",
            "HK_PIPELINE_SQL_TIMEOUT": "0.001",
        },
    )
    assert result.returncode == 0, result.stderr[-1500:]
    assert read_state(trial_home).tables == reference.tables
    t.survived += 1


def test_catalog_fails_at_a_commit(
    trial_home: Path, base_state: State, reference: State, pg_database, tally
) -> None:
    """SQLite says only "disk I/O error" when the catalog's WAL passes the limit: the line names
    the catalog and the limit. Dagster's storage is in PostgreSQL, out of the limit's way."""
    t = tally(AREA)
    env = {"HK_PIPELINE_DAGSTER_POSTGRES_URL": pg_database.url}
    result = run_cli(
        trial_home, *run_args(NEW), env=env, preexec_fn=_file_size_limit(CATALOG_FIRST)
    )
    t.trials += 1
    t.cases += 1
    _one_line(
        result,
        "out of disk space",
        f"the lake's catalog {trial_home / 'catalog.sqlite'}",
        "ulimit -f",
        "disk I/O error",
    )
    assert not check_old_or_new(read_state(trial_home), base_state, reference)
    _completes(trial_home, reference, env=env)
    t.survived += 1


def test_disk_under_the_lake_fills_up(
    trial_home: Path, base_state: State, reference: State, mounts: None, tally
) -> None:
    """ENOSPC from the kernel: the lake's folder is a tmpfs with room for a few new files.
    What the tmpfs holds when the run ends is copied back before the namespace goes."""
    t = tally(AREA)
    lake = trial_home / "lake"
    files = [p for p in lake.rglob("*") if p.is_file()]
    # tmpfs counts whole pages per file, and a folder per partition
    used = sum(-(-p.stat().st_size // 4096) * 4096 for p in files)
    used += 4096 * sum(1 for p in lake.rglob("*") if p.is_dir())
    stash = shlex.quote(str(trial_home.parent / "lake-stash"))
    q = shlex.quote(str(lake))
    result = run_cli_mounted(
        trial_home,
        *run_args(NEW),
        setup=[
            f"cp -a {q} {stash}",
            f"mount -t tmpfs -o size={used + ROOM_ON_TMPFS} tmpfs {q}",
            f"cp -a {stash}/. {q}/",
            f"rm -rf {stash}",
        ],
        after=[f"cp -a {q} {stash}", f"umount {q}", f"rm -rf {q}", f"mv {stash} {q}"],
    )
    t.trials += 1
    t.cases += 1
    _one_line(
        result,
        "out of disk space",
        "No space left on device",
        f"the lake's data folder {lake}",
    )
    assert not check_old_or_new(read_state(trial_home), base_state, reference)
    _completes(trial_home, reference)
    t.survived += 1


@pytest.mark.parametrize("where", ["home", "lake"])
def test_read_only_home(
    where: str, trial_home: Path, base_state: State, reference: State, mounts: None, tally
) -> None:
    t = tally(READ_ONLY_AREA)
    target = trial_home if where == "home" else trial_home / "lake"
    result = run_cli_mounted(trial_home, *run_args(NEW), setup=read_only_mount(target))
    t.trials += 1
    t.cases += 1
    line = _one_line(result, "read-only", str(target), "writable")
    if where == "lake":
        assert "HK_PIPELINE_DATA_PATH" in line, line
    assert read_state(trial_home).tables == base_state.tables  # nothing was written
    _completes(trial_home, reference)
    t.survived += 1


SORT = "SELECT count(*) FROM (SELECT md5(i::VARCHAR) AS h FROM range(4000000) t(i) ORDER BY h)"


def test_sql_needs_no_temp_room(trial_home: Path, mounts: None, tally) -> None:
    """``hk-pipeline sql`` never spills (its sandbox has no temporary folder): with TMPDIR on a
    full tmpfs a query answers, and a sort past HK_PIPELINE_SQL_MEMORY_LIMIT fails in one
    line naming that limit, not the disk."""
    t = tally(AREA)
    tmp = trial_home.parent / "full-tmp"
    env = {"TMPDIR": str(tmp), "HK_PIPELINE_SQL_MEMORY_LIMIT": "50MB"}
    t.trials += 1
    t.cases += 2
    result = run_cli_mounted(
        trial_home, "sql", "SELECT count(*) AS n FROM raw.quotes", "--format", "csv",
        setup=full_tmpfs(tmp), env=env,
    )  # fmt: skip
    assert result.returncode == 0 and int(result.stdout.splitlines()[1]) > 0, result.stderr
    result = run_cli_mounted(
        trial_home, "sql", SORT, "--format", "csv", setup=full_tmpfs(tmp), env=env
    )
    assert result.returncode == 2, result.stderr[-1500:]
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-1500:]
    assert "HK_PIPELINE_SQL_MEMORY_LIMIT=50MB" in errors[0], errors[0]
    t.survived += 1
