"""Dagster resources: the DuckDB warehouse, the market source and the pipeline's settings.

Defaults come from ``hk_pipeline.config.load_settings()`` (HK_PIPELINE_* variables), so the
Definitions load with working values on a fresh machine; tests construct them with tmp paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from hk_pipeline.config import Settings, load_settings

if TYPE_CHECKING:
    import duckdb

    from hk_pipeline.sources.base import MarketSource


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file: one writable connection per run, shared by its assets.

    DuckDB allows one writing process; runs execute their steps in-process one after another,
    so the steps of a run take turns on the same connection. Opening the file for every asset
    cost ~40 ms each; the connection is closed when the run's resources are torn down.
    """

    path: str
    memory_limit: str = "1GB"
    published_dir: str = ""  # default: ``published/`` beside the warehouse file
    publish_keep_versions: int = 3
    publish_grace_seconds: float = 600.0

    @property
    def published_path(self) -> Path:
        return (
            Path(self.published_dir)
            if self.published_dir
            else Path(self.path).parent / ("published")
        )

    _writer: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        from hk_pipeline.warehouse import connect

        if read_only:
            con = connect(Path(self.path), read_only=True, memory_limit=self.memory_limit)
            try:
                yield con
            finally:
                con.close()
            return
        if self._writer is None:
            self._writer = self._open_writer()
        yield self._writer

    def _open_writer(self) -> duckdb.DuckDBPyConnection:
        """The run's writable connection; a clear failure when another process holds the file.

        Runs launched from the UI or a schedule queue one at a time among themselves, but a CLI
        run may hold the warehouse: DuckDB's own lock refuses the second writer, and the run
        fails here, before it changed anything.
        """
        import duckdb

        from hk_pipeline.warehouse import connect

        try:
            return connect(Path(self.path), memory_limit=self.memory_limit)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise dg.Failure(
                description=(
                    f"the warehouse {self.path} is being written by another process"
                    f" ({str(exc).splitlines()[0]}); this run changed nothing: run it again"
                    " when that one finishes"
                ),
                allow_retries=False,
            ) from exc

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@lru_cache(maxsize=4)
def _cached_source(name: str, home: str) -> MarketSource:
    """One source object per (name, home) per process: the sample source keeps the day it
    simulated in memory, so the assets of one run share it instead of simulating it again."""
    from hk_pipeline.sources.registry import get_source

    settings = load_settings({"HK_PIPELINE_HOME": home, "HK_PIPELINE_SOURCE": name})
    return get_source(name, settings)


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
    from hk_pipeline.warehouse.publish import PublishPolicy, published_dir

    s = settings or load_settings()
    policy = PublishPolicy.from_env()
    return {
        "warehouse": WarehouseResource(
            path=str(s.warehouse_path),
            memory_limit=s.duckdb_memory_limit,
            published_dir=str(published_dir(s.home)),
            publish_keep_versions=policy.keep_versions,
            publish_grace_seconds=policy.grace_seconds,
        ),
        "source": SourceResource(source_name=s.source, home=str(s.home)),
        "pipeline": PipelineSettingsResource(
            quarantine_threshold=s.quarantine_threshold, reports_dir=str(s.reports_dir)
        ),
    }
