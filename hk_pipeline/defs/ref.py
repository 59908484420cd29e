"""Reference data (effective-dated): ``ref.securities`` and ``ref.index_constituents``.

Upserted by key, not copied per partition: each partition's run re-asserts the rows in force
on its date, so a backfill of an earlier day sees (and re-checks) what was in force then.
For sources that only know the present (landing masters, live lists) the write also closes
the versions the snapshot supersedes and the symbols it no longer holds (``entity_key``).
"""

from __future__ import annotations

import dagster as dg

from hk_pipeline.defs.ingest import TableSpec, make_ingest_asset

SECURITIES = TableSpec(
    table="ref.securities",
    fetch=lambda src, d, _snapshot: src.securities(d),
    description=(
        "Securities master: every Main Board and GEM share listed on the trading day, with name,"
        " board, HSICS industry, board lot and issued shares. Effective-dated"
        " (valid_from/valid_to), upserted by (symbol, valid_from)."
    ),
    upsert_key=("symbol", "valid_from"),
    entity_key=("symbol",),
)
INDEX_CONSTITUENTS = TableSpec(
    table="ref.index_constituents",
    fetch=lambda src, d, _snapshot: src.index_constituents(d),
    description=(
        "Point-in-time members of HSI, HSCEI and HSTECH with issued shares, free-float"
        " adjusted factor and cap factor. Effective-dated, upserted by"
        " (index_code, symbol, valid_from)."
    ),
    upsert_key=("index_code", "symbol", "valid_from"),
    entity_key=("index_code", "symbol"),
)

securities = make_ingest_asset(SECURITIES, deps=[])
index_constituents = make_ingest_asset(INDEX_CONSTITUENTS, deps=[SECURITIES.asset_key])

REF_ASSETS: list[dg.AssetsDefinition] = [securities, index_constituents]
REF_KEYS = [SECURITIES.asset_key, INDEX_CONSTITUENTS.asset_key]
