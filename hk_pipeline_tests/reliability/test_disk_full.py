"""Disk full: the run's writes hit RLIMIT_FSIZE (EFBIG, as ENOSPC would fail them).

CI runs as root in a container where mounting a small tmpfs is not reliably allowed, so the
limit is a file-size limit on the child process; CPython ignores SIGXFSZ, so writes fail
with "File too large" instead of killing the process.
"""

from __future__ import annotations

import resource
from pathlib import Path

from hk_pipeline_tests.reliability.harness import NEW, check_old_or_new, run_cli, snapshot_state

AREA = "disk full"


def test_run_fails_clearly_and_keeps_the_previous_state(
    trial_home: Path, base_state, reference, tally
) -> None:
    t = tally(AREA)
    limit = (trial_home / "warehouse.duckdb").stat().st_size + 1_000_000

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_cli(
        trial_home, "run", "--date", NEW[0], "--snapshot", NEW[1], preexec_fn=small_disk
    )
    t.trials += 1
    assert result.returncode == 1, result.stderr[-600:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-1500:]
    assert "out of disk space" in lines[0] and "File too large" in lines[0], lines[0]
    state = snapshot_state(trial_home)
    assert not check_old_or_new(state, base_state, reference)
    assert state["published"] == base_state["published"]  # a failed run publishes nothing
    assert run_cli(trial_home, "run", "--date", NEW[0], "--snapshot", NEW[1]).returncode == 0
    assert snapshot_state(trial_home)["warehouse"] == reference["warehouse"]
    t.survived += 1
