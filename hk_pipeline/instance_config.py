"""The Dagster instance's ``dagster.yaml``, written into the Dagster home from the settings.

Dagster keeps its own state (runs, the event log, schedules and sensor ticks) in the storage
that ``$DAGSTER_HOME/dagster.yaml`` names. Nothing here subclasses or imports Dagster: the file
uses only keys from Dagster's documented instance configuration.

- Default: no ``storage`` block, so Dagster uses its stock SQLite storage under DAGSTER_HOME
  (``history/runs.db``, ``history/runs/``, ``schedules/``): the same files the project's earlier
  event log wrote, so a home keeps its run history.
- ``HK_PIPELINE_DAGSTER_POSTGRES_URL`` set: runs, event log and schedules in PostgreSQL through
  dagster-postgres, for the CLI, ``dg dev`` (the UI) and the daemon alike. The file names
  the variable (``postgres_url: {env: ...}``), never its value: the URL may carry a password,
  and Dagster reads the variable in each of its processes, which inherit it from the CLI.

The CLI (``prepare_environment``) calls :func:`write_dagster_home` before every command, so
turning the variable on or off takes effect at the next command. A managed file (first line
:data:`MANAGED_MARKER`) is rewritten whenever it differs, which replaces hand edits; to keep a
hand-edited file, remove its first line and hk-pipeline leaves it alone.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from hk_pipeline.config import DAGSTER_POSTGRES_VARIABLE, ConfigError, Settings

MANAGED_MARKER = "# hk_pipeline: managed"
MAX_CONCURRENT_RUNS = 4
FILE_NAME = "dagster.yaml"

# sha256 of each dagster.yaml the CLI copied into homes before this module existed (the
# history of hk_pipeline/dagster.yaml). Such an unedited copy is ours to replace although it
# has no marker; the last ones name hk_pipeline.defs.event_log, which no longer exists.
EARLIER_PACKAGED_COPIES = frozenset(
    {
        "01189ca41a83a78880eb8212b23f4461317bab1f91b424f4de45aeb22f625109",
        "ee71ca8943085b0859208178dc914d27a4fd37590d25565a364d8c5dd36d01ac",
        "fddcc12b98cfdf8e6cd0586819e5278d03a204b4ebe3900706a07fbb2b08aa78",
        "e5032b6270daf1424bb46a63244438983db80e09c8a51caed758fac3255a4baf",
    }
)
REMOVED_EVENT_LOG = "hk_pipeline.defs.event_log"

_HEADER = f"""\
{MANAGED_MARKER}
# Dagster's instance settings for this home, written by hk-pipeline before every command
# (hk_pipeline/instance_config.py) from {DAGSTER_POSTGRES_VARIABLE}:
# edits are overwritten. To keep a hand-edited file instead, delete the first line;
# hk-pipeline then leaves the file alone.
telemetry:
  enabled: false
"""

_SQLITE_STORAGE = f"""
# Runs, event log and schedules: Dagster's stock SQLite storage under DAGSTER_HOME (no storage
# block needed). Set {DAGSTER_POSTGRES_VARIABLE} to keep them in PostgreSQL.
"""

_POSTGRES_STORAGE = f"""
# Runs, event log and schedules in PostgreSQL (dagster-postgres). Every Dagster process (CLI,
# UI, daemon, run workers) reads the URL from {DAGSTER_POSTGRES_VARIABLE}:
# it may carry a password, so it is never written here.
storage:
  postgres:
    postgres_url:
      env: {DAGSTER_POSTGRES_VARIABLE}
"""

_REST = f"""
run_monitoring:
  enabled: true
  # a run whose process died is marked failed instead of staying STARTED forever
  max_resume_run_attempts: 0
  # ...but the default run launcher has no worker health check, so a run whose process was
  # killed stays STARTED and would hold its queue slot forever: after this long the daemon
  # marks it failed (a snapshot run takes seconds; a UI backfill is one run each)
  max_runtime_seconds: 3600

# Runs the daemon's queue (Dagster's default QueuedRunCoordinator) starts at once: UI
# launches, backfills, schedules. The lake takes several writers; the warehouse layer retries
# a commit that conflicts. CLI runs execute in-process and do not queue.
concurrency:
  runs:
    max_concurrent_runs: {MAX_CONCURRENT_RUNS}

# no "join the community" pop-up over the asset graph
nux:
  enabled: false
"""


def dagster_yaml(settings: Settings) -> str:
    """The text of ``dagster.yaml`` for these settings; never contains the PostgreSQL URL.

    Raises ConfigError for a URL whose scheme is not ``postgresql`` (or ``postgresql+<driver>``),
    such as ``postgres://``, which SQLAlchemy (under dagster-postgres) does not accept: Dagster
    reads the variable itself, so it must be fixed at the source.
    """
    url = settings.dagster_postgres_url
    scheme = url.partition("://")[0]
    if url and scheme.partition("+")[0] != "postgresql":
        raise ConfigError(
            f"{DAGSTER_POSTGRES_VARIABLE} starts with {scheme + '://'!r}, which Dagster's"
            " PostgreSQL storage (SQLAlchemy) does not accept: write it as"
            " postgresql://user:password@host:5432/dagster"
        )
    storage = _POSTGRES_STORAGE if url else _SQLITE_STORAGE
    return _HEADER + storage + _REST


def write_dagster_home(settings: Settings) -> Path:
    """Create ``settings.dagster_home`` and bring its ``dagster.yaml`` up to date; return the home.

    A managed file (or an unedited copy from an earlier version, or no file) is (re)written
    when its content differs: a hand edit of a managed file is replaced. An unmanaged file is
    left alone, with a one-line notice on stderr, unless it names the removed event log, which
    Dagster could no longer load: then ConfigError says how to fix it.
    """
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    path = home / FILE_NAME
    wanted = dagster_yaml(settings)
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == wanted:
        return home
    if current is not None and not _replaceable(current):
        if REMOVED_EVENT_LOG in current:
            raise ConfigError(
                f"{path} names {REMOVED_EVENT_LOG}, which no longer exists: delete the file"
                " (hk-pipeline then writes one) or remove its event_log_storage block"
            )
        print(
            f"note: {path} is not managed by hk-pipeline (its first line is not"
            f" {MANAGED_MARKER!r}): using it as it is, whatever {DAGSTER_POSTGRES_VARIABLE} says",
            file=sys.stderr,
        )
        return home
    _write_atomically(path, wanted)
    return home


def _replaceable(text: str) -> bool:
    """Ours to rewrite: marked managed, or an unedited copy an earlier version made."""
    if text.startswith(MANAGED_MARKER + "\n"):
        return True
    return hashlib.sha256(text.encode("utf-8")).hexdigest() in EARLIER_PACKAGED_COPIES


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file in one rename: the UI, the daemon or another command may read it now."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from a UI run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
