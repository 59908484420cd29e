"""Monthly macro readings of the sample market: unemployment, PMI and FX reserves.

Readings up to 2025-10 are recollections of the published series; later months are simulated
continuations. Only the readings flagged ``is_real`` are confirmed facts.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from hk_pipeline.sample_market.dates import to_dates

# Monthly readings 2022-06 .. 2025-10 from recollection of the published figures; the months
# after are simulated continuations. Only the entries in _MACRO_REAL are confirmed facts.
_MACRO_FIRST, _MACRO_LAST, _MACRO_RECALLED_LAST = "2022-06", "2026-10", "2025-10"
_MACRO_VALUES: dict[str, tuple[float, ...]] = {
    "unemployment_rate_sa": (
        4.7, 4.3, 4.1, 3.9, 3.8, 3.7, 3.5,
        3.4, 3.3, 3.1, 3.0, 3.0, 2.9, 2.8, 2.8, 2.8, 2.9, 2.9, 2.9,
        2.9, 2.9, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.1, 3.1, 3.1,
        3.1, 3.2, 3.2, 3.4, 3.5, 3.5, 3.7, 3.7, 3.9, 3.8,
        3.8, 3.8, 3.8, 3.7, 3.7, 3.7, 3.6, 3.6, 3.6, 3.5, 3.5, 3.5,
    ),
    "pmi": (
        52.4, 52.3, 51.2, 48.0, 48.2, 48.7, 49.6,
        53.1, 53.9, 51.7, 50.3, 50.8, 50.3, 49.4, 49.8, 48.4, 48.9, 50.1, 49.6,
        49.9, 50.3, 51.3, 50.6, 49.1, 49.2, 49.4, 50.6, 49.7, 52.2, 50.1, 49.0,
        49.0, 48.8, 48.3, 48.3, 49.0, 49.1, 50.2, 51.0, 50.4, 51.2,
        50.8, 50.3, 49.9, 50.2, 50.6, 50.1, 49.7, 49.9, 50.4, 50.8, 50.5, 50.2,
    ),
    "fx_reserves": (
        446600, 438800, 434100, 424000, 419900, 424300, 424000,
        428900, 423000, 431800, 428400, 423900, 418800, 424800, 418400, 414200, 415800,
        419900, 425600,
        420900, 417100, 419400, 415600, 417900, 416900, 421900, 422600, 422700, 418300,
        421100, 421400,
        418400, 421900, 421400, 423800, 429000, 424300, 420800, 422500, 428100, 431000,
        429600, 430400, 428800, 431200, 432000, 429900, 430700, 432300, 431500, 433100,
        432400, 433800,
    ),
}  # fmt: skip
_MACRO_UNITS = {"unemployment_rate_sa": "percent", "pmi": "index", "fx_reserves": "USD million"}
_MACRO_REAL: frozenset[tuple[str, str]] = frozenset(
    {("unemployment_rate_sa", "2025-09"), ("unemployment_rate_sa", "2025-10"), ("pmi", "2025-10")}
)


def _release_dates(series_id: str, periods: pd.PeriodIndex) -> np.ndarray:
    """Release day in the month after each period, by each publisher's habit.

    Unemployment (C&SD): the first Tuesday on or after the 17th (2025-10 -> 2025-11-18).
    PMI (S&P Global): the third weekday, 1 January excluded (2025-10 -> 2025-11-05).
    FX reserves (HKMA): the first weekday on or after the 5th.
    """
    nxt = (periods + 1).start_time.to_numpy().astype("datetime64[D]")
    if series_id == "unemployment_rate_sa":
        return np.busday_offset(nxt + 16, 0, roll="forward", weekmask="Tue")
    if series_id == "pmi":
        new_years = nxt[(periods + 1).month == 1]
        return np.busday_offset(nxt, 2, roll="forward", holidays=new_years)
    return np.busday_offset(nxt + 4, 0, roll="forward")


@functools.lru_cache(maxsize=1)
def _macro() -> pd.DataFrame:
    periods = pd.period_range(_MACRO_FIRST, _MACRO_LAST, freq="M")
    release_time = {"unemployment_rate_sa": "16:30", "pmi": "08:30", "fx_reserves": None}
    frames = []
    for series_id, values in _MACRO_VALUES.items():
        released = pd.to_datetime(_release_dates(series_id, periods))
        clock = release_time[series_id]
        at = (
            (released + pd.Timedelta(f"{clock}:00")).tz_localize("Asia/Hong_Kong")
            if clock
            else pd.DatetimeIndex([pd.NaT] * len(periods)).tz_localize("Asia/Hong_Kong")
        )
        label = periods.strftime("%Y-%m")
        frames.append(
            pd.DataFrame(
                {
                    "series_id": series_id,
                    "period": label,
                    "value": np.asarray(values, dtype=float),
                    "unit": _MACRO_UNITS[series_id],
                    "released_on": to_dates(released),
                    "released_at": at,
                    "is_real": [(series_id, p) in _MACRO_REAL for p in label],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def macro_readings() -> pd.DataFrame:
    """Monthly readings 2022-06 .. 2026-10 of unemployment_rate_sa, pmi and fx_reserves.

    ``is_real`` is True only for facts confirmed by the 2025-11-21 recap and SOURCES.md:
    unemployment 3.8 (2025-10, i.e. Aug-Oct 2025, released 2025-11-18), 3.9 (2025-09) and PMI
    51.2 (2025-10, released 2025-11-05). Readings up to 2025-10 are recollections of the
    published series (close, unverified); later months are simulated. Release days follow each
    publisher's habit (see ``_release_dates``); HKMA publishes no release time, so fx_reserves
    has ``released_at`` NaT. Unemployment periods are 3-month periods labelled by their end.
    """
    return _macro().copy()
