"""Fixtures for the analysts' side: a home whose lake holds runs of the fake source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline.config import Settings
from hk_pipeline.definitions import ASSETS
from hk_pipeline.defs.resources import PipelineSettingsResource, WarehouseResource
from hk_pipeline_tests.defs.fake_source import FakeSourceResource

Materialize = Callable[[str], dg.ExecuteInProcessResult]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("HK_PIPELINE_SOURCE", raising=False)
    return tmp_path


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
def materialize(home: Path) -> Materialize:
    """Materialise every asset of one partition with the fake source."""

    def run(partition: str) -> dg.ExecuteInProcessResult:
        return _materialize_in(home, partition)

    return run


def _materialize_in(home: Path, partition: str) -> dg.ExecuteInProcessResult:
    resources = {
        "warehouse": WarehouseResource(home=str(home)),
        "source": FakeSourceResource(home=str(home), variant="good"),
        "pipeline": PipelineSettingsResource(reports_dir=str(home / "reports")),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            ASSETS, resources=resources, partition_key=partition, instance=instance
        )
    assert result.success
    return result


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where two partitions ran (mid-day, then close); read it only."""
    home = tmp_path_factory.mktemp("lake_home")
    _materialize_in(home, "2025-11-21|midday")
    _materialize_in(home, "2025-11-21|close")
    return home
