"""How a snapshot from a source that knows only the present closes what it supersedes.

Effective-dated tables from sources that only know the present (``knows_valid_to = False``:
landing, live) are written with ``warehouse.writes.Supersede``: the snapshot replaces every
row from its valid_from D (a re-delivered file with a symbol removed leaves none of it), and
the previous version of a symbol and symbols absent from the snapshot are closed on D.
"""

import pandas as pd
import polars as pl

from hk_pipeline.ingest.feed import TableFeed
from hk_pipeline.sources.base import MarketSource
from hk_pipeline.warehouse.writes import Supersede


class ManySnapshotsError(Exception):
    """A source that knows only the present delivered more than one snapshot in one load."""


def supersede_for(
    spec: TableFeed, market: MarketSource, frame: pd.DataFrame, valid: pl.DataFrame
) -> Supersede | None:
    """How the snapshot closes what it supersedes, for sources that only know the present.

    None for sources that know each row's valid_to (the sample market) and tables without
    versions. ``present_keys`` comes from the frame as received, rejected rows included, so
    a quarantined row never reads as a delisting: it holds its entity's previous version
    (see ``Supersede``).
    """

    if spec.entity_key is None or getattr(market, "knows_valid_to", True):
        return None
    starts = valid["valid_from"].unique().to_list() if valid.height else []
    if not starts:
        return None
    if len(starts) > 1:
        raise ManySnapshotsError(
            f"{spec.table}: source {market.name} delivered versions starting on"
            f" {sorted(starts)}; a source that knows only the present must deliver one"
            " snapshot (one valid_from) per load"
        )
    keys = frame[list(spec.entity_key)].astype("string").itertuples(index=False, name=None)
    present = frozenset(k for k in keys if all(isinstance(v, str) for v in k))
    return Supersede(spec.entity_key, starts[0], present)
