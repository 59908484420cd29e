"""The registry: each source name gives its source, lazily; the live source's "today" pin."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hk_pipeline.config import ConfigError, load_settings
from hk_pipeline.sources.registry import LIVE_TODAY_VARIABLE, get_source, live_today


def settings(tmp_path: Path, source: str):
    return load_settings({"HK_PIPELINE_HOME": str(tmp_path), "HK_PIPELINE_SOURCE": source})


def test_landing_reads_the_landing_folder_of_the_home(tmp_path: Path) -> None:
    source = get_source("landing", settings(tmp_path, "landing"))
    assert source.name == "landing" and source.root == tmp_path.resolve() / "landing"
    assert source.knows_valid_to is False


def test_live_takes_its_today_from_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIVE_TODAY_VARIABLE, "2025-11-21")
    source = get_source("live", settings(tmp_path, "live"))
    assert source.name == "live" and source.today == date(2025, 11, 21)
    assert source.knows_valid_to is False


def test_live_today_pin_is_checked() -> None:
    assert live_today({}) is None
    assert live_today({LIVE_TODAY_VARIABLE: " 2025-11-21 "}) == date(2025, 11, 21)
    with pytest.raises(ConfigError, match=LIVE_TODAY_VARIABLE):
        live_today({LIVE_TODAY_VARIABLE: "21/11/2025"})


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected one of sample, landing, live"):
        get_source("bloomberg", settings(tmp_path, "sample"))
