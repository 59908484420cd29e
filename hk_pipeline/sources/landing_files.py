"""The landing folder on disk: its layout, its errors, and reading one file into typed columns.

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

Reading is column-wise (pyarrow's CSV reader with every column as text, then vectorised
conversion); the slow, row-by-row scan that finds the line of a fault runs only once a fault
is known. Line numbers are 1-based with the header on line 1; blank lines are skipped but
counted. A Parquet file has no lines: its faults name the 1-based data row instead.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hk_pipeline.calendar import SNAPSHOTS, TZ
from hk_pipeline.sources.base import SourceError

EXTENSIONS = (".csv", ".parquet")
DATED_KINDS = ("securities", "index_constituents")
SNAPSHOT_KINDS = ("quotes", "index_levels", "intraday_bars")
MACRO_KIND = "macro_series"
KINDS = (*DATED_KINDS, *SNAPSHOT_KINDS, MACRO_KIND)

# Column types: str (text, empty -> NULL), float, int (whole number), date (YYYY-MM-DD),
# timestamp (ISO 8601 with a UTC offset).
COLUMNS: dict[str, dict[str, str]] = {
    "securities": {
        "symbol": "str",
        "name": "str",
        "board": "str",
        "industry": "str",
        "board_lot": "int",
        "issued_shares": "int",
        "currency": "str",
    },
    "index_constituents": {
        "index_code": "str",
        "symbol": "str",
        "issued_shares": "int",
        "faf": "float",
        "cap_factor": "float",
    },
    "quotes": {
        "symbol": "str",
        "prev_close": "float",
        "open": "float",
        "high": "float",
        "low": "float",
        "last": "float",
        "volume": "int",
        "turnover": "float",
    },
    "index_levels": {
        "index_code": "str",
        "prev_close": "float",
        "open": "float",
        "high": "float",
        "low": "float",
        "last": "float",
    },
    "intraday_bars": {
        "symbol": "str",
        "ts": "timestamp",
        "open": "float",
        "high": "float",
        "low": "float",
        "close": "float",
        "volume": "int",
        "turnover": "float",
    },
    "macro_series": {
        "series_id": "str",
        "period": "str",
        "value": "float",
        "unit": "str",
        "released_on": "date",
    },
}
OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {
    "securities": {"listed_on": "date"},
    # NULL (trading normally), suspended or halted; files without it load as not suspended
    "quotes": {"trading_status": "str"},
    "macro_series": {"released_at": "timestamp"},
}

_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
_SNAPSHOT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_(midday|close)\.(csv|parquet)$")
_OFFSET = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_BOM = b"\xef\xbb\xbf"
_INT64_MAX = 2.0**63


# --- errors ---------------------------------------------------------------------------------


class LandingError(SourceError):
    """Base of every landing-zone error (a SourceError, so callers can catch either)."""


class LandingMissingFileError(LandingError):
    """A file the request needs is not in the landing folder; ``paths`` lists what is expected."""

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths

    def __reduce__(self) -> tuple[type, tuple[str, list[Path]]]:
        return type(self), (str(self), self.paths)


class LandingFileError(LandingError):
    """A landing file cannot be read as its kind: bad name or place, encoding, header or value.

    ``path``, ``line`` (1-based, header = 1; for Parquet the 1-based data row) and ``column``
    say where; either of the last two is None when the fault is not on one line or column.
    """

    def __init__(
        self, path: Path, problem: str, line: int | None = None, column: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        where = [str(path)]
        if line is not None:
            where.append(f"{'row' if path.suffix == '.parquet' else 'line'} {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[Path, str, int | None, str | None]]:
        # picklable across processes (the default would call __init__ with the message only)
        return type(self), (self.path, self.problem, self.line, self.column)


class LandingLayoutError(LandingFileError):
    """A file name that does not parse, a name clash, or a path leaving the landing folder."""


class LandingEncodingError(LandingFileError):
    """The file is not UTF-8 text."""


class LandingHeaderError(LandingFileError):
    """The header row is missing, empty, duplicated or names the wrong columns."""


class LandingRowError(LandingFileError):
    """A line has the wrong number of fields (a truncated file, an unquoted delimiter...)."""


class LandingValueError(LandingFileError):
    """A value does not parse as its column's type (number, whole number, date, timestamp)."""


class LandingEmptyFileError(LandingFileError):
    """A file a trading day needs has its header but no data rows (CSV) or 0 rows (Parquet).

    Loading it would replace the day's rows by nothing; an empty delivery is a truncated one,
    so it is refused before anything is written.
    """


def empty_file_error(path: Path, kind: str, what: str) -> LandingEmptyFileError:
    """The refusal of an empty ``kind`` file needed for ``what`` (``2025-11-21|midday``, or
    ``2025-11-21`` for a master), saying what to do."""
    rows = "0 rows" if path.suffix == ".parquet" else "a header but no data rows"
    return LandingEmptyFileError(
        path,
        f"has {rows}; a {kind} file for a trading day must list its rows (an empty one is a "
        f"truncated delivery), so nothing was loaded for {what}. Re-deliver the complete file",
    )


# --- layout ---------------------------------------------------------------------------------


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


# --- reading --------------------------------------------------------------------------------


@dataclass
class ReadFile:
    """One file's typed columns, the line (CSV) or row (Parquet) of each record, its checksum."""

    frame: pd.DataFrame
    lines: np.ndarray
    file: LandingFile


def read_landing_file(root: Path, path: Path, kind: str) -> ReadFile:
    """Read ``path`` as a file of ``kind``: typed columns or a LandingFileError saying where."""
    target = confined(root, path)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise LandingFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    spec = {**COLUMNS[kind], **OPTIONAL_COLUMNS.get(kind, {})}
    if path.suffix == ".parquet":
        frame, lines = _read_parquet(path, data, kind, spec)
    else:
        frame, lines = _read_csv(path, data, kind, spec)
    return ReadFile(frame, lines, LandingFile.of_bytes(path, kind, data))


def _check_header(path: Path, kind: str, names: list[str], *, line: int | None = 1) -> None:
    required = list(COLUMNS[kind])
    optional = list(OPTIONAL_COLUMNS.get(kind, {}))
    problems = []
    missing = [c for c in required if c not in names]
    unexpected = [c for c in names if c not in required and c not in optional]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if missing:
        problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
    if unexpected:
        problems.append(f"unexpected column(s) {', '.join(map(repr, unexpected))}")
    if dupes:
        problems.append(f"duplicated column(s) {', '.join(map(repr, dupes))}")
    if problems:
        extra = f"; optional: {','.join(optional)}" if optional else ""
        raise LandingHeaderError(
            path,
            f"{'; '.join(problems)}. A {kind} file's header is "
            f"{','.join(required)} (any order{extra})",
            line=line,
        )


def _check_utf8(path: Path, data: bytes, offset0: int) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        field = data[line_start:start].count(b",")
        column = None
        if line > 1:
            header = data[: data.find(b"\n")].decode("utf-8", "replace").split(",")
            column = header[field].strip() if field < len(header) else None
        raise LandingEncodingError(
            path,
            f"not UTF-8: byte 0x{data[start]:02X} at byte offset {start + offset0} cannot be "
            "decoded; save the file as UTF-8 (in Excel: 'CSV UTF-8')",
            line=line,
            column=column,
        ) from None


def _read_csv(
    path: Path, data: bytes, kind: str, spec: dict[str, str]
) -> tuple[pd.DataFrame, np.ndarray]:
    offset0 = 0
    if data.startswith(_BOM):
        data, offset0 = data[len(_BOM) :], len(_BOM)
    _check_utf8(path, data, offset0)
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    if not first.strip():
        raise LandingHeaderError(
            path,
            f"{'empty file' if not data.strip() else 'line 1 is blank'}: the first line must "
            f"be the header {','.join(COLUMNS[kind])}",
            line=1,
        )
    try:
        names = [n.strip() for n in next(csv.reader([first.decode("utf-8")]))]
    except csv.Error as exc:
        raise LandingHeaderError(path, f"header does not parse as CSV ({exc})", line=1) from None
    _check_header(path, kind, names)
    if data.count(b'"') % 2:
        raise _unclosed_quote(path, data)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _locate_bad_row(path, data, names) or LandingRowError(
            path, f"not a well-formed CSV file ({exc})"
        ) from None
    lines = _record_lines(path, data, table.num_rows, names)
    columns = {name: pc.utf8_trim_whitespace(table.column(name)) for name in names}
    frame = _convert(path, columns, lines, spec)
    return frame, lines


def _locate_bad_row(path: Path, data: bytes, names: list[str]) -> LandingFileError | None:
    """Find the first record whose field count differs from the header's (slow; on failure)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    n = len(names)
    last_line = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        prev = 0
        for row in reader:
            start, prev = prev + 1, reader.line_num
            if start == 1 or not row:
                continue
            if len(row) != n:
                return _field_count_error(path, start, row, names, start == last_line)
    except csv.Error as exc:
        return LandingRowError(
            path, f"does not parse as CSV ({exc}); an unclosed quote?", line=reader.line_num
        )
    return None


def _unclosed_quote(path: Path, data: bytes) -> LandingRowError:
    """An odd number of '"' (escaped quotes come in pairs): say where the open one starts."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), strict=True)
    prev = 0
    try:
        for _ in reader:
            prev = reader.line_num
    except csv.Error:
        pass
    return LandingRowError(
        path,
        "unclosed quote: the value opened here runs to the end of the file (a truncated file, "
        "or a '\"' inside a value that should be written as '\"\"')",
        line=prev + 1,
    )


def _field_count_error(
    path: Path, line: int, row: list[str], names: list[str], last: bool
) -> LandingRowError:
    n = len(names)
    if len(row) < n:
        missing = ", ".join(map(repr, names[len(row) :]))
        hint = (
            "the file looks truncated (was it still being written when it was read?)"
            if last
            else "a value with a line break or a missing delimiter?"
        )
        return LandingRowError(
            path,
            f"{len(row)} of {n} fields; missing {missing}: {hint}",
            line=line,
            column=names[len(row)] if len(row) < n else None,
        )
    return LandingRowError(
        path,
        f"{len(row)} fields but the header has {n}; quote values that contain a ','",
        line=line,
    )


def _record_lines(path: Path, data: bytes, n_records: int, names: list[str]) -> np.ndarray:
    """1-based line of each record: non-blank lines after the header, else a CSV re-scan."""
    arr = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(arr)]))
    nonblank = np.flatnonzero(ends > starts) + 1
    body = nonblank[nonblank > 1].astype("int64")
    if len(body) == n_records:
        return body
    # Quoted values spanning lines: the slow scan gives each record's first line.
    out = []
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    prev = 0
    try:
        for row in reader:
            start, prev = prev + 1, reader.line_num
            if start > 1 and row:
                out.append(start)
    except csv.Error as exc:
        raise LandingRowError(
            path, f"does not parse as CSV ({exc})", line=reader.line_num
        ) from None
    if len(out) != n_records:
        raise LandingRowError(
            path,
            f"could not tell the line of each record ({n_records} records, {len(out)} found "
            "by a second reader); check the quoting of the file",
        )
    return np.asarray(out, dtype="int64")


def _read_parquet(
    path: Path, data: bytes, kind: str, spec: dict[str, str]
) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise LandingFileError(path, f"not a readable Parquet file ({exc})") from None
    names = [str(n) for n in table.column_names]
    _check_header(path, kind, names, line=None)
    rows = np.arange(1, table.num_rows + 1, dtype="int64")
    columns = {}
    for name in names:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.fill_null(pc.utf8_trim_whitespace(col), "")
        columns[name] = col
    return _convert(path, columns, rows, spec), rows


# --- conversion -----------------------------------------------------------------------------


def _convert(
    path: Path, columns: dict[str, pa.ChunkedArray], lines: np.ndarray, spec: dict[str, str]
) -> pd.DataFrame:
    out = {}
    for name, col in columns.items():
        kind = spec[name]
        text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        convert = (_TEXT if text else _TYPED)[kind]
        out[name] = convert(path, name, col, lines)
    return pd.DataFrame(out)


def _fail(
    path: Path, column: str, lines: np.ndarray, bad: np.ndarray, values: np.ndarray, problem: str
) -> LandingValueError:
    i = int(np.flatnonzero(bad)[0])
    count = int(bad.sum())
    more = f" ({count - 1} more row(s) like it)" if count > 1 else ""
    shown = repr(values[i])
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return LandingValueError(path, f"{shown} {problem}{more}", line=int(lines[i]), column=column)


def _text_str(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    values = col.to_numpy(zero_copy_only=False).astype(object)
    values[values == ""] = None
    return values


def _text_float(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    empty = pc.equal(col, "")
    try:
        result = pc.cast(pc.if_else(empty, None, col), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        values = col.to_numpy(zero_copy_only=False)
        parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        result = parsed.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isnan(result) & (values != "")
        if bad.any():
            raise _fail(path, name, lines, bad, values, _NUMBER_HINT) from None
    nonfinite = np.isinf(result) | (np.isnan(result) & ~empty.to_numpy(zero_copy_only=False))
    if nonfinite.any():
        values = col.to_numpy(zero_copy_only=False)
        raise _fail(path, name, lines, nonfinite, values, _FINITE_HINT)
    return result


_NUMBER_HINT = (
    "is not a number: write digits with '.' as the decimal point and no thousands separator "
    "(e.g. 1234.5), or leave the field empty for no value"
)
_FINITE_HINT = "is not a finite number: leave the field empty for no value"


def _text_int(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    try:
        return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        # Empty or fractional values load as float (NaN for empty) and the validator
        # quarantines those rows; only text that is not a number at all fails the file.
        return _whole(path, name, _text_float(path, name, col, lines), lines, col)


def _whole(
    path: Path, name: str, values: np.ndarray, lines: np.ndarray, col: pa.ChunkedArray
) -> np.ndarray:
    big = np.abs(values) >= _INT64_MAX
    if big.any():
        raise _fail(
            path, name, lines, big, col.to_numpy(zero_copy_only=False), "is out of range (int64)"
        )
    if np.isnan(values).any() or (values != np.round(values)).any():
        return values
    return values.astype("int64")


def _text_date(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    values = col.to_numpy(zero_copy_only=False)
    s = pd.Series(values, dtype=object)
    parsed = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    bad = (values != "") & (parsed.isna().to_numpy() | ~s.str.match(_DATE_TEXT).to_numpy(bool))
    if bad.any():
        raise _fail(
            path, name, lines, bad, values, "is not a date: write YYYY-MM-DD (e.g. 2025-11-21)"
        )
    return np.array([None if pd.isna(v) else v.date() for v in parsed], dtype=object)


def _text_timestamp(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> pd.Series:
    values = col.to_numpy(zero_copy_only=False)
    empty = values == ""
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    bad = parsed.isna().to_numpy() & ~empty
    if bad.any():
        raise _fail(path, name, lines, bad, values, _TS_HINT)
    offset = pc.match_substring_regex(col, _OFFSET).to_numpy(zero_copy_only=False)
    naive = ~offset & ~empty
    if naive.any():
        raise _fail(path, name, lines, naive, values, "has no UTC offset: " + _TS_HINT)
    return _hkt(parsed)


_TS_HINT = "write an ISO 8601 timestamp with its UTC offset (e.g. 2025-11-21T09:30:00+08:00)"


def _hkt(s: pd.Series) -> pd.Series:
    return s.dt.tz_convert(TZ).astype(pd.DatetimeTZDtype("ns", TZ)).reset_index(drop=True)


def _typed_error(path: Path, name: str, col: pa.ChunkedArray, want: str) -> LandingValueError:
    return LandingValueError(
        path, f"stored as {col.type} in Parquet; store it as {want}", column=name
    )


def _typed_str(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    raise _typed_error(path, name, col, "text (string) so codes keep their leading zeros")


def _typed_float(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        raise _typed_error(path, name, col, "a number (double)")
    values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    inf = np.isinf(values)
    if inf.any():
        raise _fail(path, name, lines, inf, values, _FINITE_HINT)
    return values


def _typed_int(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    if pa.types.is_integer(col.type) and col.null_count == 0:
        return col.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return _whole(path, name, _typed_float(path, name, col, lines), lines, col)


def _typed_date(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> np.ndarray:
    if not (pa.types.is_date(col.type)):
        raise _typed_error(path, name, col, "a date (date32)")
    return np.array(col.cast(pa.date32()).to_pylist(), dtype=object)


def _typed_timestamp(path: Path, name: str, col: pa.ChunkedArray, lines: np.ndarray) -> pd.Series:
    if not pa.types.is_timestamp(col.type) or col.type.tz is None:
        raise _typed_error(path, name, col, "a timestamp with a time zone")
    return _hkt(pd.Series(col.to_pandas()))


Converter = Callable[[Path, str, pa.ChunkedArray, np.ndarray], "np.ndarray | pd.Series"]
_TEXT: dict[str, Converter] = {
    "str": _text_str,
    "float": _text_float,
    "int": _text_int,
    "date": _text_date,
    "timestamp": _text_timestamp,
}
_TYPED: dict[str, Converter] = {
    "str": _typed_str,
    "float": _typed_float,
    "int": _typed_int,
    "date": _typed_date,
    "timestamp": _typed_timestamp,
}
