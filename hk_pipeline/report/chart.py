"""The review's chart: the three indices' intraday path and the market's breadth, as a PNG.

Drawn with matplotlib's object API on an Agg canvas (no pyplot global state), so it is safe
in a headless run and in threads.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from hk_pipeline.marts.runner import read_mart
from hk_pipeline.report.markdown import (
    INDEX_NAMES,
    INDEX_ORDER,
    SAMPLE_SOURCE_LINE,
    SNAPSHOT_LABELS,
    quote_sources,
)

NO_BARS_TEXT = "no intraday bars for this snapshot"
_GAP = timedelta(minutes=5)  # a longer gap between bars (lunch) breaks the line
_COLOURS = {"HSI": "#1f4e79", "HSCEI": "#c55a11", "HSTECH": "#7030a0"}


def _snapshots_up_to(snapshot: str) -> list[str]:
    """Bars of the day up to the snapshot: close includes the morning (midday) partition."""
    return ["midday"] if snapshot == "midday" else ["midday", "close"]


def index_paths(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> pd.DataFrame:
    """Index bars of the day up to the snapshot as % change from the previous close.

    The previous close comes from raw.index_levels; without it, the day's first bar open.
    """
    snaps = _snapshots_up_to(snapshot)
    return con.execute(
        f"""
        WITH bars AS (
            SELECT b.symbol, b.ts, b.open, b.close
            FROM raw.intraday_bars AS b
            WHERE b.trade_date = ? AND b.snapshot IN ({", ".join("?" for _ in snaps)})
              AND b.symbol IN ('HSI', 'HSCEI', 'HSTECH')
        ),
        prev AS (
            SELECT index_code, prev_close FROM raw.index_levels
            WHERE trade_date = ? AND snapshot = ?
        )
        SELECT
            bars.symbol,
            timezone('Asia/Hong_Kong', bars.ts) AS ts_local,
            (bars.close / coalesce(
                prev.prev_close,
                first_value(bars.open) OVER (PARTITION BY bars.symbol ORDER BY bars.ts)
            ) - 1) * 100 AS change_pct
        FROM bars
        LEFT JOIN prev ON prev.index_code = bars.symbol
        ORDER BY bars.symbol, bars.ts
        """,
        [trade_date, *snaps, trade_date, snapshot],
    ).fetchdf()


def _with_breaks(frame: pd.DataFrame) -> pd.DataFrame:
    """Insert a NaN point where bars are further apart than _GAP, so lines skip lunch."""
    gaps = frame["ts_local"].diff() > _GAP
    if not gaps.any():
        return frame
    breaks = frame.loc[gaps, ["ts_local"]].assign(
        ts_local=lambda f: f["ts_local"] - timedelta(minutes=1), change_pct=float("nan")
    )
    return pd.concat([frame, breaks]).sort_values("ts_local")


def render_chart(
    con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str, path: Path
) -> Path:
    """Write the chart of partition (trade_date, snapshot) to ``path`` (PNG); return it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    paths = index_paths(con, trade_date, snapshot)
    breadth = read_mart(con, "market_breadth", trade_date, snapshot)
    everything = breadth[breadth["universe"] == "all"]

    fig = Figure(figsize=(11, 6), dpi=110)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 2, width_ratios=(3, 1.2), wspace=0.25)
    ax = fig.add_subplot(grid[0, 0])
    bx = fig.add_subplot(grid[0, 1])
    label = SNAPSHOT_LABELS.get(snapshot, snapshot)
    fig.suptitle(f"Hong Kong market, {trade_date.isoformat()} {label}", fontsize=14)

    if paths.empty:
        ax.text(0.5, 0.5, NO_BARS_TEXT, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        for code in INDEX_ORDER:
            series = paths[paths["symbol"] == code]
            if series.empty:
                continue
            series = _with_breaks(series)
            last = series["change_pct"].dropna().iloc[-1]
            ax.plot(
                series["ts_local"],
                series["change_pct"],
                color=_COLOURS[code],
                linewidth=1.6,
                label=f"{INDEX_NAMES[code]} ({last:+.2f}%)",
            )
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=None))
        ax.set_ylabel("% change from previous close")
        ax.legend(loc="best", fontsize=9)
        ax.grid(alpha=0.3)
    ax.set_title("Intraday path (HKT)")

    if everything.empty:
        bx.text(0.5, 0.5, "no breadth for this snapshot", ha="center", transform=bx.transAxes)
    else:
        row = everything.iloc[0]
        labels = ["Up", "Down", "Flat"]
        values = [int(row["advancers"]), int(row["decliners"]), int(row["unchanged"])]
        bars = bx.bar(labels, values, color=["#2e7d32", "#c62828", "#9e9e9e"])
        bx.bar_label(bars, labels=[f"{v:,}" for v in values], padding=2)
        bx.set_ylim(0, max([*values, 1]) * 1.15)
        bx.set_title(f"Breadth, all shares ({int(row['total']):,})")
        bx.yaxis.set_major_locator(MaxNLocator(integer=True))
        bx.grid(axis="y", alpha=0.3)

    sources = quote_sources(con, trade_date, snapshot)
    if sources and all(s == "sample" for s in sources):
        fig.text(0.5, 0.01, SAMPLE_SOURCE_LINE, ha="center", fontsize=9, color="#b00000")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
