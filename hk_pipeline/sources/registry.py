"""Choose a source by name (HK_PIPELINE_SOURCE or --source)."""

from __future__ import annotations

from hk_pipeline.config import SOURCES, ConfigError, Settings
from hk_pipeline.sources.base import MarketSource


def get_source(name: str, settings: Settings) -> MarketSource:
    """The source called `name`; imports lazily so the sample's cost is paid only when used."""
    if name == "sample":
        from hk_pipeline.sources.sample import SampleSource

        return SampleSource()
    if name in SOURCES:
        raise ConfigError(
            f"source {name!r} is not available yet in this build; use HK_PIPELINE_SOURCE=sample"
        )
    raise ConfigError(f"unknown source {name!r}: expected one of {', '.join(SOURCES)}")
