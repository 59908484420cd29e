"""What the landing fixture (hk_pipeline_tests/fixtures/landing) holds, stated once for the
tests that read it (sources/landing, end_to_end)."""

from __future__ import annotations

FILES_2025_11_21_MIDDAY = (
    ("securities", "securities/2025-11-21.csv"),
    ("index_constituents", "index_constituents/2025-09-08.csv"),
    ("quotes", "quotes/2025-11-21_midday.csv"),
    ("index_levels", "index_levels/2025-11-21_midday.csv"),
    ("intraday_bars", "intraday_bars/2025-11-21_midday.csv"),
    ("macro_series", "macro_series/readings.csv"),
)
"""(kind, path under the landing folder) of each file a 2025-11-21 mid-day run reads, in the
manifest's order."""
