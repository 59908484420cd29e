"""Shared helpers of the live-provider tests: no network, recorded transports, fixtures."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from hk_pipeline.sources.http import HttpClient, RetryPolicy
from hk_pipeline.tables import table_columns

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "live"
DAY = date(2025, 11, 21)  # a Friday, the recap day

Handler = Callable[[httpx.Request], httpx.Response]


class NetworkInTest(AssertionError):
    """Raised when code under test tries to open a real connection."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real socket or real httpx transport in these tests is a failure."""

    def refuse(*_a: object, **_k: object) -> None:
        raise NetworkInTest("a live-provider test tried to use the real network")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Recorder:
    """An httpx.MockTransport that keeps every request it answers."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def params(self, i: int = 0) -> dict[str, str]:
        return dict(self.requests[i].url.params)


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(
    provider: str,
    handler: Handler,
    *,
    policy: RetryPolicy | None = None,
    clock: FakeClock | None = None,
) -> tuple[HttpClient, Recorder, FakeClock]:
    """An HttpClient on a recording MockTransport and a fake clock (nothing really sleeps)."""
    rec = Recorder(handler)
    clock = clock or FakeClock()
    client = HttpClient(
        provider,
        transport=rec.transport,
        sleep=clock.sleep,
        clock=clock,
        policy=policy or RetryPolicy(max_attempts=4, budget_seconds=60),
    )
    return client, rec, clock


def json_response(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload)


def build_list_of_securities(as_at: str = "21/11/2025", drop: str | None = None) -> bytes:
    """A ListOfSecurities.xlsx shaped like HKEX's real file (see fixtures/live/SOURCES.md):
    sheet ``ListOfSecurities``; title, 'Updated as at', header rows; numeric stock codes;
    board lots as numbers or as text with thousands separators; ``Y``/blank flag columns; the
    Spread Table header spread over four lines."""
    from openpyxl import Workbook

    header = [
        "Stock Code",
        "Name of Securities",
        "Category",
        "Sub-Category",
        "Board Lot",
        "Par Value",
        "ISIN",
        "Expiry Date",
        "Subject to Stamp Duty",
        "Shortsell Eligible",
        "CAS Eligible",
        "VCM Eligible",
        "Admitted to Stock Options",
        "Admitted to Stock Futures",
        "Admitted to CCASS",
        "ETF / Fund Manager",
        "Debt Securities Board Lot (Nominal)",
        "Debt Securities Investor Type",
        "POS Eligible",
        "Spread Table\n1, 4 = Part A\n3 = Part B\n5 = Part D",
        "Trading Currency",
    ]
    rows = [
        (1, "CKH HOLDINGS", "Equity", "Equity Securities (Main Board)", 500, "HKD 1.00"),
        (5, "HSBC HOLDINGS", "Equity", "Equity Securities (Main Board)", 400, "USD 0.50"),
        (700, "TENCENT", "Equity", "Equity Securities (Main Board)", 100, "HKD 0.00002"),
        (2800, "TRACKER FUND", "Exchange Traded Products", "Exchange Traded Funds", 500, ""),
        (823, "LINK REIT", "Real Estate Investment Trusts", "", 100, ""),
        (8001, "ORIENT SEC INTL", "Equity", "Equity Securities (GEM)", "10,000", "HKD 0.01"),
        (12345, "HSBC@EC2604A", "Derivative Warrants", "", "10,000", ""),
        (80700, "TENCENT-R", "Equity", "Equity Securities (Main Board)", 100, "HKD 0.00002"),
    ]
    currencies = {80700: "RMB"}
    book = Workbook()
    sheet = book.active
    sheet.title = "ListOfSecurities"
    sheet.append(["List of Securities"])
    sheet.append([f"Updated as at {as_at}"])
    sheet.append([h for h in header if h != drop])
    for code, name, category, sub, lot, par in rows:
        record = dict.fromkeys(header, " ")  # blank flags are a space in the real file
        record.update(
            {
                "Stock Code": code,
                "Name of Securities": name,
                "Category": category,
                "Sub-Category": sub,
                "Board Lot": lot,
                "Par Value": par,
                "ISIN": f"HK{code:05d}0000X",
                "Subject to Stamp Duty": "Y",
                "Admitted to CCASS": "Y",
                header[-2]: 1,
                "Trading Currency": currencies.get(code, "HKD"),
            }
        )
        sheet.append([record[h] for h in header if h != drop])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ddl_columns(table: str) -> list[str]:
    """The table's columns from sql/ddl, minus run_id and loaded_at (what a source returns)."""
    names = [c.name for c in table_columns(table)]
    return [n for n in names if n not in ("run_id", "loaded_at")]
