"""Derived tables (``mart.*``): SQL in ``sql/marts``, run with bound parameters, no Dagster."""

from hk_pipeline.marts.runner import (
    MART_NAMES,
    compute_mart,
    compute_marts,
    mart_sql,
    materialize_mart,
    write_mart,
)

__all__ = [
    "MART_NAMES",
    "compute_mart",
    "compute_marts",
    "mart_sql",
    "materialize_mart",
    "write_mart",
]
