"""The Dagster UI, tested in a real browser (headless Debian Chromium through selenium)."""
