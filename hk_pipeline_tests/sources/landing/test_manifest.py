"""missing_for (what the sensor reports) and landing_manifest (what the load records)."""

from datetime import date
from pathlib import Path

import pytest

from hk_pipeline.sources.landing import (
    LandingMissingFileError,
    has_intraday_bars,
    landing_manifest,
    missing_for,
)
from hk_pipeline_tests.landing_fixture import FILES_2025_11_21_MIDDAY

from .conftest import write

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

D1, D2 = date(2025, 11, 20), date(2025, 11, 21)


def test_complete_sets(fixture_root: Path) -> None:
    for day in (D1, D2):
        for snapshot in ("midday", "close"):
            assert missing_for(fixture_root, day, snapshot) == []


def test_missing_for_lists_exactly_the_missing_paths(landing: Path) -> None:
    (landing / "quotes" / "2025-11-21_close.csv").unlink()
    (landing / "index_levels" / "2025-11-21_midday.csv").unlink()
    assert missing_for(landing, D2, "close") == [landing / "quotes" / "2025-11-21_close.csv"]
    assert missing_for(landing, D2, "midday") == [
        landing / "index_levels" / "2025-11-21_midday.csv"
    ]
    # the next trading day: masters are in force, snapshot files are not there yet
    assert missing_for(landing, date(2025, 11, 24), "midday") == [
        landing / "quotes" / "2025-11-24_midday.csv",
        landing / "index_levels" / "2025-11-24_midday.csv",
    ]


def test_missing_for_empty_folder_and_masters(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    assert missing_for(root, D2, "close") == [
        root / "securities" / "2025-11-21.csv",
        root / "index_constituents" / "2025-11-21.csv",
        root / "quotes" / "2025-11-21_close.csv",
        root / "index_levels" / "2025-11-21_close.csv",
    ]
    write(root / "securities" / "2025-11-22.csv", "x\n")  # takes effect only later
    assert root / "securities" / "2025-11-21.csv" in missing_for(root, D2, "close")


def test_zero_byte_file_counts_as_missing_and_parquet_as_present(landing: Path) -> None:
    quotes = landing / "quotes" / "2025-11-21_close.csv"
    quotes.write_bytes(b"")
    assert missing_for(landing, D2, "close") == [quotes]
    quotes.unlink()
    write(quotes.with_suffix(".parquet"), b"PAR1")  # presence only; reading would fail
    assert missing_for(landing, D2, "close") == []


def test_manifest_lists_the_files_a_run_reads(fixture_root: Path) -> None:
    files = landing_manifest(fixture_root, D2, "midday")
    names = [(f.kind, f.path.relative_to(fixture_root).as_posix()) for f in files]
    assert names == list(FILES_2025_11_21_MIDDAY)
    for f in files:
        assert f.size == f.path.stat().st_size and len(f.sha256) == 64
        assert f.modified.tzinfo is not None
    assert [f.kind for f in landing_manifest(fixture_root, D1, "close")].count("intraday_bars") == 0


def test_manifest_checksum_changes_with_the_file(landing: Path) -> None:
    before = {f.path: f.sha256 for f in landing_manifest(landing, D2, "close")}
    quotes = landing / "quotes" / "2025-11-21_close.csv"
    quotes.write_text(quotes.read_text(encoding="utf-8").replace("619.5", "619"), "utf-8")
    after = {f.path: f.sha256 for f in landing_manifest(landing, D2, "close")}
    assert [p for p in before if before[p] != after[p]] == [quotes]


def test_manifest_refuses_an_incomplete_set(landing: Path) -> None:
    (landing / "index_levels" / "2025-11-21_close.csv").unlink()
    with pytest.raises(LandingMissingFileError, match=r"incomplete; missing: .*index_levels"):
        landing_manifest(landing, D2, "close")


def test_has_intraday_bars(fixture_root: Path) -> None:
    assert has_intraday_bars(fixture_root, D2, "midday")
    assert not has_intraday_bars(fixture_root, D2, "close")
    with pytest.raises(ValueError, match="unknown snapshot"):
        has_intraday_bars(fixture_root, D2, "evening")
