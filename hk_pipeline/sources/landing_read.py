"""Reading one landing file into typed columns: the header against its table's columns, CSV or
Parquet parsing; ``landing_values`` converts each column to its type.

A landing file of a kind carries the columns of the table it feeds (``hk_pipeline.tables``,
from ``sql/ddl``) minus those the pipeline adds itself (``ADDED_BY_PIPELINE``); the columns of
``OPTIONAL`` may be left out. Each column's type (str, float, int, date, timestamp: see
``landing_values``) follows from its DuckDB type (``_TYPES``).

Reading is column-wise (pyarrow's CSV reader with every column as text, then vectorised
conversion); the slow, row-by-row scan that finds the line of a fault runs only once a fault
is known. Line numbers are 1-based with the header on line 1; blank lines are skipped but
counted. A Parquet file has no lines: its faults name the 1-based data row instead.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hk_pipeline.sources.landing_errors import (
    LandingEncodingError,
    LandingFileError,
    LandingHeaderError,
    LandingRowError,
)
from hk_pipeline.sources.landing_layout import KINDS, LandingFile, confined
from hk_pipeline.sources.landing_values import convert
from hk_pipeline.tables import qualified, table_columns

ADDED_BY_PIPELINE = (
    "trade_date",  # the partition, from the file's name
    "snapshot",
    "as_of",  # the instant of the snapshot
    "valid_from",  # the effective dating, from the master file's name and the next one's
    "valid_to",
    "source",  # the lineage: landing, the run and the time of the write
    "run_id",
    "loaded_at",
)
"""Columns of the tables a landing file does not carry: the pipeline fills them."""

OPTIONAL: dict[str, tuple[str, ...]] = {
    "securities": ("listed_on",),
    # NULL (trading normally), suspended or halted; files without it load as not suspended
    "quotes": ("trading_status",),
    "macro_series": ("released_at",),
}
"""Columns a landing file of the kind may leave out (they load as NULL)."""

_TYPES = {
    "VARCHAR": "str",
    "DOUBLE": "float",
    "BIGINT": "int",
    "INTEGER": "int",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
}
"""The landing column type of each DuckDB type of the DDL."""


def _file_columns(kind: str) -> dict[str, str]:
    """{column: landing type} of a ``kind`` file, in the table's column order."""
    table = qualified(kind)
    out = {}
    for column in table_columns(table):
        if column.name in ADDED_BY_PIPELINE:
            continue
        if column.data_type not in _TYPES:
            raise TypeError(
                f"{table}.{column.name} is {column.data_type} in its DDL, which landing files"
                f" cannot carry; add its reading to _TYPES ({', '.join(_TYPES)})"
            )
        out[column.name] = _TYPES[column.data_type]
    return out


COLUMNS: dict[str, dict[str, str]] = {
    kind: {c: t for c, t in _file_columns(kind).items() if c not in OPTIONAL.get(kind, ())}
    for kind in KINDS
}
"""{kind: {column: type}} of the columns a landing file must have (any order)."""
OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {
    kind: {c: t for c, t in _file_columns(kind).items() if c in names}
    for kind, names in OPTIONAL.items()
}
"""{kind: {column: type}} of the columns a landing file may have besides."""

_BOM = b"\xef\xbb\xbf"


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
    frame = convert(path, columns, lines, spec)
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
    return convert(path, columns, rows, spec), rows
