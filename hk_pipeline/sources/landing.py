"""The landing source: vendor files dropped in ``$HK_PIPELINE_HOME/landing`` (issue 5).

``LandingSource(root)`` serves the MarketSource tables from the files laid out as described
in ``landing_layout`` and the README; every row carries ``source = 'landing'``. This module
parses and shapes; business rules (prices, high/low, duplicate keys, unknown codes) are left
to the pandera models, whose failures go to quarantine. Two rules need the files themselves:
a file with no rows for a session that traded is refused (``LandingEmptyFileError``: it would
replace a partition by nothing), and ``listed_symbols`` gives the master in force, which the
ingest checks the symbols of quotes, bars and constituents against.

Where a row came from: a frame returned here carries ``frame.attrs["landing_origin"]``, a
:class:`RowOrigins` aligned by position with the frame's rows (file path and line: 1-based
with the header on line 1; for Parquet the 1-based data row). It is an attribute, not a
column, because the warehouse inserts frames BY NAME and a ``_line`` column has no home in the
tables; ``validate_frame`` numbers rejected rows by position (``row_number``), so
``row_origins(frame).cite(row_number)`` gives the ``path:line`` a quarantine reason can quote.

Also for the Dagster wiring (which lives in hk_pipeline/defs/, not here):
``missing_for`` (what a snapshot's complete set still lacks, for the sensor),
``landing_manifest`` (checksums of the files a partition run uses) and
``has_intraday_bars`` (so the report says "no intraday bars" instead of failing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.sources.landing_errors import (
    LandingEmptyFileError,
    LandingEncodingError,
    LandingError,
    LandingFileError,
    LandingHeaderError,
    LandingLayoutError,
    LandingMissingFileError,
    LandingRowError,
    LandingValueError,
    empty_file_error,
)
from hk_pipeline.sources.landing_layout import (
    DATED_KINDS,
    MACRO_KIND,
    LandingFile,
    check_snapshot,
    expected_dated,
    expected_snapshot,
    in_force,
    macro_files,
    missing_hint,
    snapshot_file,
)
from hk_pipeline.sources.landing_read import ReadFile, read_landing_file

SOURCE = "landing"
ORIGIN_ATTR = "landing_origin"

__all__ = [
    "ORIGIN_ATTR",
    "SOURCE",
    "LandingEmptyFileError",
    "LandingEncodingError",
    "LandingError",
    "LandingFile",
    "LandingFileError",
    "LandingHeaderError",
    "LandingLayoutError",
    "LandingMissingFileError",
    "LandingRowError",
    "LandingSource",
    "LandingValueError",
    "ListedSymbols",
    "RowOrigins",
    "has_intraday_bars",
    "landing_manifest",
    "missing_for",
    "row_origins",
    "session_traded",
]

_QUOTE_PRICES = ["prev_close", "open", "high", "low", "last"]
_BAR_PRICES = ["open", "high", "low", "close"]


@dataclass(frozen=True, eq=False)
class RowOrigins:
    """File and line of each row of a landing frame, by position (see the module docstring).

    ``eq=False`` on purpose: pandas compares ``attrs`` when it combines frames, and an
    element-wise array comparison there would raise.
    """

    paths: tuple[Path, ...]
    file: np.ndarray  # index into paths, one per row
    line: np.ndarray  # 1-based line (CSV, header = 1) or data row (Parquet), one per row
    # the files read, with the checksum of the very bytes parsed (for the load's record);
    # every file read is listed, also one that gave no row
    files: tuple[LandingFile, ...] = ()

    def __len__(self) -> int:
        return len(self.line)

    def of(self, row: int) -> tuple[Path, int]:
        """(path, line) of the row at position ``row``."""
        return self.paths[int(self.file[row])], int(self.line[row])

    def cite(self, row: int) -> str:
        """``path:line`` of the row at position ``row``, for quarantine reasons."""
        path, line = self.of(row)
        return f"{path}:{line}"

    def take(self, rows: np.ndarray) -> RowOrigins:
        return RowOrigins(self.paths, self.file[rows], self.line[rows], self.files)

    def frame(self) -> pd.DataFrame:
        """One row per frame row: ``path`` (str) and ``line`` (int64)."""
        paths = np.array([str(p) for p in self.paths], dtype=object)
        return pd.DataFrame({"path": paths[self.file], "line": self.line})


def session_traded(trade_date: date, snapshot: str | None = None) -> bool:
    """True if the exchange held the session (the day, or its snapshot's part of the day).

    A file with a header and no rows is accepted only for a session that did not trade:
    anywhere else it is a truncated delivery. The calendar knows whole days without a session
    (holidays, ad-hoc closures) and mornings weather cancelled (calendar.weather_sessions):
    the mid-day files of such a day are expected to hold no rows.
    """
    if snapshot is None:
        return calendar.is_trading_day(trade_date)
    return calendar.snapshot_traded(trade_date, snapshot)


@dataclass(frozen=True)
class ListedSymbols:
    """The symbols of the securities master in force on ``trade_date`` and its file."""

    trade_date: date
    symbols: frozenset[str]
    path: Path


def row_origins(frame: pd.DataFrame) -> RowOrigins | None:
    """The RowOrigins of a frame this module returned, or None (e.g. after a concat)."""
    origin = frame.attrs.get(ORIGIN_ATTR)
    return origin if isinstance(origin, RowOrigins) and len(origin) == len(frame) else None


def _with_origin(frame: pd.DataFrame, reads: list[ReadFile]) -> pd.DataFrame:
    frame.attrs[ORIGIN_ATTR] = RowOrigins(
        paths=tuple(r.file.path for r in reads),
        file=np.repeat(np.arange(len(reads), dtype="int32"), [len(r.lines) for r in reads]),
        line=np.concatenate([r.lines for r in reads]) if reads else np.empty(0, "int64"),
        files=tuple(r.file for r in reads),
    )
    return frame


class LandingSource:
    """MarketSource over a landing folder (``root`` = ``$HK_PIPELINE_HOME/landing``).

    Each file is read once per instance (keyed by path, size and modification time) and the
    checksum of the very bytes parsed is kept: ``loaded_files()`` lists them for the load's
    record. Frames are returned as copies, so callers may modify them.
    """

    name = SOURCE
    # A master file is the whole truth on its date but says nothing of later days: the ref
    # assets close superseded versions and absent symbols themselves (warehouse.writes).
    knows_valid_to = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[Path, int, int], ReadFile] = {}

    # -- MarketSource ---------------------------------------------------------------------

    def securities(self, trade_date: date) -> pd.DataFrame:
        """The master in force on trade_date; valid_to = the next master's date (else NULL)."""
        read, span = self._dated("securities", trade_date)
        self._rows_required(read, "securities", trade_date)
        f = read.frame
        listed = f["listed_on"] if "listed_on" in f else np.full(len(f), None, dtype=object)
        frame = pd.DataFrame(
            {
                "symbol": f["symbol"],
                "name": f["name"],
                "board": f["board"],
                "industry": f["industry"],
                "board_lot": f["board_lot"],
                "issued_shares": f["issued_shares"],
                "currency": f["currency"],
                "listed_on": listed,
                "valid_from": span.valid_from,
                "valid_to": span.valid_to,
                "source": SOURCE,
            }
        )
        return _with_origin(frame, [read])

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        """The membership file in force on trade_date, effective-dated like securities."""
        read, span = self._dated("index_constituents", trade_date)
        self._rows_required(read, "index_constituents", trade_date)
        f = read.frame
        frame = pd.DataFrame(
            {
                "index_code": f["index_code"],
                "symbol": f["symbol"],
                "issued_shares": f["issued_shares"],
                "faf": f["faf"],
                "cap_factor": f["cap_factor"],
                "valid_from": span.valid_from,
                "valid_to": span.valid_to,
                "source": SOURCE,
            }
        )
        return _with_origin(frame, [read])

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        read = self._required("quotes", trade_date, snapshot)
        self._rows_required(read, "quotes", trade_date, snapshot)
        f = read.frame
        body = {"symbol": f["symbol"], **{c: f[c] for c in _QUOTE_PRICES}}
        body |= {"volume": f["volume"], "turnover": f["turnover"]}
        if "trading_status" in f:  # optional: a file without it reports no suspension
            body["trading_status"] = f["trading_status"]
        frame = _partition(trade_date, snapshot, body, as_of=True)
        return _with_origin(frame, [read])

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        read = self._required("index_levels", trade_date, snapshot)
        self._rows_required(read, "index_levels", trade_date, snapshot)
        f = read.frame
        body = {"index_code": f["index_code"], **{c: f[c] for c in _QUOTE_PRICES}}
        frame = _partition(trade_date, snapshot, body, as_of=True)
        return _with_origin(frame, [read])

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """The bars file if present, else an empty frame of the right columns and dtypes.

        No file means "no bars" (the file is optional); a file without rows is a truncated
        delivery and is refused like any other empty file.
        """
        path = snapshot_file(self.root, "intraday_bars", trade_date, snapshot)
        if path is None:
            return _with_origin(_empty_bars(trade_date, snapshot), [])
        read = self._read(path, "intraday_bars")
        self._rows_required(read, "intraday_bars", trade_date, snapshot)
        f = read.frame
        body = {"symbol": f["symbol"], "ts": f["ts"], **{c: f[c] for c in _BAR_PRICES}}
        body |= {"volume": f["volume"], "turnover": f["turnover"]}
        frame = _partition(trade_date, snapshot, body, as_of=False)
        return _with_origin(frame, [read])

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        """Rows of every macro_series file released by as_of (released_at, else released_on).

        A reading known only by its date counts from 00:00 HKT that day, as in the sample
        source; the macro mart applies the stricter "next trading day" rule itself. A naive
        as_of is taken as HKT. No macro_series folder gives an empty frame (macro is optional).
        """
        reads = [self._read(p, MACRO_KIND) for p in macro_files(self.root)]
        frames = [_macro_frame(r.frame) for r in reads]
        frame = pd.concat(frames, ignore_index=True) if frames else _macro_frame(None)
        cutoff = pd.Timestamp(as_of)
        cutoff = cutoff.tz_localize(calendar.TZ) if cutoff.tzinfo is None else cutoff
        on = pd.to_datetime(frame["released_on"]).dt.tz_localize(calendar.TZ)
        known_by = frame["released_at"].where(frame["released_at"].notna(), on)
        keep = np.flatnonzero((known_by <= cutoff).to_numpy(dtype=bool))
        out = frame.iloc[keep].reset_index(drop=True)
        origin = _with_origin(pd.DataFrame(index=frame.index), reads).attrs[ORIGIN_ATTR]
        out.attrs[ORIGIN_ATTR] = origin.take(keep)
        return out

    # -- landing extras -------------------------------------------------------------------

    def listed_symbols(self, trade_date: date) -> ListedSymbols:
        """The symbols the securities master in force on trade_date lists, and its file.

        Rows of quotes, bars and constituents are checked against it before they load (a
        share the master does not list has no name, board or industry in any mart).
        """
        read, span = self._dated("securities", trade_date)
        self._rows_required(read, "securities", trade_date)
        symbols = frozenset(str(s) for s in read.frame["symbol"].dropna())
        return ListedSymbols(trade_date, symbols, span.path)

    def has_intraday_bars(self, trade_date: date, snapshot: str) -> bool:
        return has_intraday_bars(self.root, trade_date, snapshot)

    def loaded_files(self) -> list[LandingFile]:
        """Every file this instance has read, with the checksum of the bytes it parsed."""
        return [r.file for r in self._cache.values()]

    # -- reading --------------------------------------------------------------------------

    def _read(self, path: Path, kind: str) -> ReadFile:
        st = path.stat()
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self._cache:
            self._cache[key] = read_landing_file(self.root, path, kind)
        cached = self._cache[key]
        return ReadFile(cached.frame.copy(), cached.lines, cached.file)

    @staticmethod
    def _rows_required(
        read: ReadFile, kind: str, trade_date: date, snapshot: str | None = None
    ) -> None:
        """Refuse a file without rows for a session that traded (see ``session_traded``)."""
        if len(read.frame) == 0 and session_traded(trade_date, snapshot):
            what = f"{trade_date}|{snapshot}" if snapshot else f"{trade_date}"
            raise empty_file_error(read.file.path, kind, what)

    def _dated(self, kind: str, trade_date: date) -> tuple[ReadFile, _Span]:
        span = in_force(self.root, kind, trade_date)
        if span is None:
            path = expected_dated(self.root, kind, trade_date)
            raise LandingMissingFileError(
                f"no {kind} file in force on {trade_date}: expected {path} (or a .parquet, "
                f"or one dated earlier){missing_hint(self.root, kind)}",
                [path],
            )
        return self._read(span.path, kind), _Span(span.valid_from, span.valid_to, span.path)

    def _required(self, kind: str, trade_date: date, snapshot: str) -> ReadFile:
        path = snapshot_file(self.root, kind, trade_date, snapshot)
        if path is None:
            want = expected_snapshot(self.root, kind, trade_date, snapshot)
            raise LandingMissingFileError(
                f"missing landing file {want} (or the same name in .parquet)"
                f"{missing_hint(self.root, kind)}",
                [want],
            )
        return self._read(path, kind)


@dataclass(frozen=True)
class _Span:
    valid_from: date
    valid_to: date | None
    path: Path


def _partition(trade_date: date, snapshot: str, body: dict, *, as_of: bool) -> pd.DataFrame:
    frame = pd.DataFrame(body).reset_index(drop=True)
    frame.insert(0, "snapshot", snapshot)
    frame.insert(0, "trade_date", trade_date)
    if as_of:
        instant = pd.Timestamp(calendar.snapshot_time(trade_date, snapshot))
        frame["as_of"] = pd.Series([instant] * len(frame), dtype=_TSTZ)
    frame["source"] = SOURCE
    return frame


_TSTZ = pd.DatetimeTZDtype("ns", calendar.TZ)


def _empty_bars(trade_date: date, snapshot: str) -> pd.DataFrame:
    check_snapshot(snapshot)
    return pd.DataFrame(
        {
            "trade_date": pd.Series(dtype=object),
            "snapshot": pd.Series(dtype=object),
            "symbol": pd.Series(dtype=object),
            "ts": pd.Series(dtype=_TSTZ),
            **{c: pd.Series(dtype="float64") for c in _BAR_PRICES},
            "volume": pd.Series(dtype="int64"),
            "turnover": pd.Series(dtype="float64"),
            "source": pd.Series(dtype=object),
        }
    )


def _macro_frame(f: pd.DataFrame | None) -> pd.DataFrame:
    if f is None:
        f = pd.DataFrame(
            {
                "series_id": pd.Series(dtype=object),
                "period": pd.Series(dtype=object),
                "value": pd.Series(dtype="float64"),
                "unit": pd.Series(dtype=object),
                "released_on": pd.Series(dtype=object),
            }
        )
    released_at = (
        f["released_at"] if "released_at" in f else pd.Series(pd.NaT, index=f.index, dtype=_TSTZ)
    )
    return pd.DataFrame(
        {
            "series_id": f["series_id"],
            "period": f["period"],
            "value": f["value"],
            "unit": f["unit"],
            "released_on": f["released_on"],
            "released_at": released_at.astype(_TSTZ),
            "source": SOURCE,
        }
    )


# --- for the sensor and the asset (pure functions; the Dagster wiring lives in defs/) -------


def has_intraday_bars(root: Path, trade_date: date, snapshot: str) -> bool:
    """True if ``intraday_bars/<date>_<snapshot>`` (csv or parquet) is in the landing folder."""
    return snapshot_file(Path(root), "intraday_bars", trade_date, snapshot) is not None


def _present(path: Path | None) -> bool:
    # A zero-byte file is an upload that has not arrived yet (touch, then write).
    return path is not None and path.stat().st_size > 0


def missing_for(root: Path, trade_date: date, snapshot: str) -> list[Path]:
    """Paths a complete landing set for (trade_date, snapshot) still lacks, [] when complete.

    Required: the securities and index_constituents files in force on trade_date (reported as
    ``<kind>/<trade_date>.csv`` when none is), and the quotes and index_levels files of the
    snapshot. Macro series and intraday bars are optional. Only presence is checked (a
    zero-byte file counts as missing); a malformed file fails the run that reads it.
    """
    root = Path(root)
    check_snapshot(snapshot)
    out: list[Path] = []
    for kind in DATED_KINDS:
        if in_force(root, kind, trade_date) is None:
            out.append(expected_dated(root, kind, trade_date))
    for kind in ("quotes", "index_levels"):
        if not _present(snapshot_file(root, kind, trade_date, snapshot)):
            out.append(expected_snapshot(root, kind, trade_date, snapshot))
    return out


def landing_manifest(root: Path, trade_date: date, snapshot: str) -> list[LandingFile]:
    """Path, kind, sha256, size and mtime of every file a partition run reads.

    That is the securities and index_constituents files in force, the snapshot's quotes and
    index_levels, its intraday_bars if present and every macro_series file. Raises
    LandingMissingFileError (listing all of them) when a required file is missing.
    """
    root = Path(root)
    missing = missing_for(root, trade_date, snapshot)
    if missing:
        raise LandingMissingFileError(
            f"landing set for {trade_date}|{snapshot} is incomplete; missing: "
            + ", ".join(str(p) for p in missing),
            missing,
        )
    files: list[tuple[Path, str]] = []
    for kind in DATED_KINDS:
        span = in_force(root, kind, trade_date)
        if span is not None:  # always, once missing_for found nothing missing
            files.append((span.path, kind))
    for kind in ("quotes", "index_levels", "intraday_bars"):
        path = snapshot_file(root, kind, trade_date, snapshot)
        if path is not None:
            files.append((path, kind))
    files += [(p, MACRO_KIND) for p in macro_files(root)]
    return [LandingFile.of_bytes(p, kind, p.read_bytes()) for p, kind in files]
