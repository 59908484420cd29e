from datetime import date

import pytest

from hk_pipeline.defs.partitions import (
    parse_partition_key,
    partition_key,
    snapshot_partitions_def,
)

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def keys() -> set[str]:
    return set(snapshot_partitions_def.get_partition_keys())


@pytest.mark.parametrize(
    "day",
    [
        "2025-12-25",
        "2025-12-26",
        "2026-02-17",
        "2023-09-08",
        "2023-09-01",
        "2025-11-22",
        "2025-11-23",
    ],
)
def test_holidays_closures_and_weekends_are_not_partitions(keys: set[str], day: str) -> None:
    assert f"{day}|midday" not in keys
    assert f"{day}|close" not in keys


@pytest.mark.parametrize("day", ["2025-12-24", "2025-11-21", "2023-07-03", "2025-12-29"])
def test_trading_days_have_both_snapshots(keys: set[str], day: str) -> None:
    assert {f"{day}|midday", f"{day}|close"} <= keys


def test_no_weekend_anywhere(keys: set[str]) -> None:
    weekend = [k for k in keys if date.fromisoformat(k.split("|")[0]).weekday() >= 5]
    assert weekend == []


def test_key_format_round_trips() -> None:
    key = partition_key(date(2025, 11, 21), "midday")
    assert str(key) == "2025-11-21|midday"
    assert parse_partition_key("2025-11-21|close") == (date(2025, 11, 21), "close")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_partition_key("2025-11-21|evening")


def test_daily_windows_are_one_day() -> None:
    """A Friday's window ends on Saturday 00:00 HKT, not Monday (the weekday-cron trap)."""
    date_dim = snapshot_partitions_def.get_partitions_def_for_dimension("date")
    window = date_dim.time_window_for_partition_key("2025-11-21")
    assert (window.end - window.start).days == 1
