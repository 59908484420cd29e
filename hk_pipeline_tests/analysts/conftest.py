"""Fixtures for the analysts' side: a home with published versions from the fake source."""

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
    """Materialise every asset (publishing included) of one partition with the fake source."""

    def run(partition: str, *, keep: int = 3, grace: float = 600.0) -> dg.ExecuteInProcessResult:
        resources = {
            "warehouse": WarehouseResource(
                path=str(home / "warehouse.duckdb"),
                publish_keep_versions=keep,
                publish_grace_seconds=grace,
            ),
            "source": FakeSourceResource(home=str(home), variant="good"),
            "pipeline": PipelineSettingsResource(reports_dir=str(home / "reports")),
        }
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                ASSETS, resources=resources, partition_key=partition, instance=instance
            )
        assert result.success
        return result

    return run


def _materialize_in(home: Path, partition: str) -> dg.ExecuteInProcessResult:
    resources = {
        "warehouse": WarehouseResource(path=str(home / "warehouse.duckdb")),
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
def published_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where two partitions ran and were published (v1, then v2); read it only."""
    home = tmp_path_factory.mktemp("published_home")
    _materialize_in(home, "2025-11-21|midday")
    _materialize_in(home, "2025-11-21|close")
    return home


@pytest.fixture
def published(published_home: Path) -> Path:
    return published_home / "published"
