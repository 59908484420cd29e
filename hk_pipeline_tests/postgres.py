"""A fresh PostgreSQL database for a test, on the server at 127.0.0.1:5432, dropped afterwards.

The server is the developer's or CI's own (trust authentication, user ``postgres``). Without a
reachable server the test is skipped, except under CI (``CI`` set, as ``.ci/run`` does), where
it fails: CI must run the PostgreSQL tests, not quietly skip them.

Use the ``pg_database`` fixture (hk_pipeline_tests/conftest.py), or :func:`fresh_database`
directly for another scope.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import NoReturn

import psycopg2
import pytest
from psycopg2 import sql

HOST = "127.0.0.1"
PORT = 5432
USER = "postgres"
CONNECT_TIMEOUT_S = 3


@dataclass(frozen=True)
class PgDatabase:
    """Where a test database is; it has no password (the server trusts local connections)."""

    host: str
    port: int
    user: str
    dbname: str

    @property
    def params(self) -> dict[str, str | int]:
        """Keyword arguments for ``psycopg2.connect``."""
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": self.dbname}

    @property
    def dsn(self) -> str:
        """A libpq connection string, e.g. ``host=127.0.0.1 port=5432 user=postgres dbname=...``."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"

    @property
    def url(self) -> str:
        """A URL, e.g. ``postgresql://postgres@127.0.0.1:5432/...`` (what SQLAlchemy takes)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def connect(self) -> psycopg2.extensions.connection:
        """A new psycopg2 connection to the database; close it (``contextlib.closing``)."""
        return psycopg2.connect(**self.params, connect_timeout=CONNECT_TIMEOUT_S)


def _under_ci() -> bool:
    """``CI`` set to anything but empty, 0, false or no (CI services set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    message = f"no PostgreSQL server on {HOST}:{PORT}: {reason}"
    if _under_ci():
        pytest.fail(f"{message} (CI is set: the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(message)


def _admin_connection() -> psycopg2.extensions.connection:
    try:
        conn = psycopg2.connect(
            host=HOST, port=PORT, user=USER, dbname="postgres", connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg2.OperationalError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        _unavailable(first_line)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    return conn


@contextmanager
def fresh_database(prefix: str = "hk_test") -> Iterator[PgDatabase]:
    """Create an empty database with a unique name (``<prefix>_<8 hex>``), yield it, drop it.

    The drop uses ``WITH (FORCE)`` (PostgreSQL 13+): connections the code under test left open,
    such as a connection pool, would otherwise block it.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with closing(_admin_connection()) as admin:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield PgDatabase(host=HOST, port=PORT, user=USER, dbname=name)
        finally:
            with admin.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
