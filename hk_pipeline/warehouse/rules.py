"""The shared rules of ``sql/rules``: DuckDB macros stored in the lake's ``rules`` schema.

A rule used by several marts and views (which version of a reference row is in force on a
date; which state a share is in at a snapshot) is written once, as a macro. DuckLake stores
macros in its catalog, so a view calling one works in an analyst's plain DuckDB client,
under whatever name the lake is attached. The lake's set-up creates them (before the mart
tables and views that call them); ``ensure_rules`` also creates them on a database that
has not been set up that way (an in-memory warehouse made with ``apply_ddl``).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path
from weakref import WeakSet

import duckdb

from hk_pipeline.paths import RULES_DIR

RULES_SCHEMA = "rules"
# Connections whose database was seen holding every rule: checked once per connection (a
# run computes many partitions on one). Weak: an entry goes with its connection.
_READY: WeakSet[duckdb.DuckDBPyConnection] = WeakSet()


def rule_files(rules_dir: Path = RULES_DIR) -> list[Path]:
    """``sql/rules/rules.<name>.sql``, sorted."""
    return sorted(rules_dir.glob(f"{RULES_SCHEMA}.*.sql"))


def rule_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().rstrip(";")


@lru_cache(maxsize=1)
def rule_names() -> tuple[str, ...]:
    """The macro names, ``in_force`` for ``sql/rules/rules.in_force.sql``."""
    return tuple(p.stem.removeprefix(f"{RULES_SCHEMA}.") for p in rule_files())


def create_rules(con: duckdb.DuckDBPyConnection) -> None:
    """CREATE OR REPLACE every macro of ``sql/rules`` in the current database."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RULES_SCHEMA}")
    for path in rule_files():
        try:
            con.execute(rule_sql(path))
        except duckdb.Error as exc:
            raise RuntimeError(f"creating rule {path.stem} from {path} failed: {exc}") from exc


def ensure_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Create the macros if the current database lacks any of them (one catalogue query the
    first time per connection; none after)."""
    if _is_ready(con):
        return
    rows = con.execute(
        """
        SELECT DISTINCT function_name FROM duckdb_functions()
        WHERE database_name = current_database() AND schema_name = ?
        """,
        [RULES_SCHEMA],
    ).fetchall()
    if set(rule_names()) - {r[0] for r in rows}:
        # not remembered as ready: a transaction rolled back would take the macros with it
        create_rules(con)
        return
    with contextlib.suppress(TypeError):  # an object without weak references: check each time
        _READY.add(con)


def _is_ready(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        return con in _READY
    except TypeError:
        return False
