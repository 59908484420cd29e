"""A recorded live day, replayed through ``hk-pipeline run --source replay``: the whole pipeline
runs offline on the answers as the providers gave them, and loads what the live source parses.

The recording is made from the live fixtures (answers written to mirror real ones, see
``fixtures/live/SOURCES.md``) through the real recorder; the run then goes through Dagster, the
ingest assets, the marts and the review exactly as a live run would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hk_pipeline.sources.live import LiveSource
from hk_pipeline.sources.replay import ReplayTransport, folder
from hk_pipeline_tests.lake_access import read_home
from hk_pipeline_tests.sources.live.conftest import DAY
from hk_pipeline_tests.sources.live.test_replay import record


def test_a_recorded_day_replays_through_the_whole_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hk_pipeline import cli

    home = tmp_path / "home"
    monkeypatch.setenv("HK_PIPELINE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.delenv("HK_PIPELINE_SOURCE", raising=False)
    monkeypatch.delenv("HK_PIPELINE_DAGSTER_POSTGRES_URL", raising=False)
    kept = record(home)
    assert kept.requests == 12

    code = cli.main(
        ["--source", "replay", "run", "--date", DAY.isoformat(), "--snapshot", "midday"]
    )
    out = capsys.readouterr()
    assert code == 0, out.err[-1500:]

    # what the live source parses from the same recording, straight from the adapters
    live = LiveSource(
        today=DAY,
        transport=ReplayTransport(folder(home, DAY, "midday")),
        sleep=lambda _s: None,
        min_interval=0,
    )
    quotes = live.quotes(DAY, "midday")
    levels = live.index_levels(DAY, "midday").set_index("index_code")["last"]
    con = read_home(home)
    try:
        n, sources = con.execute(
            "SELECT count(*), list(DISTINCT source) FROM raw.quotes WHERE trade_date = ?"
            " AND snapshot = 'midday'",
            [DAY],
        ).fetchone()
        stored = dict(
            con.execute(
                "SELECT index_code, last FROM raw.index_levels WHERE trade_date = ?"
                " AND snapshot = 'midday'",
                [DAY],
            ).fetchall()
        )
        moves = con.execute(
            "SELECT count(*) FROM mart.index_moves WHERE trade_date = ? AND snapshot = 'midday'",
            [DAY],
        ).fetchone()[0]
    finally:
        con.close()
    assert n == len(quotes) > 100
    assert sources == ["live:eastmoney"]  # a replay loads exactly as the live run would have
    assert stored == {code: float(v) for code, v in levels.items()}
    assert stored["HSI"] == pytest.approx(25300.28)
    assert moves == 3
