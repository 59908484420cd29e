"""Disk full: the run's writes to the lake hit RLIMIT_FSIZE (EFBIG, as ENOSPC would fail them).

CI runs as root in a container where mounting a small tmpfs is not reliably allowed, so the
limit is a file-size limit on the child process; CPython ignores SIGXFSZ, so writes fail
with "File too large" instead of killing the process. The limit lets every file the run
writes outside the lake (Dagster's storage, which grows during the run) reach its size, and
stops the first Parquet file of the lake bigger than that: the run dies writing the lake.
"""

from __future__ import annotations

import resource
from pathlib import Path

from hk_pipeline_tests.reliability.harness import (
    NEW,
    State,
    check_files_after_upkeep,
    check_old_or_new,
    error_lines,
    read_state,
    run_args,
    run_cli,
    upkeep_later,
)

AREA = "disk full"
MARGIN = 400_000  # bytes Dagster's storage may grow by during a run that fails early


def _largest(files: list[Path]) -> int:
    return max((p.stat().st_size for p in files if p.is_file()), default=0)


def test_run_fails_clearly_and_keeps_the_previous_state(
    trial_home: Path, reference_home: Path, base_state: State, reference: State, tally
) -> None:
    t = tally(AREA)
    outside = [p for p in trial_home.rglob("*") if not p.is_relative_to(trial_home / "lake")]
    limit = _largest([p for p in outside if not p.is_relative_to(trial_home / "cache")]) + MARGIN
    new_files = (reference_home / "lake").rglob(f"*/trade_date={NEW[0]}/snapshot={NEW[1]}/*")
    assert limit < _largest(list(new_files)), "no Parquet file of the run reaches the limit"

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_cli(trial_home, *run_args(NEW), preexec_fn=small_disk)
    t.trials += 1
    assert result.returncode == 1, result.stderr[-600:]
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-1500:]
    line = errors[0]
    assert "out of disk space" in line and "File too large" in line, line
    assert str(trial_home / "lake") in line, f"the run did not die writing the lake: {line}"
    # the previous state, as a reader sees it: each partition old or new, nothing half-written
    state = read_state(trial_home)
    assert not check_old_or_new(state, base_state, reference)
    # the next run with space completes
    result = run_cli(trial_home, *run_args(NEW))
    assert result.returncode == 0, result.stderr[-1500:]
    assert read_state(trial_home).tables == reference.tables
    # the cut-off Parquet file is an orphan, gone after the upkeep
    assert state.files is not None and state.files.orphans
    upkeep_later(trial_home)
    assert not check_files_after_upkeep(trial_home)
    assert read_state(trial_home).tables == reference.tables
    t.survived += 1
