"""A run that finds the warehouse held by another process fails clearly and changes nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from hk_pipeline.defs.resources import WarehouseResource
from hk_pipeline.warehouse import connect

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""


def test_second_writer_process_gets_a_clear_failure(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    connect(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        resource = WarehouseResource(path=str(path))
        with pytest.raises(dg.Failure) as info, resource.connection():
            pass
        message = info.value.description or ""
        assert "being written by another process" in message
        assert "this run changed nothing" in message
    finally:
        holder.kill()
        holder.wait(timeout=10)
    time.sleep(0.1)
    with resource.connection() as con:  # once the holder is gone the run can write
        assert con.execute("SELECT 1").fetchall() == [(1,)]
