"""HKMA open API: foreign currency reserve assets -> raw.macro_series ``fx_reserves``.

``api.hkma.gov.hk/public/market-data-and-statistics/monthly-statistical-bulletin/
ef-fc-resv-assets/fc-resv-assests`` (the misspelling is HKMA's). Paged with ``offset`` and
``pagesize``; ``result.datasize`` is the number of records in *this* page, so paging stops at
the first short page, and a page whose ``records`` disagree with its own ``datasize`` is
refused. Fields by name: ``end_of_month`` (YYYY-MM) and ``fc_resv_assets_total`` (US$ million;
the record also carries the ``_ef``/``_lf`` split and the ``unsettle_fx_contracts_*`` and
``fc_assets_fx_contracts_*`` series, which are not read).

Never an empty or partial series reported as success: ``end_of_month`` or
``fc_resv_assets_total`` absent from every record refuses the load naming the field and URL
(the fault that once returned an empty series as success), as does an answer without one
usable figure. A placeholder value after the newest figure is a month not yet published and is
skipped; one before it is a gap in a published series: the row is kept with a NULL value, so
validation quarantines it with the reason.

The API carries no release date. HKMA announces a month's figure in the first week of the next
month, so ``released_on`` is *estimated* as the first weekday on or after the 7th of the next
month (late rather than early, so a point-in-time read never sees a figure before it was out),
capped at the day it was fetched (a figure in the API is released by then); ``released_at`` is
NULL.
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

PROVIDER = "hkma"
SOURCE = f"live:{PROVIDER}"
HOST = "api.hkma.gov.hk"
URL = (
    f"https://{HOST}/public/market-data-and-statistics/monthly-statistical-bulletin/"
    "ef-fc-resv-assets/fc-resv-assests"
)
SERIES_ID = "fx_reserves"
UNIT = "USD million"
SERIES = MacroSeries(SERIES_ID, UNIT, SOURCE)
PAGE_SIZE = 100
FROM_PERIOD = "2022-01"
PERIOD_FIELD, VALUE_FIELD = "end_of_month", "fc_resv_assets_total"


def params(offset: int) -> dict[str, str | int]:
    return {
        "offset": offset,
        "pagesize": PAGE_SIZE,
        "sortby": "end_of_month",
        "sortorder": "asc",
        "from": FROM_PERIOD,
    }


def estimated_release(period: str, fetched_on: date) -> date:
    """First weekday on or after the 7th of the month after period, capped at fetched_on."""
    year, month = (int(p) for p in period.split("-"))
    day = date(year + month // 12, month % 12 + 1, 7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return min(day, fetched_on)


def page_url(offset: int) -> str:
    return describe_url(URL, params(offset))


def page_records(payload: Any, offset: int) -> list[dict[str, Any]]:
    header = payload.get("header") if isinstance(payload, dict) else None
    if not isinstance(header, dict) or header.get("success") is not True:
        msg = header.get("err_msg") if isinstance(header, dict) else None
        raise SourceError(
            f"{PROVIDER}: {page_url(offset)} answered success=false ({msg!r}) at {offset=}"
        )
    result = payload.get("result") or {}
    if not isinstance(result, dict):
        raise SourceError(
            f"{PROVIDER}: {HOST} page at {offset=} has a result that is not an object"
        )
    records = result.get("records") or []
    if not isinstance(records, list):
        raise SourceError(f"{PROVIDER}: {HOST} page at {offset=} has records that are not a list")
    try:
        datasize = int(result.get("datasize") or 0)
    except (TypeError, ValueError):
        raise SourceError(
            f"{PROVIDER}: {HOST} page at {offset=} says datasize={result.get('datasize')!r},"
            " not a count: refused"
        ) from None
    if datasize != len(records):
        raise SourceError(
            f"{PROVIDER}: {HOST} page at {offset=} says datasize={result.get('datasize')} but"
            f" carries {len(records)} records: incomplete, refused"
        )
    return records


def to_rows(records: list[dict[str, Any]], fetched_on: date, where: str = URL) -> pd.DataFrame:
    """raw.macro_series rows of the records; ``where`` (the URL) names the answer in errors."""
    require_fields(PROVIDER, where, records, (PERIOD_FIELD, VALUE_FIELD))
    parsed: list[tuple[str, float | str | None]] = []
    for rec in records:
        period, value = rec.get(PERIOD_FIELD), parse_number(rec.get(VALUE_FIELD))
        if not isinstance(period, str) or len(period) != 7:
            raise SourceError(f"{PROVIDER}: {where}: end_of_month {period!r} is not YYYY-MM")
        parsed.append((period, value))
    released_on = {period: estimated_release(period, fetched_on) for period, _ in parsed}
    refusal = (
        f"{PROVIDER}: {where}: {len(records)} records but not one {VALUE_FIELD} figure: no"
        " usable rows, refused (an empty series is never a success)"
    )
    return readings_frame(parsed, SERIES, released_on, refusal, lists=f"{PROVIDER}: {where} lists")


class Hkma(ClientProvider):
    """HKMA: foreign currency reserve assets, monthly, US$ million."""

    provider = PROVIDER

    def macro_series(self, as_of: datetime, fetched_on: date) -> pd.DataFrame:
        records: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = page_records(self.client.get_json(URL, params=params(offset)), offset)
            records.extend(page)
            if len(page) < PAGE_SIZE:
                break
            offset += PAGE_SIZE
        if not records:
            raise SourceError(f"{PROVIDER}: {page_url(0)} returned no reserve figures; refused")
        return known_by(to_rows(records, fetched_on, page_url(0)), as_of)
