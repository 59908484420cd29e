"""The landing folder on disk: its layout, which file serves a request, and the checks every
path passes before anything opens it.

Layout under the landing root (``$HK_PIPELINE_HOME/landing``), CSV or Parquet (same stem):

    securities/<YYYY-MM-DD>.csv             master in force from that date
    index_constituents/<YYYY-MM-DD>.csv     membership in force from that date
    quotes/<YYYY-MM-DD>_<midday|close>.csv
    index_levels/<YYYY-MM-DD>_<midday|close>.csv
    intraday_bars/<YYYY-MM-DD>_<midday|close>.csv   (optional)
    macro_series/<anything>.csv

Files whose name starts with ``.`` are ignored (editors' and uploaders' temporary files).
Every path is resolved and must stay under the root: a symlink pointing out is refused.
Every entry a load would read must be a regular file, checked before anything opens it: a
FIFO, a socket, a device or a folder named like a file is refused ("not a regular file").
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from hk_pipeline.calendar import SNAPSHOTS
from hk_pipeline.sources.landing_errors import LandingLayoutError

EXTENSIONS = (".csv", ".parquet")
DATED_KINDS = ("securities", "index_constituents")
SNAPSHOT_KINDS = ("quotes", "index_levels", "intraday_bars")
MACRO_KIND = "macro_series"
KINDS = (*DATED_KINDS, *SNAPSHOT_KINDS, MACRO_KIND)
"""The landing folders; each is named as the table it feeds (``quotes`` feeds raw.quotes)."""

_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
_SNAPSHOT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_(midday|close)\.(csv|parquet)$")


@dataclass(frozen=True)
class LandingFile:
    """One landing file as a load used it: where, what, and the checksum of its bytes."""

    path: Path
    kind: str
    sha256: str
    size: int
    modified: datetime  # UTC

    @classmethod
    def of_bytes(cls, path: Path, kind: str, data: bytes) -> LandingFile:
        mtime = path.stat().st_mtime
        return cls(
            path=path,
            kind=kind,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            modified=datetime.fromtimestamp(mtime, tz=UTC),
        )


def check_snapshot(snapshot: str) -> None:
    if snapshot not in SNAPSHOTS:
        raise ValueError(f"unknown snapshot {snapshot!r}: expected one of {', '.join(SNAPSHOTS)}")


def confined(root: Path, path: Path) -> Path:
    """``path`` resolved, refused unless it stays under ``root`` (symlinks followed)."""
    base = root.resolve()
    target = path.resolve()
    if not target.is_relative_to(base):
        raise LandingLayoutError(
            path,
            f"resolves to {target}, outside the landing folder {base}; copy the file into the "
            "landing folder instead of linking to it",
        )
    return target


_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def require_regular(path: Path) -> Path:
    """``path`` if it is a regular file (links followed); LandingLayoutError otherwise.

    Checked with ``os.stat`` before anything opens the file: opening a FIFO blocks until a
    writer appears (for ever, if none does), a device may never end, and a folder named like a
    file fails part-way. Every listing below calls this, so a run or the sensor refuses such
    an entry at once, naming it.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if not path.is_symlink():
            raise  # removed since it was listed: the caller's "missing" path applies
        what = "a link to nothing"
    except OSError as exc:
        raise LandingLayoutError(
            path, f"cannot be examined ({exc.strerror or exc}); fix its permissions"
        ) from exc
    else:
        if stat.S_ISREG(mode):
            return path
        what = next((name for test, name in _NOT_REGULAR if test(mode)), "not a file")
    raise LandingLayoutError(
        path,
        f"is not a regular file: it is {what}. The landing folder takes only regular files;"
        " reading anything else could block the run or fail part-way. Put the delivered file"
        " itself there, or remove this entry (names starting with '.' are ignored)",
    )


def _folder(root: Path, kind: str) -> Path | None:
    """``root/kind`` if it is a folder, None if it does not exist; refused if it is a file."""
    folder = root / kind
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise LandingLayoutError(
            folder, f"is not a folder; the landing zone's {kind}/ must be a folder of files"
        )
    return folder


def _visible_files(root: Path, kind: str, *, regular: bool = True) -> list[Path]:
    """The entries of ``kind/`` not starting with '.', sorted; with ``regular``, every one
    must be a regular file (``require_regular``)."""
    folder = _folder(root, kind)
    if folder is None:
        return []
    confined(root, folder)
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if regular:
        for path in entries:
            confined(root, path)
            require_regular(path)
    return entries


def _pick(root: Path, kind: str, stem: str) -> Path | None:
    """The file ``<kind>/<stem>.csv`` or ``.parquet`` if exactly one exists."""
    if _folder(root, kind) is None:
        return None
    found = [root / kind / f"{stem}{ext}" for ext in EXTENSIONS]
    found = [p for p in found if p.exists() or p.is_symlink()]
    if len(found) > 1:
        raise LandingLayoutError(
            found[0],
            f"both {found[0].name} and {found[1].name} exist in {root / kind}; keep one of them",
        )
    if not found:
        return None
    confined(root, found[0])
    return require_regular(found[0])


def dated_files(root: Path, kind: str) -> list[tuple[date, Path]]:
    """``(effective date, path)`` of every master file of ``kind``, oldest first."""
    out: dict[date, Path] = {}
    for path in _visible_files(root, kind):
        m = _DATED_NAME.match(path.name)
        day = _parse_day(m.group(1)) if m else None
        if day is None:
            raise LandingLayoutError(
                path,
                f"file name does not parse: expected {kind}/<YYYY-MM-DD>.csv (or .parquet), the "
                "date the file takes effect; rename it or prefix it with '.' to have it ignored",
            )
        if day in out:
            raise LandingLayoutError(
                path, f"both {out[day].name} and {path.name} exist in {root / kind}; keep one"
            )
        confined(root, path)
        out[day] = path
    return sorted(out.items())


@dataclass(frozen=True)
class InForce:
    """The master file in force on a day and the date the next one takes over (if any)."""

    valid_from: date
    path: Path
    valid_to: date | None


def in_force(root: Path, kind: str, day: date) -> InForce | None:
    """The latest ``kind/<date>`` file with date <= day, or None."""
    files = dated_files(root, kind)
    earlier = [(d, p) for d, p in files if d <= day]
    if not earlier:
        return None
    valid_from, path = earlier[-1]
    later = [d for d, _ in files if d > valid_from]
    return InForce(valid_from, path, later[0] if later else None)


def expected_dated(root: Path, kind: str, day: date) -> Path:
    return root / kind / f"{day.isoformat()}.csv"


def expected_snapshot(root: Path, kind: str, day: date, snapshot: str) -> Path:
    return root / kind / f"{day.isoformat()}_{snapshot}.csv"


def snapshot_file(root: Path, kind: str, day: date, snapshot: str) -> Path | None:
    check_snapshot(snapshot)
    return _pick(root, kind, f"{day.isoformat()}_{snapshot}")


def macro_files(root: Path) -> list[Path]:
    """Every macro_series file (any name), sorted by name; other extensions are refused."""
    out = []
    for path in _visible_files(root, MACRO_KIND):
        if path.suffix not in EXTENSIONS:
            raise LandingLayoutError(
                path,
                "macro_series/ holds only .csv or .parquet files; convert this one or move it "
                "out (names starting with '.' are ignored)",
            )
        out.append(path)
    return out


def missing_hint(root: Path, kind: str) -> str:
    """Names in ``kind/`` that look like a misnamed file of that kind, for error messages."""
    near = [
        p.name
        for p in _visible_files(root, kind, regular=False)  # a hint only: never refuses
        if not (_SNAPSHOT_NAME.match(p.name) or _DATED_NAME.match(p.name))
    ]
    return f" (found names that do not parse: {', '.join(near[:5])})" if near else ""


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
