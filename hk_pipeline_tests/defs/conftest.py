"""Fixtures for the Dagster wiring: tmp warehouse, fake source, ephemeral instance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline.definitions import ASSETS
from hk_pipeline.defs.resources import PipelineSettingsResource, WarehouseResource
from hk_pipeline_tests.defs.fake_source import FakeSourceResource

DAY = "2025-11-21"
KEY = f"{DAY}|midday"

Materialize = Callable[..., dg.ExecuteInProcessResult]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HK_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return tmp_path


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def materialize(home: Path, instance: dg.DagsterInstance) -> Materialize:
    """Materialise every asset of one partition with the fake source."""

    def run(
        variant: str = "good", threshold: float = 0.01, partition: str = KEY
    ) -> dg.ExecuteInProcessResult:
        resources = {
            "warehouse": WarehouseResource(home=str(home)),
            "source": FakeSourceResource(home=str(home), variant=variant),
            "pipeline": PipelineSettingsResource(
                reports_dir=str(home / "reports"), quarantine_threshold=threshold
            ),
        }
        return dg.materialize(
            ASSETS,
            resources=resources,
            partition_key=partition,
            instance=instance,
            raise_on_error=False,
        )

    return run
