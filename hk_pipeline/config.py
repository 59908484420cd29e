"""Settings from environment variables, each with a working default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("sample", "landing", "live", "replay")


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot use."""


CATALOG_VARIABLE = "HK_PIPELINE_CATALOG"
DATA_PATH_VARIABLE = "HK_PIPELINE_DATA_PATH"
DAGSTER_POSTGRES_VARIABLE = "HK_PIPELINE_DAGSTER_POSTGRES_URL"
POSTGRES_PREFIX = "postgres:"


@dataclass(frozen=True)
class Settings:
    home: Path
    source: str = "sample"
    quarantine_threshold: float = 0.01
    duckdb_memory_limit: str = "1GB"
    catalog: str = ""
    """``HK_PIPELINE_CATALOG``: empty for the SQLite catalog file under the home, or
    ``postgres:<libpq connection string>``. May carry a password: never print it."""
    data_path: str = ""
    """``HK_PIPELINE_DATA_PATH``: empty for ``<home>/lake/``, a folder, or ``s3://bucket/prefix``."""
    dagster_postgres_url: str = ""
    """``HK_PIPELINE_DAGSTER_POSTGRES_URL``: empty for Dagster's SQLite storage under the home."""

    @property
    def warehouse_path(self) -> Path:
        """The single-file warehouse of earlier versions; only ``hk-pipeline migrate`` reads it."""
        return self.home / "warehouse.duckdb"

    @property
    def catalog_path(self) -> Path:
        """The embedded default's SQLite catalog file (used when ``catalog`` is empty)."""
        return self.home / "catalog.sqlite"

    @property
    def lake_data_path(self) -> str:
        """Where the lake's Parquet files live, always ending in ``/``."""
        path = self.data_path or str(self.home / "lake")
        return path if path.endswith("/") else path + "/"

    @property
    def catalog_is_postgres(self) -> bool:
        return self.catalog.startswith(POSTGRES_PREFIX)

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


def nonnegative_number(env: Mapping[str, str], variable: str, default: float, unit: str) -> float:
    """``variable`` of ``env`` as a number of ``unit`` (>= 0), ``default`` when unset;
    ValueError naming the variable on a bad value."""
    raw = env.get(variable, str(default))
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{variable}={raw!r} must be a number of {unit}") from exc
    if value < 0:
        raise ValueError(f"{variable}={value} must be >= 0")
    return value


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
    catalog = env.get(CATALOG_VARIABLE, "").strip()
    if catalog and not catalog.startswith(POSTGRES_PREFIX):
        raise ConfigError(
            f"{CATALOG_VARIABLE} must be unset (a SQLite catalog under HK_PIPELINE_HOME) or"
            f" start with {POSTGRES_PREFIX!r} followed by a libpq connection string, e.g."
            " 'postgres:host=db.example dbname=hk_lake user=hk'"
        )
    data_path = env.get(DATA_PATH_VARIABLE, "").strip()
    if data_path and "://" in data_path and not data_path.startswith("s3://"):
        raise ConfigError(
            f"{DATA_PATH_VARIABLE}={data_path!r}: expected a folder or s3://bucket/prefix"
        )
    if data_path and "://" not in data_path:
        data_path = str(Path(data_path).expanduser().resolve())
    dagster_pg = env.get(DAGSTER_POSTGRES_VARIABLE, "").strip()
    if dagster_pg and not dagster_pg.startswith(("postgresql://", "postgresql+")):
        raise ConfigError(
            f"{DAGSTER_POSTGRES_VARIABLE} must be a URL such as"
            " postgresql://user:password@host:5432/dagster"
        )
    return Settings(
        home=home,
        source=source,
        quarantine_threshold=threshold,
        duckdb_memory_limit=memory,
        catalog=catalog,
        data_path=data_path,
        dagster_postgres_url=dagster_pg,
    )
