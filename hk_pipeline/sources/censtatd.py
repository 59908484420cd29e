"""Census and Statistics Department API: unemployment rate (seasonally adjusted) ->
raw.macro_series ``unemployment_rate_sa``.

``www.censtatd.gov.hk/api/get.php?id=210-06101&lang=en&full_series=1`` answers
``header.status.code`` (0 = ok) and ``dataSet[]``; the rows wanted are ``sv`` = ``SAUR``
(seasonally adjusted unemployment rate), ``freq`` = ``M3M`` (moving three months) and ``SEX`` =
"" (both sexes), keyed by ``period`` (YYYYMM, the last month of the three), value ``figure``
(percent). Fields by name (each dimension also comes with a ``...Desc`` text, and
``sd_value``, neither read). A placeholder figure after the newest published one is a period
not published yet and is skipped; one before it is a gap: the row is kept with a NULL value,
so validation quarantines it with the reason. A needed field missing from every row refuses
the load naming it and the URL, as does a table with no seasonally adjusted figure at all.

The API carries no release date. C&SD releases the labour force figures on a Tuesday around
the 17th-20th of the next month at 16:30, so ``released_on`` is *estimated* as the first
Tuesday on or after the 17th (2025-10 -> 2025-11-18, the real date), capped at the fetch day;
``released_at`` is NULL because the time is not confirmed by the source.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from hk_pipeline.sources.base import (
    SourceError,
    describe_url,
    parse_number,
    require_fields,
)
from hk_pipeline.sources.http import ClientProvider
from hk_pipeline.sources.pmi import MacroSeries, known_by, readings_frame

PROVIDER = "censtatd"
SOURCE = f"live:{PROVIDER}"
HOST = "www.censtatd.gov.hk"
URL = f"https://{HOST}/api/get.php"
TABLE_ID = "210-06101"
PARAMS = {"id": TABLE_ID, "lang": "en", "full_series": 1}
SERIES_ID = "unemployment_rate_sa"
UNIT = "percent"
SERIES = MacroSeries(SERIES_ID, UNIT, SOURCE)
SV, FREQ = "SAUR", "M3M"
FIELDS = ("period", "freq", "sv", "SEX", "figure")


def estimated_release(period: str, fetched_on: date) -> date:
    """First Tuesday on or after the 17th of the month after period, capped at fetched_on."""
    year, month = (int(p) for p in period.split("-"))
    day = date(year + month // 12, month % 12 + 1, 17)
    day += timedelta(days=(1 - day.weekday()) % 7)
    return min(day, fetched_on)


def table_url() -> str:
    return describe_url(URL, PARAMS)


def readings(payload: Any) -> list[dict[str, Any]]:
    where = table_url()
    status = (
        (((payload or {}).get("header") or {}).get("status") or {})
        if isinstance(payload, dict)
        else {}
    )
    if status.get("code") != 0:
        raise SourceError(
            f"{PROVIDER}: {where} (table {TABLE_ID}) answered status {status!r}; expected code 0"
        )
    data = payload.get("dataSet")
    if not data or not isinstance(data, list):
        raise SourceError(f"{PROVIDER}: {where} (table {TABLE_ID}) has no dataSet; refused")
    require_fields(PROVIDER, where, data, FIELDS, "row")
    return [
        r
        for r in data
        if isinstance(r, dict)
        and r.get("sv") == SV
        and r.get("freq") == FREQ
        and (r.get("SEX") or "") == ""
    ]


def to_rows(records: list[dict[str, Any]], fetched_on: date) -> pd.DataFrame:
    where = table_url()
    parsed: list[tuple[str, float | str | None]] = []
    for rec in records:
        raw = str(rec.get("period") or "")
        if len(raw) != 6 or not raw.isdigit():
            raise SourceError(f"{PROVIDER}: {where}: period {raw!r} is not YYYYMM")
        period = f"{raw[:4]}-{raw[4:]}"
        parsed.append((period, parse_number(rec.get("figure"))))
    released_on = {period: estimated_release(period, fetched_on) for period, _ in parsed}
    refusal = (
        f"{PROVIDER}: {where} (table {TABLE_ID}) has no {SV}/{FREQ} figures: no usable"
        " rows, refused"
    )
    return readings_frame(
        parsed, SERIES, released_on, refusal, lists=f"{PROVIDER}: {where} lists {SV}"
    )


class Censtatd(ClientProvider):
    """C&SD: seasonally adjusted unemployment rate, 3-month periods labelled by their end."""

    provider = PROVIDER

    def macro_series(self, as_of: datetime, fetched_on: date) -> pd.DataFrame:
        payload = self.client.get_json(URL, params=PARAMS)
        return known_by(to_rows(readings(payload), fetched_on), as_of)
