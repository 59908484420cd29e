"""The landing zone's errors: every refusal names the file and, where it can, the line and
column, and says what to do. All are ``SourceError``s, so callers may catch either.
"""

from __future__ import annotations

from pathlib import Path

from hk_pipeline.sources.base import SourceError


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
