"""Dagster wiring: assets, checks, schedules, sensors and resources (the only Dagster code
besides ``hk_pipeline/definitions.py`` and ``hk_pipeline/cli.py``)."""
