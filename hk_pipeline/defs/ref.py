"""Reference data (effective-dated): ``ref.securities`` and ``ref.index_constituents``.

Upserted by key, not copied per partition: each partition's run re-asserts the rows in force
on its date, so a backfill of an earlier day sees (and re-checks) what was in force then.

For sources that only know the present (landing masters, live lists) a load is a snapshot
taking effect on its valid_from D (``warehouse.writes.Supersede``): it replaces every row from
D, so a re-delivered file with a symbol removed leaves no row of it from D, and the valid_to
of the versions around D is recomputed from what the table holds (the previous version of
each entity, and the rows from D up to the next loaded date). Loading files in any order, and
loading one again after a correction, leaves the table as loading the final files into an
empty home in effective-date order would. A row validation rejected holds its entity's
previous version in force across D instead of reading as a delisting (the one case the hold
is forgotten, and the remedy, are in ``Supersede``).
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
