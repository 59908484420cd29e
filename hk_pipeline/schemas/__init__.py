"""Pandera models of the warehouse tables (one module per table) and the validation runner.

The models use pandera's polars backend (`pandera.polars`). Their columns come from the
tables' DDL (`columns.py`: names, nullability, descriptions, and types as the DuckDB columns'
Date, Datetime(us, Asia/Hong_Kong), Int32/Int64, Float64, String); a model declares only its
rules. Declaring (the models) is separate from running (`validate.py`, with `coerce.py` for
the column types and `wording.py` for the quarantine's reasons). No Dagster here.
"""

from hk_pipeline.schemas.index_constituents import IndexConstituents
from hk_pipeline.schemas.index_levels import IndexLevels
from hk_pipeline.schemas.intraday_bars import IntradayBars
from hk_pipeline.schemas.macro_series import MacroSeries
from hk_pipeline.schemas.quotes import Quotes
from hk_pipeline.schemas.securities import Securities
from hk_pipeline.schemas.validate import (
    MODELS,
    SchemaMismatchError,
    ValidationOutcome,
    Verdict,
    assess,
    validate_frame,
)

__all__ = [
    "MODELS",
    "IndexConstituents",
    "IndexLevels",
    "IntradayBars",
    "MacroSeries",
    "Quotes",
    "SchemaMismatchError",
    "Securities",
    "ValidationOutcome",
    "Verdict",
    "assess",
    "validate_frame",
]
