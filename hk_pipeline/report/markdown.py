"""The mid-day or close review as Markdown, in the sections and order of the published recaps.

Every figure comes from the marts (``mart.*`` rows of the partition, or the same SQL run on the
spot when a mart was not written yet): overview (indices, breadth, HSI draggers and lifters),
sector performance, macroeconomic background, top-10 turnover. Numbers are written the way
the recaps write them: thousands separators, two decimals for levels, prices and percentages,
turnover in HKD billions with three decimals, codes without leading zeros plus ``.HK``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from hk_pipeline import calendar
from hk_pipeline.indices import INDEX_CODES, INDEX_NAMES
from hk_pipeline.marts.runner import read_mart

SNAPSHOT_LABELS = {"midday": "mid-day", "close": "close"}
SAMPLE_SOURCE_LINE = "Source: simulated sample market — not real prices"
MACRO_ORDER = ("unemployment_rate_sa", "pmi", "fx_reserves")
MOVERS_SHOWN = 3
TURNOVER_SHOWN = 10
NAMED_POOL = 5
_NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}


# --- formatting -------------------------------------------------------------------------


def missing(value: object) -> bool:
    """True for None and NaN/NaT (pandas hands back either for SQL NULL)."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


def num(value: float | None, decimals: int = 2) -> str:
    """``25300.28`` -> ``25,300.28``; NULL -> ``n/a``."""
    if missing(value):
        return "n/a"
    return f"{value:,.{decimals}f}"


def signed(value: float | None, decimals: int = 2, suffix: str = "") -> str:
    """``-2.07`` -> ``-2.07``, ``1.5`` -> ``+1.50`` (plus an optional suffix such as ``%``)."""
    if missing(value):
        return "n/a"
    return f"{value:+,.{decimals}f}{suffix}"


def billions(value: float | None, decimals: int = 3) -> str:
    """HKD amount in billions: ``12204000000`` -> ``12.204 billion``."""
    if missing(value):
        return "n/a"
    return f"{value / 1e9:,.{decimals}f} billion"


def stock_code(symbol: str) -> str:
    """``09988`` -> ``9988.HK``, ``00700`` -> ``700.HK`` (as the recaps write codes)."""
    stripped = str(symbol).lstrip("0")
    return f"{stripped or '0'}.HK"


def long_date(d: date) -> str:
    """``2025-11-21`` -> ``21 November 2025``."""
    return f"{d.day} {d:%B %Y}"


def move_words(change_pct: float | None) -> str:
    """``-4.07`` -> ``down 4.07%``; ``0`` -> ``unchanged``; NULL -> ``no previous close``."""
    if missing(change_pct):
        return "no previous close"
    rounded = round(float(change_pct), 2)
    if rounded == 0:
        return "unchanged"
    return f"{'up' if rounded > 0 else 'down'} {abs(rounded):.2f}%"


def _verb(change_pct: float | None) -> str:
    """``fell 2.07%`` / ``rose 0.50%`` / ``was unchanged``."""
    if missing(change_pct) or round(float(change_pct), 2) == 0:
        return "was unchanged"
    return f"{'rose' if change_pct > 0 else 'fell'} {abs(float(change_pct)):.2f}%"


def _series(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --- data -------------------------------------------------------------------------------


class NoQuotesError(LookupError):
    """The partition has no quotes in the warehouse: there is no market to review.

    Without this refusal a review would describe every listed share as flat with zero
    turnover: a review from missing data.
    """


class MartsNotWrittenError(NoQuotesError):
    """The partition has quotes but its marts were not written: nothing to review yet.

    The report reads the rows the mart assets wrote, never the marts' SQL on the spot, so a
    review always shows what the asset graph materialised (and checked).
    """


def require_quotes(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> None:
    """Raise NoQuotesError, saying which command loads them, if raw.quotes has no row for
    the partition."""
    found = con.execute(
        "SELECT count(*) FROM raw.quotes WHERE trade_date = ? AND snapshot = ?",
        [trade_date, snapshot],
    ).fetchone()
    if not found or not found[0]:
        raise NoQuotesError(
            f"no quotes for {trade_date.isoformat()} {snapshot} in the warehouse, so there is"
            " no market to review; load the partition first with: hk-pipeline run --date"
            f" {trade_date.isoformat()} --snapshot {snapshot}"
        )


def quote_sources(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> list[str]:
    """Distinct ``source`` values of raw.quotes for the partition, sorted."""
    rows = con.execute(
        "SELECT DISTINCT source FROM raw.quotes WHERE trade_date = ? AND snapshot = ?"
        " ORDER BY source",
        [trade_date, snapshot],
    ).fetchall()
    return [r[0] for r in rows]


def source_line(sources: list[str]) -> str:
    """The report's source note; the sample market is flagged as not real."""
    if sources and all(s == "sample" for s in sources):
        return SAMPLE_SOURCE_LINE
    if not sources:
        return "Source: no quotes for this snapshot"
    return "Source: " + ", ".join(sources)


def snapshot_phrase(trade_date: date, snapshot: str) -> str:
    """``mid-day (as of 12:00 HKT)``; the time is left out for a non-trading day."""
    label = SNAPSHOT_LABELS.get(snapshot, snapshot)
    try:
        at = calendar.snapshot_time(trade_date, snapshot)
    except ValueError:
        return label
    return f"{label} (as of {at:%H:%M} HKT)"


def _indices(moves: pd.DataFrame) -> pd.DataFrame:
    order = {code: i for i, code in enumerate(INDEX_CODES)}
    return moves.assign(_o=moves["index_code"].map(order).fillna(99)).sort_values(
        ["_o", "index_code"]
    )


# --- sections ---------------------------------------------------------------------------


def _title(trade_date: date, snapshot: str, moves: pd.DataFrame, sectors: pd.DataFrame) -> str:
    when = "Mid-Day" if snapshot == "midday" else "Close"
    parts = [f"# Hong Kong Stocks {when} Review, {long_date(trade_date)}"]
    hsi = moves[moves["index_code"] == "HSI"]
    headline = []
    if len(hsi):
        row = hsi.iloc[0]
        headline.append(f"Hang Seng Index {_verb(row['change_pct'])} to {num(row['level'])}")
    worst = sectors.dropna(subset=["change_pct"]).sort_values("change_pct").head(1)
    if len(worst) and worst.iloc[0]["change_pct"] < 0:
        headline.append(f"{worst.iloc[0]['industry']} led the decline")
    if headline:
        parts.append("; ".join(headline))
    return " | ".join(parts)


def _overview(
    moves: pd.DataFrame,
    breadth: pd.DataFrame,
    attribution: pd.DataFrame,
    trade_date: date,
    snapshot: str,
) -> list[str]:
    lines = ["## Market Overview", ""]
    indices = _indices(moves)
    if indices.empty:
        lines.append("▪ No index levels for this snapshot.")
    else:
        clauses = [
            f"the {INDEX_NAMES.get(r.index_code, r.index_code)} {_verb(r.change_pct)}"
            f" to {num(r.level)} points"
            for r in indices.itertuples()
        ]
        if len(clauses) > 1:
            clauses[-1] = "and " + clauses[-1]
        changes = indices["change_pct"].dropna()
        count = _NUMBER_WORDS.get(len(indices), str(len(indices)))
        if len(changes) == len(indices) and (changes.round(2) < 0).all():
            lead = f"the {count} major indices all fell"
        elif len(changes) == len(indices) and (changes.round(2) > 0).all():
            lead = f"the {count} major indices all rose"
        else:
            lead = f"the {count} major indices were mixed"
        if len(indices) == 2:
            lead = lead.replace("the two major indices all", "both major indices")
        elif len(indices) == 1:
            lead = "the headline index"
        at = "mid-day" if snapshot == "midday" else "the close"
        lines.append(f"▪ On {long_date(trade_date)}, at {at}, {lead}: " + "; ".join(clauses) + ".")
    lines.append("")
    lines.append(f"▪ {_breadth_sentence(breadth)}")
    lines.append("")
    drag = _attribution_sentence(attribution, moves, "HSI")
    if drag:
        lines.append(f"▪ {drag}")
        lines.append("")
    return lines


def _breadth_sentence(breadth: pd.DataFrame) -> str:
    rows = breadth[breadth["universe"] == "all"]
    if rows.empty or int(rows.iloc[0]["total"]) == 0:
        return "No shares in the breadth universe for this snapshot."
    b = rows.iloc[0]
    text = (
        f"Across {int(b['total']):,} Main Board and GEM shares, {int(b['advancers']):,} stocks"
        f" rose, {int(b['decliners']):,} fell and {int(b['unchanged']):,} were flat"
    )
    extras = []
    if int(b["untraded"]):
        extras.append(f"{int(b['untraded']):,} of the flat did not trade")
    if int(b["no_prev_close"]):
        n = int(b["no_prev_close"])
        extras.append(
            f"{n:,} listing-day {'share' if n == 1 else 'shares'} without a previous close"
            f" {'is' if n == 1 else 'are'} counted apart"
        )
    if extras:
        text += " (" + "; ".join(extras) + ")"
    text += (
        f". Market turnover was HKD {billions(b['total_turnover'])}"
        f" (rising shares HKD {billions(b['up_turnover'])},"
        f" falling shares HKD {billions(b['down_turnover'])})."
    )
    return text


def share_label(name: object, symbol: str) -> str:
    """``Tencent (700.HK)``, or ``700.HK`` alone for a share without a name: the review writes
    codes as the recaps do, never the tables' five digits (``00700``)."""
    code = stock_code(symbol)
    return code if missing(name) else f"{name} ({code})"


def _mover(row: pd.Series) -> str:
    detail = f"{signed(row['change_pct'], suffix='%')}, {signed(row['contribution_points'])} points"
    code = stock_code(row["symbol"])
    # "Tencent (700.HK, -1.2%, -30.5 points)"; without a name "700.HK (-1.2%, -30.5 points)"
    if missing(row["name"]):
        return f"{code} ({detail})"
    return f"{row['name']} ({code}, {detail})"


def _attribution_sentence(attribution: pd.DataFrame, moves: pd.DataFrame, index: str) -> str:
    rows = attribution[attribution["index_code"] == index].dropna(subset=["contribution_points"])
    if rows.empty:
        return ""
    draggers = rows[rows["contribution_points"] < 0].nsmallest(MOVERS_SHOWN, "contribution_points")
    lifters = rows[rows["contribution_points"] > 0].nlargest(MOVERS_SHOWN, "contribution_points")
    name = INDEX_NAMES.get(index, index)
    parts = []
    if len(draggers):
        parts.append(
            f"The constituents that dragged the {name} most were "
            + _series([_mover(r) for _, r in draggers.iterrows()])
        )
    if len(lifters):
        lift = _series([_mover(r) for _, r in lifters.iterrows()])
        parts.append(f"the biggest lifts came from {lift}" if parts else f"Lifting it: {lift}")
    text = "; ".join(parts) + "."
    text = text[0].upper() + text[1:]
    if "method" in rows.columns and (rows["method"] == "feed").any():
        text += " Points as published by the index feed, which gives no weights."
    move = moves[moves["index_code"] == index]
    if len(move) and not missing(move.iloc[0]["computed_level"]):
        m = move.iloc[0]
        text += (
            f" Contributions sum to {signed(rows['contribution_points'].sum())} points against"
            f" an official change of {signed(m['change_points'])}"
            f" (formula level {num(m['computed_level'])}, {signed(m['diff_bp'])} bp)."
        )
    return text


def _named_movers(top: pd.DataFrame, industry: str) -> pd.DataFrame:
    """The leaders a review names for a falling industry.

    Among the industry's NAMED_POOL most traded shares (by top-turnover rank), the two that
    fell most, listed by turnover rank (the recap: Alibaba -4.07%, then SMIC -5.31%).
    """
    pool = top[top["industry"] == industry].sort_values("rank").head(NAMED_POOL)
    fallers = pool[pool["change_pct"] < 0].nsmallest(2, "change_pct")
    return fallers.sort_values("rank")


def _sectors(sectors: pd.DataFrame, top: pd.DataFrame) -> list[str]:
    lines = ["## Sector Performance", ""]
    ranked = sectors.dropna(subset=["change_pct"]).sort_values("rank")
    if ranked.empty:
        return [*lines, "▪ No industry data for this snapshot.", ""]
    worst = ranked.iloc[-1]
    if worst["change_pct"] < 0:
        text = (
            f"▪ {worst['industry']} led the decline, {move_words(worst['change_pct'])}"
            f" (market-cap weighted; {int(worst['advancers']):,} up,"
            f" {int(worst['decliners']):,} down, {num(worst['turnover_share_pct'])}% of turnover)"
        )
        named = _named_movers(top, worst["industry"])
        if len(named):
            text += ", with " + _series(
                [f"{r['name']} {move_words(r['change_pct'])}" for _, r in named.iterrows()]
            )
        lines += [text + ".", ""]
    up = ranked[ranked["change_pct"].round(2) > 0]
    if len(up):
        listed = _series(
            [f"{r['industry']} ({signed(r['change_pct'], suffix='%')})" for _, r in up.iterrows()]
        )
        noun = "industry" if len(up) == 1 else "industries"
        lines += [f"▪ {len(up)} {noun} rose: {listed}.", ""]
    else:
        lines += ["▪ No industry rose.", ""]
    return lines


def _period_words(series_id: str, period: str | None) -> str:
    """``2025-10`` -> ``Aug-Oct 2025`` (unemployment: 3 months to it), ``October 2025``."""
    if missing(period):
        return "n/a"
    try:
        end = pd.Period(str(period), freq="M")
    except ValueError:
        return str(period)
    if series_id.startswith("unemployment"):
        start = end - 2
        year = f" {start.year}" if start.year != end.year else ""
        return f"{start.strftime('%b')}{year}-{end.strftime('%b %Y')}"
    if series_id == "fx_reserves":
        return f"end-{end.strftime('%B %Y')}"
    return end.strftime("%B %Y")


def _macro_value(unit: str | None, value: float | None) -> str:
    unit_l = (unit or "").lower()
    if missing(value):
        return "n/a"
    if "percent" in unit_l or unit_l == "%":
        return f"{value:.1f}%"
    if "usd million" in unit_l or "us$ million" in unit_l:
        return f"US${value / 1e3:,.1f} billion"
    if unit_l in ("index", "points", ""):
        return f"{value:,.1f}"
    return f"{value:,.2f} {unit}"


def _macro_change(unit: str | None, change: float | None) -> str:
    unit_l = (unit or "").lower()
    if missing(change):
        return ""
    if "percent" in unit_l or unit_l == "%":
        size, noun = f"{abs(change):.1f}", " percentage point"
        noun += "" if abs(change) <= 1.05 else "s"
    elif "usd million" in unit_l or "us$ million" in unit_l:
        size, noun = f"US${abs(change) / 1e3:,.1f} billion", ""
    else:
        size, noun = f"{abs(change):,.1f}", ""
    if float(size.replace("US$", "").replace(" billion", "").replace(",", "")) == 0:
        return "unchanged"
    return f"{'up' if change > 0 else 'down'} {size}{noun}"


_MACRO_LABELS = {
    "unemployment_rate_sa": "The seasonally adjusted unemployment rate",
    "pmi": "The S&P Global Hong Kong SAR PMI",
    "fx_reserves": "Foreign currency reserve assets",
}


def _macro(macro: pd.DataFrame) -> list[str]:
    lines = ["## Macroeconomic Background", ""]
    if macro.empty:
        return [*lines, "▪ No macro readings had been released by this snapshot.", ""]
    order = {s: i for i, s in enumerate(MACRO_ORDER)}
    macro = macro.assign(_o=macro["series_id"].map(order).fillna(99)).sort_values(
        ["_o", "series_id"]
    )
    for r in macro.itertuples():
        label = _MACRO_LABELS.get(r.series_id, r.series_id)
        verb = "were" if r.series_id == "fx_reserves" else "was"
        prep = "at" if r.series_id == "fx_reserves" else "for"
        text = (
            f"▪ {label} {verb} {_macro_value(r.unit, r.value)} {prep}"
            f" {_period_words(r.series_id, r.period)}"
        )
        change = _macro_change(r.unit, r.change)
        if change:
            text += (
                f", {change} from {_macro_value(r.unit, r.previous_value)}"
                f" ({_period_words(r.series_id, r.previous_period)})"
            )
        released = pd.Timestamp(r.released_on).date() if not missing(r.released_on) else None
        if released:
            text += f"; released {released.isoformat()}"
        lines += [text + ".", ""]
    return lines


def _turnover(top: pd.DataFrame) -> list[str]:
    lines = ["## Top 10 Market Turnover", ""]
    rows = top.sort_values("rank").head(TURNOVER_SHOWN)
    if rows.empty:
        return [*lines, "▪ No trades in this snapshot.", ""]
    for r in rows.itertuples():
        lines.append(
            f"{int(r.rank)}. {share_label(r.name, r.symbol)} latest price HKD {num(r.last)},"
            f" {move_words(r.change_pct)}, turnover HKD {billions(r.turnover)}"
        )
    lines.append("")
    return lines


@dataclass(frozen=True)
class ReviewData:
    """The rows one review is written from, read once (write_report shares them with the chart)."""

    moves: pd.DataFrame
    attribution: pd.DataFrame
    breadth: pd.DataFrame
    sectors: pd.DataFrame
    top: pd.DataFrame
    macro: pd.DataFrame
    sources: list[str]


def no_session_text(trade_date: date, snapshot: str) -> str | None:
    """The review of a snapshot without a session (a morning weather cancelled), else None.

    Such a partition holds no quotes by design (calendar.snapshot_traded): the review says
    why instead of refusing, so a backfill over the day does not stop.
    """
    reason = calendar.no_session_reason(trade_date, snapshot)
    if reason is None:
        return None
    when = "Mid-Day" if snapshot == "midday" else "Close"
    s = calendar.session(trade_date)
    resumed = f" Trading started at {s.afternoon_open:%H:%M} HKT;" if s.afternoon_open else ""
    return (
        f"# Hong Kong Stocks {when} Review, {long_date(trade_date)} | No session\n\n"
        f"*{trade_date.isoformat()}, {snapshot_phrase(trade_date, snapshot)}.*\n\n"
        f"No {SNAPSHOT_LABELS.get(snapshot, snapshot)} session: {reason}.{resumed}"
        " the close review covers the afternoon. This snapshot holds no quotes, bars or"
        " index levels, and its marts have no rows.\n"
    )


def read_review_data(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> ReviewData:
    """The partition's mart rows and quote sources; NoQuotesError if it has no quotes."""
    require_quotes(con, trade_date, snapshot)
    part = (trade_date, snapshot)
    breadth = read_mart(con, "market_breadth", *part)
    if breadth.empty:  # every universe has a row in a written partition with a session
        raise MartsNotWrittenError(
            f"the marts of {trade_date.isoformat()} {snapshot} are not written yet, so there is"
            " nothing to review; materialise them first with: hk-pipeline run --date"
            f" {trade_date.isoformat()} --snapshot {snapshot}"
        )
    return ReviewData(
        moves=read_mart(con, "index_moves", *part),
        attribution=read_mart(con, "index_attribution", *part),
        breadth=breadth,
        sectors=read_mart(con, "sector_performance", *part),
        top=read_mart(con, "top_turnover", *part),
        macro=read_mart(con, "macro_asof", *part),
        sources=quote_sources(con, *part),
    )


def review_text(trade_date: date, snapshot: str, data: ReviewData) -> str:
    """The review of partition (trade_date, snapshot) as Markdown, from rows already read."""
    lines = [
        _title(trade_date, snapshot, data.moves, data.sectors),
        "",
        f"*{trade_date.isoformat()}, {snapshot_phrase(trade_date, snapshot)}."
        f" {source_line(data.sources)}.*",
        "",
    ]
    lines += _overview(data.moves, data.breadth, data.attribution, trade_date, snapshot)
    lines += _sectors(data.sectors, data.top)
    lines += _macro(data.macro)
    lines += _turnover(data.top)
    return "\n".join(lines).rstrip() + "\n"


def render_review(con: duckdb.DuckDBPyConnection, trade_date: date, snapshot: str) -> str:
    """The review of partition (trade_date, snapshot) as Markdown."""
    quiet = no_session_text(trade_date, snapshot)
    if quiet is not None:
        return quiet
    return review_text(trade_date, snapshot, read_review_data(con, trade_date, snapshot))
