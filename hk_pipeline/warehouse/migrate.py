"""``hk-pipeline migrate``: copy an earlier version's ``warehouse.duckdb`` into the lake.

The old file is attached read-only and never changed. Every ref, raw, quarantine and mart
table is copied by column name in one lake transaction, and the row counts of each table (per
partition where it has one) are compared before the commit: the lake ends with all of it or
none of it. The lake's tables must be empty (a migration into a lake that already holds runs
would mix two histories); re-running after a failure is safe for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from hk_pipeline.config import Settings
from hk_pipeline.faults import fault_point
from hk_pipeline.warehouse.catalog import WAREHOUSE_SCHEMAS
from hk_pipeline.warehouse.connection import connect
from hk_pipeline.warehouse.tx import write_transaction

OLD = "old_warehouse"


class MigrateError(RuntimeError):
    """The old file cannot be read, the lake is not empty, or the counts disagree."""


@dataclass
class MigrateResult:
    source: Path
    rows: dict[str, int] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"migrated {self.source} into the lake (the file is left as it was):"]
        for table, n in sorted(self.rows.items()):
            parts = self.partitions.get(table)
            where = f" in {parts} partition(s)" if parts is not None else ""
            out.append(f"  {table}: {n} row(s){where}, counts checked")
        for table, why in sorted(self.skipped.items()):
            out.append(f"  {table}: skipped ({why})")
        return out


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[str]]:
    placeholders = ", ".join("?" for _ in WAREHOUSE_SCHEMAS)
    rows = con.execute(
        f"""
        SELECT schema_name || '.' || table_name, list(column_name ORDER BY column_index)
        FROM duckdb_columns()
        WHERE database_name = ? AND schema_name IN ({placeholders})
        GROUP BY ALL ORDER BY 1
        """,
        [database, *WAREHOUSE_SCHEMAS],
    ).fetchall()
    return {name: list(cols) for name, cols in rows}


def _attach_old(con: duckdb.DuckDBPyConnection, source: Path) -> None:
    if not source.is_file():
        raise MigrateError(f"{source} does not exist or is not a file: nothing to migrate")
    try:
        con.execute(f"ATTACH '{str(source).replace(chr(39), chr(39) * 2)}' AS {OLD} (READ_ONLY)")
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0]
        hint = ""
        if "version" in message.lower():
            hint = (
                "; it was written by a newer DuckDB: with that DuckDB, run"
                " ATTACH 'copy.duckdb' AS c (STORAGE_VERSION 'v1.4.0'); COPY FROM DATABASE"
                " <old> TO c; then `hk-pipeline migrate --from copy.duckdb`"
            )
        raise MigrateError(f"cannot read {source}: {message}{hint}") from None


def _counts(con: duckdb.DuckDBPyConnection, table: str, partitioned: bool) -> dict[object, int]:
    if partitioned:
        rows = con.execute(
            f"SELECT trade_date::VARCHAR || '|' || snapshot, count(*) FROM {table} GROUP BY 1"
        ).fetchall()
        return dict(rows)
    return {"*": con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]}


def migrate(source: Path, settings: Settings) -> MigrateResult:
    """Copy ``source`` into the lake of ``settings`` (see the module doc)."""
    source = Path(source).resolve()
    result = MigrateResult(source=source)
    con = connect(settings)
    try:
        _attach_old(con, source)
        old_tables = _tables(con, OLD)
        lake_tables = _tables(con, con.execute("SELECT current_database()").fetchall()[0][0])
        if not old_tables:
            raise MigrateError(f"{source} holds no ref, raw, quarantine or mart table")
        busy = [
            t
            for t in old_tables
            if t in lake_tables and con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        ]
        if busy:
            raise MigrateError(
                f"the lake already holds rows in {', '.join(busy)}: migrate into a new lake"
                " (another HK_PIPELINE_HOME, or another HK_PIPELINE_CATALOG and data path)"
            )

        def body(c: duckdb.DuckDBPyConnection) -> None:
            for table, columns in old_tables.items():
                target = lake_tables.get(table)
                if target is None:
                    result.skipped[table] = "no such table in this version"
                    continue
                common = [col for col in columns if col in target]
                cols = ", ".join(_q(col) for col in common)
                schema, name = table.split(".")
                c.execute(f"INSERT INTO {table} BY NAME SELECT {cols} FROM {OLD}.{schema}.{name}")
                fault_point("migrate.table_copied")
                partitioned = "trade_date" in common and "snapshot" in common
                before = _counts(c, f"{OLD}.{schema}.{name}", partitioned)
                after = _counts(c, table, partitioned)
                if before != after:
                    keys = before.keys() | after.keys()
                    diff = sorted(str(k) for k in keys if before.get(k) != after.get(k))
                    raise MigrateError(
                        f"{table}: row counts differ after the copy ({', '.join(diff[:5])});"
                        " nothing was migrated"
                    )
                result.rows[table] = sum(after.values())
                if partitioned:
                    result.partitions[table] = len(after)
            fault_point("migrate.before_commit")

        write_transaction(con, body, what=f"the migration of {source}")
    finally:
        con.close()
    return result
