"""The sample market: the default source, a deterministic simulator anchored on real figures.

Demo, not production: kept apart from the real sources (``hk_pipeline.sources``), whose
registry alone imports it (``source.SampleSource``). It may import the sources' base types,
never the reverse.

- The source: `source` (``SampleSource``, the rows of each table for a day).
- Its reference: `universe` (every share and its listing events), `membership` (index
  membership and the quarterly reviews' dates), `weights` (capped index weights), `macro`
  (monthly macro readings), `hsi_history` (the real HSI daily history), and `data/` (the real
  figures it carries: named securities, HSI monthly lists, the ^HSI export, the recap).
- The market: `noise` (counter-based random numbers per symbol and date), `daily` (daily
  closes and index levels over the whole calendar), `recap` (the 2025-11-21 mid-day pin),
  `intraday` (1-minute bars for one day), `turnover`, `suspensions`, `checks` (the realism
  rules), `store` and `disk_cache` (the built market kept on disk between processes).
"""
