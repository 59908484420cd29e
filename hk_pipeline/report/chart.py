"""The review's chart: the three indices' intraday path and the market's breadth, as a PNG.

Drawn with matplotlib's object API on an Agg canvas (no pyplot global state), so it is safe
in a headless run. A backfill draws the chart some 490 times, and building a figure costs
more than drawing it (axes, ticks, text layout), so each thread keeps one figure with every
artist the chart can show and a render only sets their data, text and visibility. Every
render sets all of them, so a chart never depends on the one drawn before it (a test checks
this byte for byte).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from hk_pipeline.indices import INDEX_CODES, INDEX_NAMES
from hk_pipeline.marts.runner import read_mart
from hk_pipeline.report.markdown import (
    SAMPLE_SOURCE_LINE,
    SNAPSHOT_LABELS,
    quote_sources,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Annotation, Text

NO_BARS_TEXT = "no intraday bars for this snapshot"
NO_BREADTH_TEXT = "no breadth for this snapshot"
_MINUTE = 1 / (24 * 60)  # matplotlib dates count days
_GAP = 5 * _MINUTE  # a longer gap between bars (lunch) breaks the line
_COLOURS = {"HSI": "#1f4e79", "HSCEI": "#c55a11", "HSTECH": "#7030a0"}
_BREADTH_LABELS = ("Up", "Down", "Flat")
_BREADTH_COLUMNS = ("advancers", "decliners", "unchanged")
_BREADTH_COLOURS = ("#2e7d32", "#c62828", "#9e9e9e")
_FIGSIZE = (11.0, 6.0)
_DPI = 110


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
              AND b.symbol IN ({", ".join("?" for _ in INDEX_CODES)})
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
        [trade_date, *snaps, *INDEX_CODES, trade_date, snapshot],
    ).fetchdf()


def _with_breaks(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN point a minute before each bar further than _GAP from the previous one.

    ``x`` is in matplotlib date numbers, sorted; the NaN makes the line skip lunch.
    """
    gaps = np.flatnonzero(np.diff(x) > _GAP) + 1
    return np.insert(x, gaps, x[gaps] - _MINUTE), np.insert(y, gaps, np.nan)


@dataclass
class _Canvas:
    """One figure and every artist the chart can show, built once per thread."""

    fig: Figure
    canvas: FigureCanvasAgg
    ax: Axes
    bx: Axes
    title: Text
    lines: dict[str, Line2D]
    zero: Line2D
    no_bars: Text
    bars: list[Rectangle]
    bar_labels: list[Annotation]
    no_breadth: Text
    footer: Text


_local = threading.local()  # a figure is not safe to draw from two threads at once


def _canvas() -> _Canvas:
    canvas = getattr(_local, "canvas", None)
    if canvas is None:
        canvas = _local.canvas = _build_canvas()
    return canvas


def _build_canvas() -> _Canvas:
    """The figure's layout and its fixed parts: fonts, colours, locators, titles, grids."""
    # matplotlib is imported here and below, not at the top: ~0.9 s that commands reading the
    # report without drawing would pay (docs/architecture.md, deferred imports)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=_FIGSIZE, dpi=_DPI)
    canvas = FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 2, width_ratios=(3, 1.2), wspace=0.25)
    ax = fig.add_subplot(grid[0, 0])
    bx = fig.add_subplot(grid[0, 1])

    lines = {c: ax.plot([], [], color=_COLOURS[c], linewidth=1.6)[0] for c in INDEX_CODES}
    zero = ax.axhline(0, color="grey", linewidth=0.8)
    ax.xaxis.set_major_locator(AutoDateLocator())
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=None))
    ax.set_ylabel("% change from previous close")
    ax.grid(alpha=0.3)
    # a fixed y skips matplotlib's search for tick labels above the axes (there are none)
    ax.set_title("Intraday path (HKT)", y=1.0)
    # a figure text at the axes' centre: a hidden text of the axes would still steer the legend
    no_bars = fig.text(0.5, 0.5, NO_BARS_TEXT, ha="center", va="center", transform=ax.transAxes)

    bars = list(bx.bar(_BREADTH_LABELS, [0, 0, 0], color=_BREADTH_COLOURS))
    bar_labels = [
        bx.annotate("", (b.get_x() + b.get_width() / 2, 0), (0, 2), textcoords="offset points")
        for b in bars
    ]
    for label in bar_labels:  # as Axes.bar_label places them above a bar
        label.set(ha="center", va="bottom")
    bx.yaxis.set_major_locator(MaxNLocator(integer=True))
    bx.grid(axis="y", alpha=0.3)
    bx.set_title("", y=1.0)
    no_breadth = bx.text(0.5, 0.5, NO_BREADTH_TEXT, ha="center", transform=bx.transAxes)
    # axes without a label: a fixed place for it skips measuring their tick labels to place it
    for axis in (ax.xaxis, bx.xaxis, bx.yaxis):
        axis.set_label_coords(0.5, 0.5)

    return _Canvas(
        fig=fig,
        canvas=canvas,
        ax=ax,
        bx=bx,
        title=fig.suptitle("", fontsize=14),
        lines=lines,
        zero=zero,
        no_bars=no_bars,
        bars=bars,
        bar_labels=bar_labels,
        no_breadth=no_breadth,
        footer=fig.text(0.5, 0.01, SAMPLE_SOURCE_LINE, ha="center", fontsize=9, color="#b00000"),
    )


def _set_paths(c: _Canvas, paths: pd.DataFrame) -> None:
    """Each index's line and the legend; or, without bars, the panel's note alone."""
    from matplotlib.dates import date2num

    symbols = paths["symbol"].to_numpy()
    x_all = date2num(paths["ts_local"].to_numpy())
    y_all = paths["change_pct"].to_numpy(dtype=float)
    shown: list[Line2D] = []
    for code, line in c.lines.items():
        mine = symbols == code
        x, y = _with_breaks(x_all[mine], y_all[mine])
        finite = y[~np.isnan(y)]
        if not len(finite):
            x, y = x[:0], y[:0]  # legend "best" avoids hidden lines too: leave none behind
        line.set_data(x, y)
        line.set_visible(len(finite) > 0)
        if len(finite):
            line.set_label(f"{INDEX_NAMES[code]} ({finite[-1]:+.2f}%)")
            shown.append(line)
    drawn = bool(shown)
    c.zero.set_visible(drawn)
    c.no_bars.set_visible(not drawn)
    c.ax.xaxis.set_visible(drawn)  # hides ticks, tick labels, grid and the y label
    c.ax.yaxis.set_visible(drawn)
    _set_legend(c.ax, shown)
    if drawn:
        c.ax.relim(visible_only=True)
        c.ax.autoscale_view()


def _set_legend(ax: Axes, shown: list[Line2D]) -> None:
    """A fresh legend of the lines shown (``loc="best"`` keeps it off them)."""
    if ax.legend_ is not None:
        ax.legend_.remove()
    if shown:
        ax.legend(handles=shown, loc="best", fontsize=9)


def _set_breadth(c: _Canvas, breadth: pd.DataFrame) -> None:
    """Bars of the all-shares universe: up, down and flat counts, labelled."""
    everything = breadth[breadth["universe"] == "all"]
    drawn = not everything.empty
    for artist in (*c.bars, *c.bar_labels, c.bx.xaxis, c.bx.yaxis):
        artist.set_visible(drawn)
    c.no_breadth.set_visible(not drawn)
    if not drawn:
        c.bx.set_title("")
        return
    row = everything.iloc[0]
    values = [int(row[col]) for col in _BREADTH_COLUMNS]
    for bar, label, value in zip(c.bars, c.bar_labels, values, strict=True):
        bar.set_height(value)
        label.xy = (label.xy[0], value)
        label.set_text(f"{value:,}")
    c.bx.set_ylim(0, max([*values, 1]) * 1.15)
    c.bx.set_title(f"Breadth, all shares ({int(row['total']):,})")


def _write_png(c: _Canvas, path: Path) -> None:
    """Draw the canvas and write its pixels (the figure is opaque, so as RGB).

    Pillow at zlib level 1: its default level 6 took ~17 ms a chart for a file ~15% smaller.
    """
    from PIL import Image

    c.canvas.draw()
    size = c.canvas.get_width_height(physical=True)
    rgb = Image.frombytes("RGB", size, c.canvas.buffer_rgba(), "raw", "RGBX")
    rgb.save(path, format="PNG", compress_level=1, dpi=(_DPI, _DPI))


def draw_chart(
    trade_date: date,
    snapshot: str,
    paths: pd.DataFrame,
    breadth: pd.DataFrame,
    sources: list[str],
    path: Path,
) -> Path:
    """Write the chart from rows already read (index_paths, mart.market_breadth, sources)."""
    c = _canvas()
    label = SNAPSHOT_LABELS.get(snapshot, snapshot)
    c.title.set_text(f"Hong Kong market, {trade_date.isoformat()} {label}")
    _set_paths(c, paths)
    _set_breadth(c, breadth)
    c.footer.set_visible(bool(sources) and all(s == "sample" for s in sources))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_png(c, path)
    return path


def render_chart(
    con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str, path: Path
) -> Path:
    """Write the chart of partition (trade_date, snapshot) to ``path`` (PNG); return it."""
    return draw_chart(
        trade_date,
        snapshot,
        index_paths(con, trade_date, snapshot),
        read_mart(con, "market_breadth", trade_date, snapshot),
        quote_sources(con, trade_date, snapshot),
        path,
    )
