"""A model's columns from its table's DDL: name, type, nullability and description.

The DDL (``sql/ddl``, read by ``hk_pipeline.tables``) is the one declaration of a table's
columns; a model declares only the rules: per-column checks (``Field`` arguments such as
``isin``), the columns a source must fill although the lake would take NULL, the columns a
source may leave out, and its ``@pa.check``/``@pa.dataframe_check`` methods. ``from_ddl``
builds the ``pandera.polars.DataFrameModel`` class pandera sees, with one field per column
in the DDL's order, through the public API only (a class built with ``type``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import pandera.polars as pa
import polars as pl

from hk_pipeline.tables import WRITER_COLUMNS, Column, table_columns

HKT = "Asia/Hong_Kong"

# TIMESTAMPTZ columns: Datetime(us, Asia/Hong_Kong), DuckDB's TIMESTAMPTZ resolution.
# coerce.py reads naive input values as HKT and converts aware ones to HKT.
Timestamptz = Annotated[pl.Datetime, "us", HKT]

POLARS_TYPES: dict[str, Any] = {
    "VARCHAR": pl.String,
    "DOUBLE": pl.Float64,
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int32,
    "DATE": pl.Date,
    "TIMESTAMP WITH TIME ZONE": Timestamptz,
}
"""The polars type validation gives each DuckDB type of the DDL."""

_CLASS_MACHINERY = ("__dict__", "__weakref__")


def _annotation(table: str, column: Column) -> Any:
    try:
        return POLARS_TYPES[column.data_type]
    except KeyError:
        raise TypeError(
            f"{table}.{column.name} is {column.data_type} in its DDL, a type the schemas do not"
            f" map to polars; add it to POLARS_TYPES ({', '.join(POLARS_TYPES)})"
        ) from None


def from_ddl(
    *,
    checks: Mapping[str, Mapping[str, Any]] | None = None,
    required: tuple[str, ...] = (),
    left_out: tuple[str, ...] = (),
) -> Callable[[type[pa.DataFrameModel]], type[pa.DataFrameModel]]:
    """Class decorator: the model with a field per column of its table (``Config.name``).

    Every column of the table's DDL but the writer's (run_id, loaded_at) and ``left_out``
    (columns a source may omit, checked by a frame check when present) becomes a field:
    its type from the DDL's, nullable as in the DDL unless listed in ``required``, its
    description the DDL's comment, and ``checks[column]`` as ``pandera.polars.Field``
    arguments (``isin``, ``ge``...).
    """
    rules = dict(checks or {})

    def build(rules_class: type[pa.DataFrameModel]) -> type[pa.DataFrameModel]:
        table = rules_class.Config.name
        columns = [
            c
            for c in table_columns(table)
            if c.name not in WRITER_COLUMNS and c.name not in left_out
        ]
        names = {c.name for c in columns}
        unknown = (set(rules) | set(required)) - names
        if unknown:
            raise ValueError(
                f"the model of {table} has rules for {', '.join(sorted(unknown))}, which are"
                f" not among its columns in the DDL: {', '.join(names)}"
            )
        namespace = {
            key: value for key, value in rules_class.__dict__.items() if key not in _CLASS_MACHINERY
        }
        namespace["__annotations__"] = {c.name: _annotation(table, c) for c in columns}
        for c in columns:
            namespace[c.name] = pa.Field(
                nullable=c.nullable and c.name not in required,
                description=c.comment,
                **rules.get(c.name, {}),
            )
        return type(rules_class.__name__, rules_class.__bases__, namespace)

    return build
