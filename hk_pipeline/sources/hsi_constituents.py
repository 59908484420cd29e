"""Hang Seng Indexes constituent feed -> ref.index_constituents rows (HSI, HSCEI, HSTECH).

``www.hsi.com.hk/data/eng/rt/index-series/{hsi,hscei,hstech}/constituents.do`` answers
``indexSeriesList[0].indexList[0]`` with ``constituentsCount`` and ``constituentContent[]``
(``code``, ``constituentName``, ``industry``, ``contributionChange``); some series nest the
members one level down in ``subIndexList[].constituentContent``, which is read too. It is the
membership *now*: no history.

No weights: the feed publishes neither issued shares as the index counts them, nor free-float
nor cap factors. So ``faf`` and ``cap_factor`` are NULL (NaN) here, and ``issued_shares`` comes
from the securities master's maintained reference (nullable ``Int64``, NULL where unknown).
**Attribution from this source uses the feed's own point contributions**: ``contributionChange``
(index points the member added to the day's move so far) is returned as a separate
``contributions`` frame (index_code, symbol, name, industry, contribution_points, trade_date,
source) instead of being derived from weights this source does not have.

Refused: a member count other than the feed's own ``constituentsCount``, an empty list,
duplicate members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.hkex_securities import share_code
from hk_pipeline.sources.http import HttpClient

PROVIDER = "hsi_constituents"
SOURCE = f"live:{PROVIDER}"
HOST = "www.hsi.com.hk"
URL = f"https://{HOST}/data/eng/rt/index-series/{{series}}/constituents.do"
SERIES = {"HSI": "hsi", "HSCEI": "hscei", "HSTECH": "hstech"}
PLACEHOLDER = "-"
MEMBER_COLUMNS = [
    "index_code",
    "symbol",
    "issued_shares",
    "faf",
    "cap_factor",
    "valid_from",
    "valid_to",
    "source",
]
CONTRIBUTION_COLUMNS = [
    "index_code",
    "symbol",
    "name",
    "industry",
    "contribution_points",
    "trade_date",
    "source",
]


@dataclass(frozen=True)
class Constituents:
    """Members in the ref.index_constituents shape, and the feed's point contributions."""

    members: pd.DataFrame
    contributions: pd.DataFrame


def _points(value: Any, where: str) -> float | None:
    if value is None or value == PLACEHOLDER or value == "":
        return None
    try:
        return float(str(value).replace(",", ""))
    except ValueError as exc:
        raise SourceError(
            f"{PROVIDER}: {where}: contributionChange {value!r} not a number"
        ) from exc


def parse(payload: Any, index_code: str) -> tuple[int | None, list[dict[str, Any]]]:
    """(the feed's declared member count, the member records) of one series' answer."""
    where = f"{HOST} {SERIES[index_code]}/constituents.do"
    try:
        index = payload["indexSeriesList"][0]["indexList"][0]
    except (KeyError, IndexError, TypeError) as exc:
        raise SourceError(
            f"{PROVIDER}: {where} has no indexSeriesList[0].indexList[0]; the format changed"
        ) from exc
    members = list(index.get("constituentContent") or [])
    for sub in index.get("subIndexList") or []:
        members.extend(sub.get("constituentContent") or [])
    declared = index.get("constituentsCount")
    return (int(declared) if declared not in (None, "") else None), members


def to_frames(
    index_code: str,
    declared: int | None,
    members: list[dict[str, Any]],
    trade_date: date,
    issued_shares: Mapping[str, int],
    source: str = SOURCE,
) -> Constituents:
    """Checked, canonical frames of one index."""
    where = f"{HOST} {SERIES[index_code]}/constituents.do"
    if not members:
        raise SourceError(f"{PROVIDER}: {where} returned no members for {index_code}; refused")
    if declared is not None and declared != len(members):
        raise SourceError(
            f"{PROVIDER}: {where} lists {len(members)} {index_code} members but says"
            f" constituentsCount={declared}: incomplete, refused"
        )
    symbols = [share_code(m.get("code")) for m in members]
    dupes = sorted({s for s in symbols if symbols.count(s) > 1})
    if dupes:
        raise SourceError(f"{PROVIDER}: {where} lists {index_code} members {dupes} twice")
    member_frame = pd.DataFrame(
        {
            "index_code": index_code,
            "symbol": symbols,
            "issued_shares": pd.array([issued_shares.get(s) for s in symbols], dtype="Int64"),
            "faf": float("nan"),  # not published by the feed
            "cap_factor": float("nan"),
            "valid_from": trade_date,
            "valid_to": None,
            "source": source,
        },
        columns=MEMBER_COLUMNS,
    )
    contributions = pd.DataFrame(
        {
            "index_code": index_code,
            "symbol": symbols,
            "name": [" ".join(str(m.get("constituentName") or "").split()) for m in members],
            "industry": [m.get("industry") or None for m in members],
            "contribution_points": [
                _points(m.get("contributionChange"), f"{where} {s}")
                for m, s in zip(members, symbols, strict=True)
            ],
            "trade_date": trade_date,
            "source": source,
        },
        columns=CONTRIBUTION_COLUMNS,
    )
    contributions["contribution_points"] = contributions["contribution_points"].astype("float64")
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
