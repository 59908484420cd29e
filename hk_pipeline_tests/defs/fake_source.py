"""A tiny deterministic MarketSource for the Dagster wiring's tests: four shares, three indices.

``variant`` injects faults: ``negative_price`` makes one non-constituent quote negative,
``bad_constituent`` makes an HSI member's quote negative, ``all_bad`` makes every quote
negative, ``level_off`` puts the official HSI 100 bp away from the Hang Seng formula.
``<variant>@YYYY-MM-DD`` applies the variant on that trading day only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.defs.resources import SourceResource
from hk_pipeline.sources.base import MarketSource

SHARES = {
    # symbol: (name, industry, prev_close, last, issued_shares)
    "00005": ("HSBC Holdings", "Financials", 100.0, 101.0, 17_000_000_000),
    "00700": ("Tencent", "Information Technology", 400.0, 396.0, 9_200_000_000),
    "09988": ("Alibaba", "Consumer Discretionary", 150.0, 147.0, 19_000_000_000),
    "08001": ("Tiny GEM Co", "Industrials", 1.0, 1.0, 500_000_000),
}
MEMBERS = {"HSI": ["00005", "00700", "09988"], "HSCEI": ["00700", "09988"], "HSTECH": ["00700"]}
PREV_LEVELS = {"HSI": 25_000.0, "HSCEI": 9_000.0, "HSTECH": 5_500.0}
FAF, CAP_FACTOR = 0.5, 1.0
NON_MEMBER = "08001"


class FakeSource:
    """Implements hk_pipeline.sources.base.MarketSource with fixed numbers."""

    name = "sample"

    def __init__(self, variant: str = "good") -> None:
        self.variant = variant

    def variant_on(self, trade_date: date) -> str:
        """The variant in force on ``trade_date`` (``good`` outside an ``@day`` variant's day)."""
        variant, _, day = self.variant.partition("@")
        return variant if not day or date.fromisoformat(day) == trade_date else "good"

    def securities(self, trade_date: date) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "symbol": s,
                    "name": name,
                    "board": "GEM" if s.startswith("08") else "Main Board",
                    "industry": industry,
                    "board_lot": 100,
                    "issued_shares": shares,
                    "currency": "HKD",
                    "listed_on": date(2000, 1, 3),
                    "valid_from": calendar.START_DATE,
                    "valid_to": None,
                    "source": self.name,
                }
                for s, (name, industry, _, _, shares) in SHARES.items()
            ]
        )

    def index_constituents(self, trade_date: date) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "index_code": code,
                    "symbol": s,
                    "issued_shares": SHARES[s][4],
                    "faf": FAF,
                    "cap_factor": CAP_FACTOR,
                    "valid_from": calendar.START_DATE,
                    "valid_to": None,
                    "source": self.name,
                }
                for code, members in MEMBERS.items()
                for s in members
            ]
        )

    def quotes(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        as_of = calendar.snapshot_time(trade_date, snapshot)
        rows = []
        for s, (_, _, prev, last, _) in SHARES.items():
            rows.append(
                {
                    "trade_date": trade_date,
                    "snapshot": snapshot,
                    "symbol": s,
                    "prev_close": prev,
                    "open": prev,
                    "high": max(prev, last),
                    "low": min(prev, last),
                    "last": last,
                    "volume": 1_000_000,
                    "turnover": 1_000_000 * (prev + last) / 2,
                    "as_of": as_of,
                    "source": self.name,
                }
            )
        frame = pd.DataFrame(rows)
        bad = {
            "negative_price": [NON_MEMBER],
            "bad_constituent": ["00700"],
            "all_bad": list(SHARES),
        }.get(self.variant_on(trade_date), [])
        frame.loc[frame["symbol"].isin(bad), ["last", "low"]] = -1.0
        return frame

    def index_levels(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        """Levels that follow the Hang Seng formula over the members, so marts reconcile."""
        as_of = calendar.snapshot_time(trade_date, snapshot)
        rows = []
        for code, prev in PREV_LEVELS.items():
            now = sum(SHARES[s][3] * SHARES[s][4] for s in MEMBERS[code])
            before = sum(SHARES[s][2] * SHARES[s][4] for s in MEMBERS[code])
            last = round(prev * now / before, 2)
            if self.variant_on(trade_date) == "level_off" and code == "HSI":
                last = round(last * 1.01, 2)  # 100 bp away from the formula
            rows.append(
                {
                    "trade_date": trade_date,
                    "snapshot": snapshot,
                    "index_code": code,
                    "prev_close": prev,
                    "open": prev,
                    "high": max(prev, last),
                    "low": min(prev, last),
                    "last": last,
                    "as_of": as_of,
                    "source": self.name,
                }
            )
        return pd.DataFrame(rows)

    def intraday_bars(self, trade_date: date, snapshot: str) -> pd.DataFrame:
        day = calendar.session(trade_date)
        if snapshot == "midday":
            stamps = [day.morning_open, day.morning_open + timedelta(minutes=1)]
        elif day.afternoon_close is None:  # half day: only the auction bar stamped 12:00
            stamps = [day.morning_close]
        else:
            stamps = [day.afternoon_close - timedelta(minutes=1), day.afternoon_close]
        rows = []
        for s, (_, _, prev, last, _) in SHARES.items():
            for ts in stamps:
                rows.append(
                    {
                        "trade_date": trade_date,
                        "snapshot": snapshot,
                        "symbol": s,
                        "ts": ts,
                        "open": prev,
                        "high": max(prev, last),
                        "low": min(prev, last),
                        "close": last,
                        "volume": 500_000,
                        "turnover": 500_000 * (prev + last) / 2,
                        "source": self.name,
                    }
                )
        return pd.DataFrame(rows)

    def macro_series(self, as_of: datetime) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "series_id": "unemployment_rate_sa",
                    "period": "2025-10",
                    "value": 3.8,
                    "unit": "percent",
                    "released_on": date(2025, 11, 18),
                    "released_at": None,
                    "source": self.name,
                }
            ]
        ).loc[lambda f: pd.to_datetime(f["released_on"]).dt.date <= as_of.date()]


class FakeSourceResource(SourceResource):
    """Source resource handing out a FakeSource instead of a registered source."""

    variant: str = "good"

    def get(self) -> MarketSource:
        return FakeSource(self.variant)
