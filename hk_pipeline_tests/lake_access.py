"""Opening a test home's lake: the embedded default (SQLite catalog, ``<home>/lake``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.readers import open_reader


def home_settings(home: Path, **overrides: object) -> Settings:
    """The settings of the embedded default for ``home``.

    A path ending in ``.duckdb`` (the single-file warehouse of earlier versions, which many
    tests still name) stands for the home that holds it.
    """
    home = Path(home)
    if home.suffix == ".duckdb":
        home = home.parent
    return Settings(home=home, **overrides)  # type: ignore[arg-type]


def read_home(home: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``home``'s lake, as an analyst opens it."""
    return open_reader(home_settings(home))


def write_home(home: Path) -> duckdb.DuckDBPyConnection:
    """A writable connection to ``home``'s lake, its schema set up."""
    return connect(home_settings(home))


def copy_lake(home: Path, dest: Path) -> Path:
    """Copy ``home``'s lake (catalog file and data folder) into ``dest``; returns ``dest``.

    The copy opens where it now is: the data path setting wins over the one the catalog
    was created with. The source must not be written meanwhile.
    """
    home, dest = Path(home), Path(dest)
    if home.suffix == ".duckdb":
        home = home.parent
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(home / "catalog.sqlite", dest / "catalog.sqlite")
    for suffix in ("-wal", "-shm"):
        extra = home / f"catalog.sqlite{suffix}"
        if extra.exists():
            shutil.copyfile(extra, dest / extra.name)
    shutil.copytree(home / "lake", dest / "lake")
    return dest
