"""Loading one partition of a ref/raw table from a source: fetch, validate, judge, write.

No Dagster here: ``defs/ingest.py`` runs these steps as assets and reports what they did
(the materialisation, the ``schema`` check, the step's Failure).

- ``feed``: how a table is fed (``TableFeed``: where its rows come from, how they are written).
- ``symbols``: the symbols a partition is checked against (the securities master in force)
  and those whose rejection refuses it (index codes and constituents).
- ``origins``: the landing files a frame came from, and citing them in rejected rows.
- ``supersede``: how a snapshot from a source that knows only the present closes what it
  supersedes.
- ``partition_load``: one partition's load, in two steps: ``prepare`` (fetch and validate,
  no database) and ``write`` (judge, quarantine, write).
"""
