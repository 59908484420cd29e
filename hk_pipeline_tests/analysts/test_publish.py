"""Publishing: incremental (hard links), atomic pointer, garbage collection, old clients."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import venv
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from hk_pipeline.warehouse.catalog import list_tables
from hk_pipeline.warehouse.publish import (
    CATALOGUE_NAME,
    PublishPolicy,
    collect_garbage,
    publish,
    read_manifest,
    versions,
)
from hk_pipeline_tests.analysts.conftest import Materialize

CATALOGUE_KEY = dg.AssetKey(["analyst", "catalogue"])
DAY = (date(2025, 11, 21), "midday")
DUCKDB_15_HEADER_MAX = 68  # "version number 69, we can only read 64 to 68"


def _files(version_dir: Path) -> dict[str, os.stat_result]:
    return {str(p.relative_to(version_dir)): p.stat() for p in version_dir.rglob("*.parquet")}


def test_second_partition_links_the_first(published: Path) -> None:
    (n1, v1), (n2, v2) = versions(published)
    assert (n1, n2) == (1, 2)
    first, second = _files(v1), _files(v2)
    midday = {f for f in first if "_midday" in f}
    assert midday and midday <= set(second)
    for f in midday:  # unchanged files are the same inode, not copies
        assert second[f].st_ino == first[f].st_ino, f
        assert second[f].st_nlink >= 2
    close = {f for f in second if "_close" in f}
    assert close and not close & set(first)
    manifest = read_manifest(v2)
    assert manifest["linked"] == len(midday) and manifest["previous"] == 1
    assert manifest["exported"] == len(close) + 3  # + ref.securities, constituents, macro


def test_materialization_metadata(materialize: Materialize) -> None:
    result = materialize("2025-11-21|midday")  # the asset runs as part of every snapshot run
    mat = next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == CATALOGUE_KEY
    )
    assert mat.metadata["version"].value == 1
    assert mat.metadata["files_exported"].value > 0
    assert mat.metadata["files_linked"].value == 0
    assert mat.metadata["seconds"].value < 10
    assert mat.metadata["skipped_views"].value == {}


def test_pointer_is_the_latest_catalogue_and_read_only_on_disk(published: Path) -> None:
    pointer = published / CATALOGUE_NAME
    con = duckdb.connect(str(pointer), read_only=True)
    try:
        version, directory = con.execute(
            "SELECT version, directory FROM meta.publication"
        ).fetchall()[0]
        assert (version, Path(directory)) == (2, published / "v000002")
        assert con.execute("SELECT count(DISTINCT snapshot) FROM raw.quotes").fetchall() == [(2,)]
    finally:
        con.close()
    assert not pointer.stat().st_mode & 0o222
    assert all(not s.st_mode & 0o222 for s in _files(published / "v000002").values())
    assert not [p for p in published.iterdir() if p.name.endswith(".tmp")]


def test_garbage_collection_keeps_recent_versions(published_home: Path, tmp_path: Path) -> None:
    shutil.copy(published_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    published = tmp_path / "published"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        for _ in range(3):
            publish(
                con, published, [DAY], policy=PublishPolicy(keep_versions=1, grace_seconds=3600)
            )
    finally:
        con.close()
    assert [n for n, _ in versions(published)] == [1, 2, 3]  # superseded < 1 h ago: kept
    removed = collect_garbage(published, PublishPolicy(keep_versions=2, grace_seconds=0))
    assert removed == [1]
    assert [n for n, _ in versions(published)] == [2, 3]
    (published / "v000009").mkdir()  # a crashed publish (no manifest) is cleaned up
    collect_garbage(published, PublishPolicy(keep_versions=2, grace_seconds=0))
    assert not (published / "v000009").exists()


def test_failed_publish_keeps_the_previous_version(
    published_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hk_pipeline.warehouse import publish as publish_module

    shutil.copy(published_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    published = tmp_path / "published"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        publish(con, published, [DAY])
        before = (published / CATALOGUE_NAME).read_bytes()

        def boom(*args: object, **kwargs: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(publish_module, "_build_catalogue", boom)
        with pytest.raises(OSError, match="disk full"):
            publish(con, published, [DAY])
    finally:
        con.close()
    assert (published / CATALOGUE_NAME).read_bytes() == before
    assert sorted(p.name for p in published.iterdir() if not p.name.startswith(".")) == [
        CATALOGUE_NAME,
        "v000001",
    ]


def test_catalogue_header_is_readable_by_duckdb_15(published: Path) -> None:
    """The storage version in the file header is one DuckDB 1.5 reads (64-68); a file in
    duckdb 2.0's default format has a higher one and fails here."""
    header = (published / CATALOGUE_NAME).read_bytes()[:20]
    assert header[8:12] == b"DUCK"
    (number,) = struct.unpack("<Q", header[12:20])
    assert number <= DUCKDB_15_HEADER_MAX, number


def _duckdb15_python(cache: Path) -> Path:
    """An interpreter with duckdb 1.5: $HK_PIPELINE_DUCKDB15_PYTHON, or a venv installed once
    into the system temp directory (skips, printing why, when the registry is unreachable)."""
    given = os.environ.get("HK_PIPELINE_DUCKDB15_PYTHON")
    if given:
        return Path(given)
    python = cache / "bin" / "python"
    if not python.exists():
        venv.create(cache, with_pip=True)
        proc = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "duckdb==1.5.*",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            import shutil

            shutil.rmtree(cache, ignore_errors=True)
            reason = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            print(f"SKIP: cannot install duckdb==1.5.*: {reason}", file=sys.stderr)
            pytest.skip(f"cannot install duckdb==1.5.* into a throwaway venv: {reason}")
    return python


def test_catalogue_opens_in_duckdb_15(
    published: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import tempfile

    python = _duckdb15_python(Path(tempfile.gettempdir()) / "hk_pipeline_duckdb15_venv")
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(duckdb.__version__)\n"
        "print(con.execute('SELECT count(*) FROM views.index_moves_history').fetchall()[0][0])\n"
        "print(con.execute(\"SELECT comment FROM duckdb_views() WHERE schema_name = 'raw'\"\n"
        "    \" AND view_name = 'quotes'\").fetchall()[0][0])\n"
    )
    proc = subprocess.run(
        [str(python), "-c", script, str(published / CATALOGUE_NAME)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    version, rows, comment = proc.stdout.strip().splitlines()
    assert version.startswith("1.5.")
    assert int(rows) == 6 and comment.startswith("Snapshot quotes")


def test_manifest_lists_every_file(published: Path) -> None:
    version_dir = published / "v000002"
    manifest = json.loads((version_dir / "manifest.json").read_text())
    listed = {f for files in manifest["tables"].values() for f in files}
    assert listed == set(_files(version_dir))


def _published_rows(version_dir: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Per published Parquet file: its (column, type) pairs and its rows, sorted."""
    con = duckdb.connect()
    try:
        out = {}
        for rel in sorted(_files(version_dir)):
            source = f"read_parquet('{version_dir / rel}')"
            columns = [r[:2] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            out[rel] = (
                columns,
                sorted(con.execute(f"SELECT * FROM {source}").fetchall(), key=repr),
            )
        return out
    finally:
        con.close()


def _warehouse_partitions(
    con: duckdb.DuckDBPyConnection, partitions: list[tuple[date, str]]
) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """What each partition file of ``partitions`` must hold, from the warehouse itself."""
    out = {}
    for table in list_tables(con):
        columns = [c[:2] for c in con.execute(f"DESCRIBE {table}").fetchall()]
        if not {"trade_date", "snapshot"} <= {c for c, _ in columns}:
            continue
        for d, s in partitions:
            rows = con.execute(
                f"SELECT * FROM {table} WHERE trade_date = ? AND snapshot = ?", [d, s]
            ).fetchall()
            if rows:  # a partition without rows has no file
                rel = f"{table.replace('.', '/')}/{d.isoformat()}_{s}.parquet"
                out[rel] = (columns, sorted(rows, key=repr))
    return out


def test_ranged_publish_matches_one_partition_at_a_time(
    published_home: Path, tmp_path: Path
) -> None:
    """Publishing a run's partitions together writes exactly the files, columns and rows of
    publishing them one by one, and each file holds its own partition of the warehouse."""
    shutil.copy(published_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    run = [DAY, (DAY[0], "close")]
    together, one_by_one = tmp_path / "together", tmp_path / "one_by_one"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        for published in (together, one_by_one):  # v1 (everything): the previous version
            publish(con, published, [DAY])
        ranged = publish(con, together, run)  # the incremental path, both partitions at once
        for partition in run:
            single = publish(con, one_by_one, [partition])
        expected = _warehouse_partitions(con, run)
    finally:
        con.close()
    got, want = _published_rows(ranged.directory), _published_rows(single.directory)
    assert len(expected) >= 10 and {f.split("/")[1] for f in expected} >= {"quotes"}
    assert sorted(got) == sorted(want)
    for rel, holds in expected.items():
        assert got.get(rel) == holds, rel
    for rel in want:
        assert got[rel] == want[rel], rel


def test_a_table_whose_columns_changed_is_published_whole(
    published_home: Path, tmp_path: Path
) -> None:
    """Views read a table's files without unioning them by name, so every file of a version
    must have the table's current columns: a changed table is exported whole, not linked."""
    shutil.copy(published_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    published = tmp_path / "published"
    close = (date(2025, 11, 21), "close")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        publish(con, published, [DAY, close])
        con.execute("ALTER TABLE mart.top_turnover ADD COLUMN note VARCHAR DEFAULT 'new'")
        second = publish(con, published, [close])  # the run wrote only the close
    finally:
        con.close()
    manifest = read_manifest(second.directory)
    assert ["note", "VARCHAR"] in manifest["columns"]["mart.top_turnover"]
    files = manifest["tables"]["mart.top_turnover"]
    midday = second.directory / next(f for f in files if "_midday" in f)
    first_midday = published / "v000001" / midday.relative_to(second.directory)
    assert midday.stat().st_ino != first_midday.stat().st_ino  # exported again, not linked
    reader = duckdb.connect(str(published / CATALOGUE_NAME), read_only=True)
    try:
        notes = reader.execute(
            "SELECT snapshot, count(*), min(note) FROM mart.top_turnover GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        reader.close()
    assert notes == [("close", 4, "new"), ("midday", 4, "new")]  # the fake source: 4 shares
    unchanged = manifest["tables"]["raw.quotes"]  # other tables still link
    quotes_midday = next(f for f in unchanged if "_midday" in f)
    assert (second.directory / quotes_midday).stat().st_ino == (
        published / "v000001" / quotes_midday
    ).stat().st_ino
