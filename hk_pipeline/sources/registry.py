"""Choose a source by name (HK_PIPELINE_SOURCE or --source)."""

from __future__ import annotations

import os
from datetime import date

from hk_pipeline.config import SOURCES, ConfigError, Settings
from hk_pipeline.sources.base import MarketSource

LIVE_TODAY_VARIABLE = "HK_PIPELINE_LIVE_TODAY"
"""Pins the day the live source takes as "today" (YYYY-MM-DD; default: today in HKT).

The live feeds serve only the present and refuse any other day before sending a request. A
run that must contact the providers for a fixed day (a test of the offline failure, a replay
against recorded transports) sets this so the "today only" guard does not fire first."""


def live_today(environ: dict[str, str] | os._Environ[str] | None = None) -> date | None:
    """The day pinned by HK_PIPELINE_LIVE_TODAY, or None (the live source uses today, HKT)."""
    env = os.environ if environ is None else environ
    text = env.get(LIVE_TODAY_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{LIVE_TODAY_VARIABLE}={text!r} is not a date (YYYY-MM-DD)") from exc


def get_source(name: str, settings: Settings) -> MarketSource:
    """The source called `name`; imports lazily so each source's cost (~0.35 s) is paid only
    when used (docs/architecture.md, deferred imports)."""
    if name == "sample":
        from hk_pipeline.sample_market.source import SampleSource

        return SampleSource(cache_dir=settings.cache_dir)
    if name == "landing":
        from hk_pipeline.sources.landing import LandingSource

        return LandingSource(settings.landing_dir)
    if name == "live":
        from hk_pipeline.sources.live import LiveSource

        return LiveSource(today=live_today())
    if name == "replay":
        from hk_pipeline.sources.replay import ReplaySource

        return ReplaySource(settings.home)
    if name in SOURCES:
        raise ConfigError(f"source {name!r} has no implementation in this build")
    raise ConfigError(f"unknown source {name!r}: expected one of {', '.join(SOURCES)}")
