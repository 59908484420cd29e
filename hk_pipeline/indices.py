"""The Hang Seng indices the pipeline follows: their codes and names, in the order reports
show them.

The codes are those of ``raw.index_levels.index_code``, ``ref.index_constituents.index_code``
and the index rows of ``raw.intraday_bars``; this is their one definition, which the
schemas, sources, Dagster wiring and report import. No imports, so anything may import it.
"""

INDEX_NAMES: dict[str, str] = {
    "HSI": "Hang Seng Index",
    "HSCEI": "Hang Seng China Enterprises Index",
    "HSTECH": "Hang Seng TECH Index",
}
INDEX_CODES: tuple[str, ...] = tuple(INDEX_NAMES)
"""``("HSI", "HSCEI", "HSTECH")``, in report order."""
