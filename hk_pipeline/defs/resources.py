"""Dagster resources: the lake, the market source and the pipeline's settings.

Defaults come from ``hk_pipeline.config.load_settings()`` (HK_PIPELINE_* variables), so the
Definitions load with working values on a fresh machine; tests construct them with tmp paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from hk_pipeline.config import CATALOG_VARIABLE, Settings, load_settings
from hk_pipeline.sources import registry
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.lake import LakeError

if TYPE_CHECKING:
    import duckdb

    from hk_pipeline.sources.base import MarketSource


class WarehouseResource(dg.ConfigurableResource):
    """The lake: one writable connection per run, shared by its assets.

    The catalog's connection string may hold a password, so the resource never holds it:
    it names the environment variable to read it from (shown in the UI instead of its
    value). Opening the lake costs ~0.1 s; the connection is closed when the run's resources
    are torn down.
    """

    home: str
    data_path: str = ""
    memory_limit: str = "1GB"
    catalog_variable: str = CATALOG_VARIABLE

    _writer: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        """The lake's settings, the catalog read from the environment now."""
        return Settings(
            home=Path(self.home),
            duckdb_memory_limit=self.memory_limit,
            catalog=os.environ.get(self.catalog_variable, "").strip(),
            data_path=self.data_path,
        )

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only:
            con = self._open(read_only=True)
            try:
                yield con
            finally:
                con.close()
            return
        if self._writer is None:
            self._writer = self._open(read_only=False)
        yield self._writer

    def _open(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection, or a Failure with the one-line reason (the setting to fix)."""
        try:
            return connect(self.settings(), read_only=read_only)
        except LakeError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@lru_cache(maxsize=4)
def _cached_source(name: str, home: str) -> MarketSource:
    """One source object per (name, home) per process: the sample source keeps the day it
    simulated in memory, so the assets of one run share it instead of simulating it again."""

    settings = load_settings({"HK_PIPELINE_HOME": home, "HK_PIPELINE_SOURCE": name})
    return registry.get_source(name, settings)  # looked up at call time: tests replace it


class SourceResource(dg.ConfigurableResource):
    """Which MarketSource feeds the run (``sample``, ``landing`` or ``live``)."""

    source_name: str = "sample"
    home: str

    def get(self) -> MarketSource:
        return _cached_source(self.source_name, self.home)


class PipelineSettingsResource(dg.ConfigurableResource):
    """Settings the assets need besides the warehouse and the source."""

    quarantine_threshold: float = 0.01
    reports_dir: str


def default_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources for the Definitions, from the HK_PIPELINE_* environment."""
    s = settings or load_settings()
    return {
        "warehouse": WarehouseResource(
            home=str(s.home), data_path=s.data_path, memory_limit=s.duckdb_memory_limit
        ),
        "source": SourceResource(source_name=s.source, home=str(s.home)),
        "pipeline": PipelineSettingsResource(
            quarantine_threshold=s.quarantine_threshold, reports_dir=str(s.reports_dir)
        ),
    }
