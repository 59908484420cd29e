"""The sample market simulator: deterministic, anchored on real figures where they are known.

Modules: `noise` (counter-based random numbers per symbol and date), `daily` (daily closes
and index levels over the whole calendar), `recap` (the 2025-11-21 mid-day pin), `intraday`
(1-minute bars for one day), `store` and `disk_cache` (the built market kept on disk between
processes).
"""
