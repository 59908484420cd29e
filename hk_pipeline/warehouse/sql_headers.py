"""The header comment of a SQL file under ``sql/``: its first line describes the table, mart
or view, its ``columns:`` block the columns.

Read by the marts' runner and the views (``COMMENT ON`` at set-up) and, through the lake's
catalog, by ``catalogue_doc``. No Dagster, no database.
"""

from __future__ import annotations

import re

_NAMES = r"[a-z_][a-z0-9_]*(?:,\s*[a-z_][a-z0-9_]*)*"
_ENTRY = re.compile(rf"^({_NAMES})\s+(\S.*)$")
# "turnover of advancers, HKD;  down_turnover  of decliners": a second entry on the line
_SPLIT = re.compile(r";\s{2,}(?=[a-z_][a-z0-9_]*\s{2,})")

STANDARD_COLUMNS = {
    "trade_date": "HKEX trading day (Asia/Hong_Kong) of the partition.",
    "snapshot": "Snapshot of the trading day: midday (as of 12:00 HKT) or close (after the"
    " closing auction, 16:10 HKT; 12:10 on a half day).",
    "run_id": "The Dagster run that wrote the row.",
    "loaded_at": "When the row was written to the warehouse.",
}
"""Descriptions of the partition and lineage columns every mart shares; they replace a
header's terse "the partition"."""


def header_lines(sql: str) -> list[str]:
    """The leading ``--`` comment block of a SQL file, without the ``--``."""
    out = []
    for line in sql.strip().splitlines():
        if not line.startswith("--"):
            break
        out.append(line[2:])
    return out


def header_description(sql: str, name: str) -> str:
    """First header line without its ``<name>:`` prefix (``-- mart.x: what it is``)."""
    lines = header_lines(sql)
    if not lines:
        raise ValueError(f"{name}: the SQL has no header comment (first line: '-- {name}: ...')")
    return lines[0].strip().removeprefix(f"{name}:").strip()


def header_column_docs(sql: str) -> dict[str, str]:
    """Column descriptions from the header's ``columns:`` block.

    Entries are ``name[, name...]  description``; a more deeply indented line continues the
    previous entry; ``;  name  description`` starts another entry on the same line.
    """
    lines = header_lines(sql)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "columns:") + 1
    except StopIteration:
        return {}
    entries: list[list[str]] = []  # [names, description]
    base: int | None = None
    for line in lines[start:]:
        text = line.rstrip()
        if not text.strip():
            break
        indent = len(text) - len(text.lstrip())
        if base is None:
            base = indent
        if indent > base and entries:
            entries[-1][1] += " " + text.strip()
            continue
        for part in _SPLIT.split(text.strip()):
            m = _ENTRY.match(part.strip())
            if m:
                entries.append([m.group(1), m.group(2).strip()])
            elif entries:
                entries[-1][1] += " " + part.strip()
    docs: dict[str, str] = {}
    for names, description in entries:
        for col in (n.strip() for n in names.split(",")):
            docs[col] = description
    return docs
