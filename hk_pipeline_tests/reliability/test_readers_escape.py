"""Readers cannot write or escape; the UI stays local; credentials are redacted.

What hk_pipeline_tests/analysts/test_readers.py covers (open_reader and SQLAlchemy refuse
writes, `hk-pipeline sql` refuses COPY/ATTACH/INSTALL/outside files) is not repeated here.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest

from hk_pipeline.cli import build_parser
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import HttpClient
from hk_pipeline.sources.landing import LandingSource
from hk_pipeline_tests.lake_access import read_home

AREA = "readers and access"
SECRET = "hkp-fake-secret-7f3a9c"


def test_plain_duckdb_read_only_open_of_the_catalogue_refuses_writes(base_home: Path, tally):
    t = tally(AREA)
    con = read_home(base_home / "published" / "analyst.duckdb")
    try:
        for sql in (
            "CREATE TABLE x AS SELECT 1",
            "DROP VIEW raw.quotes",
            "COMMENT ON VIEW raw.quotes IS 'x'",
        ):
            t.cases += 1
            with pytest.raises(duckdb.Error, match="read-only"):
                con.execute(sql)
    finally:
        con.close()
    t.trials += 1
    t.survived += 1


def test_ui_binds_to_localhost_by_default(tally) -> None:
    t = tally(AREA)
    args = build_parser().parse_args(["ui"])
    t.trials += 1
    assert args.host == "127.0.0.1"
    t.survived += 1


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_landing_files_cannot_point_outside_the_landing_folder(
    tmp_path: Path, how: str, tally
) -> None:
    t = tally(AREA)
    root = tmp_path / "landing"
    (root / "quotes").mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    outside.write_text(
        "symbol,prev_close,open,high,low,last,volume,turnover\n00700,1,1,1,1,1,1,1\n",
        encoding="utf-8",
    )
    target = root / "quotes" / "2025-11-21_close.csv"
    if how == "symlink":
        target.symlink_to(outside)
    else:
        (root / "quotes" / "..").resolve()  # the layout is fixed: names come from the partition
        target.symlink_to(Path("..") / ".." / "secret.csv")
    t.trials += 1
    with pytest.raises(SourceError, match=r"outside|symlink|link"):
        LandingSource(root).quotes(date(2025, 11, 21), "close")
    t.survived += 1


def test_http_errors_redact_credentials(tally) -> None:
    t = tally(AREA)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, request=request)

    client = HttpClient(
        "eastmoney", transport=httpx.MockTransport(handler), sleep=lambda _s: None, min_interval=0
    )
    for name in ("token", "api_key", "secret", "apikey", "access_token"):
        t.cases += 1
        with pytest.raises(SourceError) as info:
            client.get(
                "https://push2.eastmoney.com/api/qt/clist/get", params={"pn": 1, name: SECRET}
            )
        assert SECRET not in str(info.value) and "pn=1" in str(info.value)
    client.close()
    t.trials += 1
    t.survived += 1
    assert os.environ.get("HK_PIPELINE_EASTMONEY_TOKEN") != SECRET
