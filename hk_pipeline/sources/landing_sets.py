"""Landing sets: the files one (trading day, snapshot) run reads, for the landing sensor.

Pure functions over the landing folder (no Dagster): which partitions have files at all, a
cheap fingerprint of a set from file metadata (so an unchanged folder is not re-hashed every
tick) and the digest of a set from its checksums (what "the same files" means).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from hk_pipeline.calendar import SNAPSHOTS
from hk_pipeline.sources.landing_layout import (
    DATED_KINDS,
    LandingFile,
    in_force,
    macro_files,
    snapshot_file,
)

SNAPSHOT_SET_KINDS = ("quotes", "index_levels", "intraday_bars")
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_(midday|close)\.(csv|parquet)$")


def candidate_partitions(root: Path) -> list[tuple[date, str]]:
    """Every (day, snapshot) with at least one snapshot file (quotes, index_levels or bars),
    oldest first. Names that do not parse are left to the run that reads them."""
    found: set[tuple[date, str]] = set()
    for kind in SNAPSHOT_SET_KINDS:
        folder = Path(root) / kind
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            m = _NAME.match(path.name)
            if m is None or path.name.startswith("."):
                continue
            try:
                found.add((date.fromisoformat(m.group(1)), m.group(2)))
            except ValueError:
                continue
    return sorted(found, key=lambda p: (p[0], SNAPSHOTS.index(p[1])))


def set_paths(root: Path, trade_date: date, snapshot: str) -> list[Path]:
    """The files a run of (trade_date, snapshot) would read, as far as they exist: the
    masters in force, the snapshot's files and every macro file (``landing_manifest``'s list)."""
    root = Path(root)
    paths: list[Path] = []
    for kind in DATED_KINDS:
        span = in_force(root, kind, trade_date)
        if span is not None:
            paths.append(span.path)
    for kind in SNAPSHOT_SET_KINDS:
        path = snapshot_file(root, kind, trade_date, snapshot)
        if path is not None:
            paths.append(path)
    return paths + macro_files(root)


def set_fingerprint(root: Path, trade_date: date, snapshot: str) -> str:
    """sha256 of (path, size, mtime_ns) of the set's files: changes when any file does."""
    h = hashlib.sha256()
    for path in set_paths(root, trade_date, snapshot):
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def relative(root: Path, path: Path) -> str:
    """``path`` relative to the landing folder (posix), or as given when outside it."""
    try:
        return Path(path).relative_to(Path(root)).as_posix()
    except ValueError:
        return str(path)


def set_digest(root: Path, files: Iterable[LandingFile]) -> str:
    """sha256 over the sorted (relative path, sha256) of a manifest: the identity of a set."""
    lines = sorted(f"{relative(root, f.path)}\0{f.sha256}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
