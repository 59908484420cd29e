"""Hang Seng Indexes constituent feed -> ref.index_constituents rows (HSI, HSCEI, HSTECH).

``www.hsi.com.hk/data/eng/rt/index-series/{hsi,hscei,hstech}/constituents.do`` answers
``indexSeriesList[0].indexList[0]`` with ``constituentsCount`` and ``constituentContent[]``
(``code`` as text without leading zeros, ``constituentName``, ``type``, ``codeA`` ...
``codeT``, ``contributionChange``, ``industry``, ``industryCode``). Other projects' readers of
the live feed show the HSI's members nested one level down instead, in
``subIndexList[].constituentContent`` (its four sub-indexes): the top-level list is read when
it has members, else the sub-lists (both at once would count members twice). It is the
membership *now*: no history.

No weights: the feed publishes neither issued shares as the index counts them, nor free-float
nor cap factors. So ``faf`` and ``cap_factor`` are NULL (NaN) here, and ``issued_shares`` comes
from the securities master's maintained reference (nullable ``Int64``, NULL where unknown).
**Attribution from this source uses the feed's own point contributions**: ``contributionChange``
(index points the member added to the day's move so far) is returned as a separate
``contributions`` frame (index_code, symbol, name, industry, contribution_points, trade_date,
source) instead of being derived from weights this source does not have.

Placeholders in ``contributionChange`` are NULL; a member without a code (a placeholder) is
passed on with a NULL symbol for validation to quarantine (and, a member being critical, to
refuse). Refused: ``code`` missing from every member (a renamed field), a member count other
than the feed's own ``constituentsCount``, an empty list, duplicate members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from hk_pipeline.sources.base import (
    SourceError,
    describe_url,
    is_placeholder,
    parse_number,
    require_fields,
)
from hk_pipeline.sources.hkex_securities import share_code
from hk_pipeline.sources.http import HttpClient
from hk_pipeline.tables import source_columns

PROVIDER = "hsi_constituents"
SOURCE = f"live:{PROVIDER}"
HOST = "www.hsi.com.hk"
URL = f"https://{HOST}/data/eng/rt/index-series/{{series}}/constituents.do"
SERIES = {"HSI": "hsi", "HSCEI": "hscei", "HSTECH": "hstech"}
MEMBER_FIELDS = ("code", "constituentName", "contributionChange")


@dataclass(frozen=True)
class Constituents:
    """Members in the ref.index_constituents shape, and the feed's point contributions."""

    members: pd.DataFrame
    contributions: pd.DataFrame


def _points(value: Any) -> float | str | None:
    """Index points as a float, None for a placeholder, else the text (validation rejects)."""
    return parse_number(value)


def _symbol(value: Any) -> str | None:
    if is_placeholder(value):
        return None
    try:
        return share_code(value)
    except (TypeError, ValueError):
        return str(value)  # not a code: validation quarantines the row naming it


def feed_url(index_code: str) -> str:
    return describe_url(URL.format(series=SERIES[index_code]))


def parse(payload: Any, index_code: str) -> tuple[int | None, list[dict[str, Any]]]:
    """(the feed's declared member count, the member records) of one series' answer."""
    where = feed_url(index_code)
    try:
        index = payload["indexSeriesList"][0]["indexList"][0]
    except (KeyError, IndexError, TypeError) as exc:
        raise SourceError(
            f"{PROVIDER}: {where} has no indexSeriesList[0].indexList[0]; the format changed,"
            " refused"
        ) from exc
    members = list(index.get("constituentContent") or [])
    if not members:  # the HSI's members may sit in its sub-indexes instead
        for sub in index.get("subIndexList") or []:
            members.extend(sub.get("constituentContent") or [])
    declared = parse_number(index.get("constituentsCount"))
    if isinstance(declared, str):
        raise SourceError(f"{PROVIDER}: {where}: constituentsCount {declared!r} is not a count")
    if members:
        require_fields(PROVIDER, where, members, MEMBER_FIELDS, "member")
    return (int(declared) if declared is not None else None), members


def to_frames(
    index_code: str,
    declared: int | None,
    members: list[dict[str, Any]],
    trade_date: date,
    issued_shares: Mapping[str, int],
    source: str = SOURCE,
) -> Constituents:
    """Checked, canonical frames of one index."""
    where = feed_url(index_code)
    if not members:
        raise SourceError(f"{PROVIDER}: {where} returned no members for {index_code}; refused")
    if declared is not None and declared != len(members):
        raise SourceError(
            f"{PROVIDER}: {where} lists {len(members)} {index_code} members but says"
            f" constituentsCount={declared}: incomplete, refused"
        )
    symbols = [_symbol(m.get("code")) for m in members]
    dupes = sorted({s for s in symbols if s is not None and symbols.count(s) > 1})
    if dupes:
        raise SourceError(f"{PROVIDER}: {where} lists {index_code} members {dupes} twice")
    member_frame = pd.DataFrame(
        {
            "index_code": index_code,
            "symbol": symbols,
            "issued_shares": pd.array(
                [issued_shares.get(s) if s else None for s in symbols], dtype="Int64"
            ),
            "faf": float("nan"),  # not published by the feed
            "cap_factor": float("nan"),
            "valid_from": trade_date,
            "valid_to": None,
            "source": source,
        },
        columns=source_columns("ref.index_constituents"),
    )
    # The feed's own frame, not a table's: the day's contributions (no snapshot), with the
    # names and industries the feed prints; the raw asset takes raw.index_contributions from it.
    contributions = pd.DataFrame(
        {
            "index_code": index_code,
            "symbol": symbols,
            "name": [" ".join(str(m.get("constituentName") or "").split()) for m in members],
            "industry": [m.get("industry") or None for m in members],
            "contribution_points": [_points(m.get("contributionChange")) for m in members],
            "trade_date": trade_date,
            "source": source,
        }
    )
    points = contributions["contribution_points"]
    if not any(isinstance(v, str) for v in points):  # else object: validation names the text
        contributions["contribution_points"] = points.astype("float64")
    return Constituents(member_frame, contributions)


class HsiConstituents:
    """The Hang Seng Indexes feed: today's members of HSI, HSCEI and HSTECH."""

    provider = PROVIDER

    def __init__(self, client: HttpClient, issued_shares: Mapping[str, int] | None = None) -> None:
        self.client = client
        self.issued_shares = issued_shares or {}

    def fetch(self, trade_date: date) -> Constituents:
        members, contributions = [], []
        for index_code, series in SERIES.items():
            payload = self.client.get_json(URL.format(series=series))
            declared, records = parse(payload, index_code)
            frames = to_frames(index_code, declared, records, trade_date, self.issued_shares)
            members.append(frames.members)
            contributions.append(frames.contributions)
        return Constituents(
            pd.concat(members, ignore_index=True), pd.concat(contributions, ignore_index=True)
        )
