"""The usual way, kept as the benchmark's baseline: the pattern Dagster's docs show.

Assets return pandas DataFrames typed with `pandera_schema_to_dagster_type`, stored by
`DuckDBPandasIOManager`, marts computed in pandas from the loaded upstream frames, the
default multiprocess executor, one run per partition. Same sample data, same partitions as
the pipeline. Not used by the product; only by benchmarks/baseline.py.
"""

import os

import dagster as dg
import pandas as pd
import pandera.pandas as pa
from dagster_duckdb_pandas import DuckDBPandasIOManager
from dagster_pandera import pandera_schema_to_dagster_type
from pandera.typing import Series

from hk_pipeline.defs.partitions import snapshot_partitions_def as snapshot_partitions
from hk_pipeline.sample_market.source import SampleSource

PARTITION_EXPR = {"date": "trade_date", "snapshot": "snapshot"}


class QuotesModel(pa.DataFrameModel):
    symbol: Series[str] = pa.Field(str_matches=r"^\d{5}$")
    prev_close: Series[float] = pa.Field(gt=0, nullable=True)
    last: Series[float] = pa.Field(gt=0, nullable=True)
    volume: Series[int] = pa.Field(ge=0)
    turnover: Series[float] = pa.Field(ge=0)


class LevelsModel(pa.DataFrameModel):
    index_code: Series[str] = pa.Field(isin=["HSI", "HSCEI", "HSTECH"])
    last: Series[float] = pa.Field(gt=0)


class SecuritiesModel(pa.DataFrameModel):
    symbol: Series[str] = pa.Field(str_matches=r"^\d{5}$")
    name: Series[str]


class BarsModel(pa.DataFrameModel):
    symbol: Series[str]
    open: Series[float] = pa.Field(gt=0)
    high: Series[float] = pa.Field(gt=0)
    low: Series[float] = pa.Field(gt=0)
    close: Series[float] = pa.Field(gt=0)
    volume: Series[int] = pa.Field(ge=0)


def _key(context: dg.AssetExecutionContext) -> tuple:
    keys = context.partition_key.keys_by_dimension
    return pd.Timestamp(keys["date"]).date(), keys["snapshot"]


def _frame(df: pd.DataFrame, d) -> pd.DataFrame:
    # The IO manager filters the date dimension as a timestamp range.
    df = df.copy()
    df["trade_date"] = pd.Timestamp(d)
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


common = {
    "partitions_def": snapshot_partitions,
    "metadata": {"partition_expr": PARTITION_EXPR},
    "key_prefix": ["raw"],
}


@dg.asset(dagster_type=pandera_schema_to_dagster_type(QuotesModel), **common)
def quotes(context: dg.AssetExecutionContext) -> pd.DataFrame:
    d, s = _key(context)
    return _frame(SampleSource().quotes(d, s), d)


@dg.asset(dagster_type=pandera_schema_to_dagster_type(LevelsModel), **common)
def index_levels(context: dg.AssetExecutionContext) -> pd.DataFrame:
    d, s = _key(context)
    return _frame(SampleSource().index_levels(d, s), d)


@dg.asset(dagster_type=pandera_schema_to_dagster_type(BarsModel), **common)
def intraday_bars(context: dg.AssetExecutionContext) -> pd.DataFrame:
    d, s = _key(context)
    return _frame(SampleSource().intraday_bars(d, s), d)


@dg.asset(dagster_type=pandera_schema_to_dagster_type(SecuritiesModel), **common)
def securities(context: dg.AssetExecutionContext) -> pd.DataFrame:
    d, _ = _key(context)
    master = SampleSource().securities(d)
    out = master[["symbol", "name", "industry", "issued_shares"]].copy()
    out["snapshot"] = context.partition_key.keys_by_dimension["snapshot"]
    return _frame(out, d)


mart = {
    "partitions_def": snapshot_partitions,
    "metadata": {"partition_expr": PARTITION_EXPR},
    "key_prefix": ["mart"],
}


@dg.asset(ins={"quotes": dg.AssetIn(["raw", "quotes"])}, **mart)
def market_breadth(quotes: pd.DataFrame) -> pd.DataFrame:
    chg = quotes["last"] - quotes["prev_close"]
    return pd.DataFrame(
        {
            "trade_date": quotes["trade_date"].iloc[:1],
            "snapshot": quotes["snapshot"].iloc[:1],
            "advancers": [(chg > 0).sum()],
            "decliners": [(chg < 0).sum()],
            "unchanged": [((chg == 0) | quotes["last"].isna()).sum()],
            "turnover": [quotes["turnover"].sum()],
        }
    )


@dg.asset(
    ins={"quotes": dg.AssetIn(["raw", "quotes"]), "securities": dg.AssetIn(["raw", "securities"])},
    **mart,
)
def top_turnover(quotes: pd.DataFrame, securities: pd.DataFrame) -> pd.DataFrame:
    top = quotes.nlargest(20, "turnover")[["trade_date", "snapshot", "symbol", "last", "turnover"]]
    return top.merge(securities[["symbol", "name"]], on="symbol", how="left")


@dg.asset(
    ins={"quotes": dg.AssetIn(["raw", "quotes"]), "securities": dg.AssetIn(["raw", "securities"])},
    **mart,
)
def sector_performance(quotes: pd.DataFrame, securities: pd.DataFrame) -> pd.DataFrame:
    df = quotes.merge(securities[["symbol", "industry", "issued_shares"]], on="symbol")
    df["cap"] = df["prev_close"] * df["issued_shares"]
    df["move"] = (df["last"].fillna(df["prev_close"]) / df["prev_close"] - 1) * df["cap"]
    out = df.groupby("industry", as_index=False).agg(cap=("cap", "sum"), move=("move", "sum"))
    out["change_pct"] = 100 * out["move"] / out["cap"]
    out["trade_date"], out["snapshot"] = df["trade_date"].iloc[0], df["snapshot"].iloc[0]
    return out.drop(columns=["cap", "move"])


@dg.asset(
    ins={
        "levels": dg.AssetIn(["raw", "index_levels"]),
        "bars": dg.AssetIn(["raw", "intraday_bars"]),
    },
    **mart,
)
def index_moves(levels: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    idx = bars[bars["symbol"].isin(["HSI", "HSCEI", "HSTECH"])]
    hl = idx.groupby("symbol").agg(high=("high", "max"), low=("low", "min")).reset_index()
    out = levels.merge(hl, left_on="index_code", right_on="symbol", how="left")
    out["change_pct"] = 100 * (out["last"] / out["prev_close"] - 1)
    return out[["trade_date", "snapshot", "index_code", "last", "change_pct"]]


defs = dg.Definitions(
    assets=[
        quotes,
        index_levels,
        intraday_bars,
        securities,
        market_breadth,
        top_turnover,
        sector_performance,
        index_moves,
    ],
    resources={
        "io_manager": DuckDBPandasIOManager(
            database=os.environ.get("BASELINE_DUCKDB", "baseline.duckdb"), schema="public"
        )
    },
)
