"""``hk-pipeline sql`` output people can read: tables round numbers and show Hong Kong time,
CSV and JSON keep every digit and the offset, the shell's dot commands answer at once."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hk_pipeline import cli

pytestmark = pytest.mark.fast

LOADED_AT = datetime(2025, 11, 21, 4, 5, 6, 789012, tzinfo=UTC)  # 12:05:06 in Hong Kong


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (-615.5499999999993, "-615.55"),  # the float error of a difference is gone
        (-96.16999999999825, "-96.17"),
        (25734.99, "25734.99"),
        (123456789.123, "123456789.12"),  # amounts from 1,000 up: 2 decimals
        (95.5, "95.5"),  # trailing zeros dropped
        (-0.37230228917322084, "-0.372302"),  # below 1: 6 significant digits
        (0.0014353190458393783, "0.00143532"),
        (2.0, "2"),
        (0.0, "0"),
        (-0.00000000001, "-0.00000000001"),
        (float("nan"), "nan"),
        (Decimal("12.3456789"), "12.3457"),
        (7, "7"),
        (True, "True"),
        (None, "NULL"),
        (date(2025, 11, 21), "2025-11-21"),
        (LOADED_AT, "2025-11-21 12:05:06+08:00"),  # the lake keeps UTC: shown in Hong Kong
        ("00700", "00700"),
    ],
)
def test_table_cells_are_rounded_and_in_hong_kong_time(value: object, shown: str) -> None:
    assert cli.table_cell(value) == shown


def test_exported_values_keep_every_digit_and_the_offset() -> None:
    assert cli.exported_value(-615.5499999999993) == -615.5499999999993
    assert cli.exported_value(LOADED_AT) == "2025-11-21T12:05:06.789012+08:00"
    assert datetime.fromisoformat(cli.exported_value(LOADED_AT)) == LOADED_AT  # same instant
    assert cli.exported_value(Decimal("12.3456789")) == "12.3456789"


RESULT = (
    ["index_code", "change_points", "loaded_at"],
    [("HSI", -615.5499999999993, LOADED_AT), ("HSCEI", None, LOADED_AT)],
)


def test_the_three_formats(capsys: pytest.CaptureFixture[str]) -> None:
    cli._print_result(RESULT, "table", 1000)
    table = capsys.readouterr().out
    assert "-615.55" in table and "-615.5499" not in table
    assert "2025-11-21 12:05:06+08:00" in table and "NULL" in table and "2 row(s)" in table

    cli._print_result(RESULT, "csv", 1000)
    assert capsys.readouterr().out.splitlines() == [
        "index_code,change_points,loaded_at",
        "HSI,-615.5499999999993,2025-11-21T12:05:06.789012+08:00",
        "HSCEI,,2025-11-21T12:05:06.789012+08:00",
    ]

    cli._print_result(RESULT, "json", 1000)
    assert json.loads(capsys.readouterr().out) == [
        {
            "index_code": "HSI",
            "change_points": -615.5499999999993,
            "loaded_at": "2025-11-21T12:05:06.789012+08:00",
        },
        {
            "index_code": "HSCEI",
            "change_points": None,
            "loaded_at": "2025-11-21T12:05:06.789012+08:00",
        },
    ]


def test_shell_dot_commands_answer_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``.help`` without a ';' is answered before the next line is read; an unknown dot
    command is refused at once and leaves no statement pending."""
    answered_before: list[tuple[str, str]] = []
    lines = iter([".help", ".read script.sql", ".quit"])

    def typed(_prompt: str = "") -> str:
        answered_before.append(capsys.readouterr())
        return next(lines)

    monkeypatch.setattr("builtins.input", typed)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no banner, no readline
    assert cli._shell(None, "table", 1000, None) == 0
    help_text, _ = answered_before[1]  # what was printed before the second line was read
    assert help_text.startswith("Statements end with ';'")
    assert ".tables" in help_text and ".quit" in help_text
    _, refused = answered_before[2]
    assert refused.splitlines() == ["error: .read is not a command of this shell; .help lists them"]
