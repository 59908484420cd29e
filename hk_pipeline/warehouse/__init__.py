"""The warehouse: one DuckLake (connection, DDL, idempotent partition writes, readers, upkeep).

Import the submodules (``warehouse.connection``, ``warehouse.writes``...): this package
imports nothing itself, so ``marts`` may use ``warehouse.tx`` while ``warehouse.schema``
creates the mart tables without an import cycle.
"""
