"""Settings from environment variables, each with a working default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("sample", "landing", "live")


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path
    source: str = "sample"
    quarantine_threshold: float = 0.01
    duckdb_memory_limit: str = "1GB"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def cache_dir(self) -> Path:
        """Files the pipeline can rebuild at will (the built sample market)."""
        return self.home / "cache"


def pipeline_home(environ: Mapping[str, str] | None = None) -> Path:
    """HK_PIPELINE_HOME, absolute; ``data`` under the working directory when unset."""
    env = os.environ if environ is None else environ
    return Path(env.get("HK_PIPELINE_HOME", "data")).expanduser().resolve()


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read HK_PIPELINE_* variables; raise ConfigError naming the variable on a bad value."""
    env = os.environ if environ is None else environ
    home = pipeline_home(env)
    source = env.get("HK_PIPELINE_SOURCE", "sample").strip().lower()
    if source not in SOURCES:
        raise ConfigError(f"HK_PIPELINE_SOURCE={source!r}: expected one of {', '.join(SOURCES)}")
    raw_threshold = env.get("HK_PIPELINE_QUARANTINE_THRESHOLD", "0.01")
    try:
        threshold = float(raw_threshold)
    except ValueError as exc:
        raise ConfigError(
            f"HK_PIPELINE_QUARANTINE_THRESHOLD={raw_threshold!r} is not a number"
        ) from exc
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(
            f"HK_PIPELINE_QUARANTINE_THRESHOLD={threshold} must be a share between 0 and 1"
        )
    memory = env.get("HK_PIPELINE_DUCKDB_MEMORY_LIMIT", "1GB")
    return Settings(
        home=home, source=source, quarantine_threshold=threshold, duckdb_memory_limit=memory
    )
