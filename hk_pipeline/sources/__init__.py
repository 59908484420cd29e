"""Pure data sources: each returns pandas DataFrames in the canonical shape of a raw table."""
