"""Where landing rows came from: the files a load read, and ``path:line`` in rejected rows.

Landing rows carry their origin (``sources.landing.row_origins``): a quarantined row's reason
starts with ``path:line``, and the files read (path, sha256, size) are recorded in
``raw.landing_loads`` in the write's own transaction (and in the materialisation's metadata).
"""

from pathlib import Path

import pandas as pd

from hk_pipeline.sources.base import MarketSource
from hk_pipeline.sources.landing import RowOrigins
from hk_pipeline.warehouse.landing_loads import LoadedFile


def landing_files(market: MarketSource, origins: RowOrigins | None) -> list[LoadedFile] | None:
    """The landing files a frame came from (path relative to the landing folder), or None
    when the frame is not from the landing zone."""

    root = getattr(market, "root", None)
    if origins is None or root is None:
        return None

    def rel(path: Path) -> str:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            return str(path)

    return [LoadedFile(rel(f.path), f.sha256, int(f.size)) for f in origins.files]


def cite_origins(rejected: pd.DataFrame, origins: RowOrigins | None) -> pd.DataFrame:
    """Prefix each rejected row's reason with the ``path:line`` it came from."""
    if origins is None or rejected.empty:
        return rejected
    out = rejected.copy()
    out["reason"] = [
        f"{origins.cite(int(row))}: {reason}"
        for row, reason in zip(out["row_number"], out["reason"], strict=True)
    ]
    return out
