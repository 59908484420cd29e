"""The built sample market, kept on disk between processes.

Why: ``sample.market()`` simulates every share on every day since 2023-06-30 and fits the
real HSI closes, about 2 s of work that every process using the sample source used to
repeat (a one-snapshot ``hk-pipeline run`` took ~9 s cold, against a target under 3 s for
its assets). The first process writes the result to ``<home>/cache/sample_market-<key>.npz``
and later ones load it in about 0.1 s.

The key hashes everything the market is a function of: the simulator's code and reference
data, the calendar code and closures, the trading days themselves (exchange_calendars ends
its calendar a year after today, so the day range moves), the library versions and the
machine type. A different key means a different file, so a stale file is never read; one
that fails to load (truncated, damaged, wrong key inside) is rebuilt and rewritten, with a
warning. Writes go to a temporary file renamed into place, so a reader only ever sees a
whole file, whether two processes build at once or one is killed while writing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import secrets
import time
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa

from hk_pipeline.paths import PACKAGE_DIR
from hk_pipeline.sample_market import store
from hk_pipeline.sample_market.daily import DailyMarket

log = logging.getLogger(__name__)

PREFIX = "sample_market-"
SUFFIX = ".npz"
# Files whose content determines the market, relative to the package directory.
KEY_FILES = (
    "sample_market/*.py",
    "sample_market/data/**/*",
    "calendar.py",
    "calendar_closures.csv",
    "ticks.py",
    "industries.py",
    "paths.py",
)
KEY_PACKAGES = ("numpy", "pandas", "pyarrow", "exchange_calendars")
LOAD_ERRORS = (
    OSError,  # missing or unreadable file, pyarrow's IO errors
    EOFError,
    ValueError,  # StoreError, bad JSON, bad .npy header, pyarrow.ArrowInvalid
    KeyError,  # a member or header entry missing
    zipfile.BadZipFile,  # truncated file, CRC mismatch
    pa.ArrowException,
)
STALE_AFTER_S = 24 * 3600  # other keys' files unused this long are removed
ORPHAN_AFTER_S = 3600  # temporary files of writers that died


def key_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The files hashed into the key, sorted."""
    found = {p for pattern in KEY_FILES for p in package_dir.glob(pattern) if p.is_file()}
    return sorted(p for p in found if "__pycache__" not in p.parts)


def cache_key(days: Sequence[date], package_dir: Path = PACKAGE_DIR) -> str:
    """A hex digest of every input of the market: files, trading days, versions, machine."""
    h = hashlib.sha256(f"sample-market format {store.FORMAT}\n".encode())
    for path in key_files(package_dir):
        h.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(np.array([d.toordinal() for d in days], dtype=np.int64).tobytes())
    versions = [f"{name}={metadata.version(name)}" for name in KEY_PACKAGES]
    versions += [f"python={platform.python_version()}", f"machine={platform.machine()}"]
    h.update("\n".join(versions).encode())
    return h.hexdigest()[:24]


def cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{PREFIX}{key}{SUFFIX}"


def load_or_build(
    cache_dir: Path, days: Sequence[date], build: Callable[[], DailyMarket]
) -> DailyMarket:
    """The market from `cache_dir` if a valid file is there, else `build()` and store it."""
    key = cache_key(days)
    path = cache_path(cache_dir, key)
    if path.exists():
        try:
            market = store.load(path, key)
        except LOAD_ERRORS as exc:
            log.warning(
                "sample market cache %s unusable (%s: %s); rebuilding",
                path,
                type(exc).__name__,
                exc,
            )
        else:
            _touch(path)
            return market
    market = build()
    try:
        write(market, path, key)
    except (OSError, store.StoreError, pa.ArrowException) as exc:
        log.warning("sample market cache %s not written (%s: %s)", path, type(exc).__name__, exc)
    else:
        prune(cache_dir, keep=path)
    return market


def write(market: DailyMarket, path: Path, key: str) -> None:
    """Store `market` at `path` atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # os.open rather than mkstemp: mode 0o666 less the umask, like any other file written.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            store.dump(market, fh, key)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; removed on any failure


def prune(cache_dir: Path, keep: Path, now: float | None = None) -> None:
    """Remove other keys' files unused for a day and temporary files of dead writers."""
    now = time.time() if now is None else now
    candidates = [(p, STALE_AFTER_S) for p in cache_dir.glob(f"{PREFIX}*{SUFFIX}") if p != keep]
    candidates += [(p, ORPHAN_AFTER_S) for p in cache_dir.glob(f".{PREFIX}*.tmp")]
    for path, age in candidates:
        try:
            if now - path.stat().st_mtime > age:
                path.unlink()
        except OSError:
            continue  # gone already, or not ours to remove: either way not worth failing over


def _touch(path: Path) -> None:
    """Mark the file used, so prune() by another checkout sharing the home keeps it."""
    try:
        os.utime(path)
    except OSError:
        return
