"""The built sample market kept on disk: loaded bit for bit as built, rebuilt when the file is
stale or damaged, written atomically, and keyed on everything the market depends on."""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hk_pipeline.config import load_settings
from hk_pipeline.paths import PACKAGE_DIR
from hk_pipeline.sample_market import daily, disk_cache, intraday, store
from hk_pipeline.sample_market import source as sample
from hk_pipeline.sample_market.daily import DailyMarket
from hk_pipeline.sources.registry import get_source

RECAP_DAY = date(2025, 11, 21)


@pytest.fixture(scope="module")
def days() -> list[date]:
    return daily.sample_days()


@pytest.fixture(scope="module")
def built(days: list[date]) -> DailyMarket:
    """Built from scratch here, whatever the process memo or any cache file holds."""
    return sample.build_market(days)


@pytest.fixture(scope="module")
def key(days: list[date]) -> str:
    return disk_cache.cache_key(days)


def _same(a: Any, b: Any, where: str) -> None:
    """Equal in value, type, dtype, shape, order and bits (NaN payloads included)."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype.hasobject:
            assert [type(x) for x in a] == [type(y) for y in b], where
            assert a.tolist() == b.tolist(), where
        else:
            assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
        assert b.flags.writeable, where
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
        for col in a:
            assert [type(x) for x in a[col]] == [type(y) for y in b[col]], f"{where}.{col}"
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_loaded_market_is_the_built_market(built: DailyMarket, key: str, tmp_path: Path) -> None:
    path = disk_cache.cache_path(tmp_path, key)
    disk_cache.write(built, path, key)
    loaded = store.load(path, key)
    assert set(vars(built)) == set(vars(loaded))
    assert {"close_idx", "turnover_pins", "turnover_caps"} <= set(vars(built))
    for field in vars(built):
        _same(getattr(built, field), getattr(loaded, field), field)
    # And what is derived from it: the recap day's bars, built on either copy.
    a, b = intraday.simulate_day(built, RECAP_DAY), intraday.simulate_day(loaded, RECAP_DAY)
    for session in ("morning", "afternoon"):
        _same(vars(getattr(a, session)), vars(getattr(b, session)), session)
    _same(a.index_bars, b.index_bars, "index_bars")


def test_first_call_builds_and_writes_later_calls_load(
    built: DailyMarket, days: list[date], key: str, tmp_path: Path
) -> None:
    builds: list[int] = []

    def build() -> DailyMarket:
        builds.append(1)
        return built

    first = disk_cache.load_or_build(tmp_path / "cache", days, build)
    assert first is built and builds == [1]
    assert disk_cache.cache_path(tmp_path / "cache", key).is_file()
    second = disk_cache.load_or_build(tmp_path / "cache", days, build)
    assert builds == [1] and second is not built
    _same(built.close, second.close, "close")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"sample_market-{key}.npz"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


def _not_a_cache(path: Path) -> None:
    path.write_text("not a cache file\n")


@pytest.mark.parametrize("damage", [_truncate, _empty, _flip_a_byte, _not_a_cache])
def test_a_damaged_file_is_rebuilt_and_rewritten(
    damage, built: DailyMarket, days: list[date], key: str, tmp_path: Path, caplog
) -> None:
    path = disk_cache.cache_path(tmp_path, key)
    disk_cache.write(built, path, key)
    damage(path)
    builds: list[int] = []

    def build() -> DailyMarket:
        builds.append(1)
        return built

    with caplog.at_level(logging.WARNING, logger=disk_cache.__name__):
        assert disk_cache.load_or_build(tmp_path, days, build) is built
    assert builds == [1]
    assert "unusable" in caplog.text and "rebuilding" in caplog.text
    _same(built.fair, store.load(path, key).fair, "fair")  # rewritten whole


def test_a_file_written_for_another_key_is_not_used(
    built: DailyMarket, days: list[date], key: str, tmp_path: Path
) -> None:
    path = disk_cache.cache_path(tmp_path, key)
    disk_cache.write(built, path, "some-other-key")
    with pytest.raises(store.StoreError, match="expected format"):
        store.load(path, key)
    builds: list[int] = []
    disk_cache.load_or_build(tmp_path, days, lambda: builds.append(1) or built)
    assert builds == [1]
    store.load(path, key)


def test_a_failed_write_leaves_no_file(
    built: DailyMarket, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = disk_cache.cache_path(tmp_path, key)

    def killed_midway(market: DailyMarket, fh, k: str) -> None:
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError("no space left on device")

    monkeypatch.setattr(store, "dump", killed_midway)
    with pytest.raises(OSError, match="no space"):
        disk_cache.write(built, path, key)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_field_is_not_stored(
    built: DailyMarket, days: list[date], tmp_path: Path, caplog
) -> None:
    odd = DailyMarket(**{f: getattr(built, f) for f in DailyMarket.__dataclass_fields__})
    odd.something_new = 1  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger=disk_cache.__name__):
        assert disk_cache.load_or_build(tmp_path, days, lambda: odd) is odd
    assert "something_new" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_old_files_and_orphaned_temporaries_are_pruned(tmp_path: Path) -> None:
    keep = tmp_path / "sample_market-new.npz"
    recent = tmp_path / "sample_market-other.npz"
    stale = tmp_path / "sample_market-old.npz"
    orphan = tmp_path / ".sample_market-old.123.abcd.tmp"
    writing = tmp_path / ".sample_market-new.456.ef01.tmp"
    unrelated = tmp_path / "notes.txt"
    for p in (keep, recent, stale, orphan, writing, unrelated):
        p.write_bytes(b"x")
    long_ago = time.time() - 2 * disk_cache.STALE_AFTER_S
    for p in (keep, stale, orphan, unrelated):
        os.utime(p, (long_ago, long_ago))
    disk_cache.prune(tmp_path, keep=keep)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (keep, recent, writing, unrelated)
    )


def test_key_covers_code_data_calendar_and_days(days: list[date], tmp_path: Path) -> None:
    names = {p.relative_to(PACKAGE_DIR).as_posix() for p in disk_cache.key_files()}
    for expected in (
        "sample_market/source.py",
        "sample_market/universe.py",
        "sample_market/membership.py",
        "sample_market/weights.py",
        "sample_market/macro.py",
        "sample_market/hsi_history.py",
        "sample_market/daily.py",
        "sample_market/store.py",
        "sample_market/data/index_membership.csv",
        "sample_market/data/market-recap-2025-11-21-midday.json",
        "calendar.py",
        "calendar_closures.csv",
        "ticks.py",
    ):
        assert expected in names
    assert any(n.startswith("sample_market/data/hsi_constituents/") for n in names)

    copy = tmp_path / "pkg"
    for name in names:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE_DIR / name, copy / name)
    base = disk_cache.cache_key(days, copy)
    assert base == disk_cache.cache_key(days)
    assert disk_cache.cache_key(days[:-1], copy) != base
    with (copy / "calendar_closures.csv").open("a") as fh:
        fh.write("2025-07-21,typhoon\n")
    assert disk_cache.cache_key(days, copy) != base


def test_key_covers_library_versions(days: list[date], monkeypatch: pytest.MonkeyPatch) -> None:
    base = disk_cache.cache_key(days)
    real = disk_cache.metadata.version
    monkeypatch.setattr(
        disk_cache.metadata, "version", lambda n: "0.0" if n == "numpy" else real(n)
    )
    assert disk_cache.cache_key(days) != base


def test_market_is_one_per_process_whichever_folder(
    built: DailyMarket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sample, "_memo", {})
    folders: list[Path] = []

    def fake(folder: Path, days: list[date], build) -> DailyMarket:
        folders.append(folder)
        return built

    monkeypatch.setattr(disk_cache, "load_or_build", fake)
    assert sample.market(tmp_path / "a") is built
    assert sample.market(tmp_path / "b") is built
    assert folders == [tmp_path / "a"]


def test_the_sample_source_keeps_its_market_in_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings({"HK_PIPELINE_HOME": str(tmp_path)})
    assert get_source("sample", settings).cache_dir == tmp_path.resolve() / "cache"
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path / "home"))
    assert sample.default_cache_dir() == (tmp_path / "home").resolve() / "cache"
