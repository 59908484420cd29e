"""Date helpers the sample's reference tables share."""

import numpy as np
import pandas as pd


def to_dates(values: pd.Series | np.ndarray) -> np.ndarray:
    """datetime64-like values -> object array of ``datetime.date`` (None for NaT)."""
    ts = pd.to_datetime(pd.Series(values))
    return np.array([None if pd.isna(t) else t.date() for t in ts], dtype=object)
