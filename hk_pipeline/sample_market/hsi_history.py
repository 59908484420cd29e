"""The real Hang Seng Index history the sample market is fitted to: ^HSI daily open, high,
low and close from Yahoo Finance's export (``data/hsi_daily_yahoo.csv``)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from hk_pipeline.paths import SAMPLE_DATA_DIR
from hk_pipeline.sample_market.dates import to_dates

HSI_DAILY_CSV = SAMPLE_DATA_DIR / "hsi_daily_yahoo.csv"


def _read_export() -> pd.DataFrame:
    """The export's rows as they are (its three header lines are Yahoo's, not columns)."""
    return pd.read_csv(
        HSI_DAILY_CSV,
        skiprows=3,
        header=None,
        names=["date", "close", "high", "low", "open", "volume"],
    )


@functools.lru_cache(maxsize=1)
def _hsi_closes() -> pd.Series:
    df = _read_export()
    return pd.Series(
        np.round(df["close"].to_numpy(dtype=float), 2),
        index=pd.Index(to_dates(df["date"]), name="date"),
        name="HSI",
    )


def hsi_official_closes() -> pd.Series:
    """Real ^HSI daily closes (Yahoo export), rounded to 2 decimals, indexed by date."""
    return _hsi_closes().copy()


@functools.lru_cache(maxsize=1)
def _hsi_ohlc() -> pd.DataFrame:
    df = _read_export()
    out = pd.DataFrame(
        {c: np.round(df[c].to_numpy(dtype=float), 2) for c in ("open", "high", "low", "close")},
        index=pd.Index(to_dates(df["date"]), name="date"),
    )
    bad = out[
        (out["high"] < out[["open", "close"]].max(axis=1))
        | (out["low"] > out[["open", "close"]].min(axis=1))
    ]
    if len(bad):
        raise ValueError(
            f"{HSI_DAILY_CSV}: the high/low of {len(bad)} day(s) do not contain the open and close"
            f" (first: {bad.index[0]}); fix those rows of the Yahoo export"
        )
    return out


def hsi_official_ohlc() -> pd.DataFrame:
    """Real ^HSI daily open, high, low and close (Yahoo export), rounded to 2 decimals.

    Indexed by date; the sample's HSI carries them on the close snapshot of each such day.
    """
    return _hsi_ohlc().copy()
