"""hk_pipeline: a warehouse of the Hong Kong stock market, kept by Dagster in DuckDB."""
