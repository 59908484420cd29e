"""Bad input: provider payloads and landing files from hypothesis, through validation.

Whatever arrives, the only exceptions are the documented ones (SourceError and its landing
and provider subclasses, SchemaMismatchError), each with a message; the rows validation
keeps never break the table's model (validating them again rejects nothing).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from hk_pipeline.schemas.validate import SchemaMismatchError, validate_frame
from hk_pipeline.sources import eastmoney, hkma, yahoo
from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.http import HttpClient
from hk_pipeline.sources.landing import LandingSource
from hk_pipeline_tests.reliability.conftest import hypothesis_settings

AREA = "bad input"
DAY = date(2025, 11, 21)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "live"
SETTINGS = hypothesis_settings(120, long_examples=1000)

odd_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**15), 10**15),
    st.sampled_from(["-", "", "NaN", "inf", "1e400", "12.5", None, [], {}]),
    st.text(max_size=5),
)


def _expect_clean(table: str, frame: Any, counts: dict[str, int]) -> None:
    try:
        outcome = validate_frame(table, frame)
    except SchemaMismatchError as exc:
        assert str(exc).strip()
        counts["schema"] = counts.get("schema", 0) + 1
        return
    again = validate_frame(table, outcome.valid)
    assert again.n_rejected == 0, again.rejected.head().to_dict("records")
    counts["validated"] = counts.get("validated", 0) + 1


def _source_error(exc: SourceError, counts: dict[str, int]) -> None:
    assert str(exc).strip()
    counts["source_error"] = counts.get("source_error", 0) + 1


def _mutate(obj: Any, data: st.DataObject) -> Any:
    """Replace some leaves of a JSON payload with odd values, or drop keys."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if data.draw(st.integers(0, 19)) == 0:
                continue  # key dropped
            out[k] = _mutate(v, data)
        return out
    if isinstance(obj, list):
        items = [_mutate(v, data) for v in obj[:40]]
        if items and data.draw(st.integers(0, 9)) == 0:
            items.append(items[0])  # duplicate key
        return items
    if data.draw(st.integers(0, 7)) == 0:
        return data.draw(odd_numbers)
    return obj


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_eastmoney_payloads(tally) -> None:
    t = tally(AREA)
    page = _load("eastmoney_clist_shares_p1.json")
    counts: dict[str, int] = {}

    @SETTINGS
    @given(st.data())
    def case(data: st.DataObject) -> None:
        t.cases += 1
        payload = _mutate(page, data)
        body = json.dumps(payload, allow_nan=True).encode()
        if data.draw(st.integers(0, 9)) == 0:
            body = body[: data.draw(st.integers(0, len(body)))]  # truncated answer

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=body)

        client = HttpClient(
            "eastmoney",
            transport=httpx.MockTransport(handler),
            sleep=lambda _s: None,
            min_interval=0,
        )
        try:
            rows = eastmoney.fetch_list(client, "m:116", "shares")
            frame = eastmoney.to_quotes(rows, DAY, "close")
        except SourceError as exc:
            _source_error(exc, counts)
            return
        finally:
            client.close()
        _expect_clean("raw.quotes", frame, counts)

    case()
    t.trials += 1
    t.survived += 1


def test_yahoo_and_hkma_payloads(tally) -> None:
    t = tally(AREA)
    chart = _load("yahoo_chart_HSI_1m.json")
    resv = _load("hkma_fc_resv_assests.json")
    counts: dict[str, int] = {}

    @SETTINGS
    @given(st.data())
    def case(data: st.DataObject) -> None:
        t.cases += 1
        try:
            bars = yahoo.parse_bars(_mutate(chart, data), "^HSI")
            part = yahoo.session_part(bars, DAY, "midday")
            frame = yahoo.to_bars(part, "HSI", DAY, "midday")
        except SourceError as exc:
            _source_error(exc, counts)
        else:
            _expect_clean("raw.intraday_bars", frame, counts)
        try:
            records = hkma.page_records(_mutate(resv, data), 0)
            macro = hkma.to_rows(records, DAY)
        except SourceError as exc:
            _source_error(exc, counts)
        else:
            _expect_clean("raw.macro_series", macro, counts)

    case()
    t.trials += 1
    t.survived += 1


QUOTE_HEADER = ["symbol", "prev_close", "open", "high", "low", "last", "volume", "turnover"]
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: f"{x!r}"),
    st.integers(-(10**13), 10**13).map(str),
    st.sampled_from(["", "nan", "inf", "-1", "0", "1e400", "abc", "99999999999"]),
)
symbols = st.one_of(
    st.sampled_from(["00700", "09988", "00005", "99999", "0700", ""]), st.text(max_size=6)
)


def test_landing_quotes_through_validation(tmp_path: Path, tally) -> None:
    t = tally(AREA)
    root = tmp_path / "landing"
    (root / "quotes").mkdir(parents=True)
    path = root / "quotes" / f"{DAY.isoformat()}_close.csv"
    counts: dict[str, int] = {}

    @SETTINGS
    @given(
        header=st.one_of(
            st.just(QUOTE_HEADER),
            st.permutations(QUOTE_HEADER),
            st.lists(st.sampled_from([*QUOTE_HEADER, "x"]), max_size=9),
        ),
        rows=st.lists(st.tuples(symbols, *[cells] * 7), max_size=30),
        how=st.sampled_from(["utf8", "latin1", "utf16", "truncate", "huge"]),
    )
    def case(header: list[str], rows: list[tuple[str, ...]], how: str) -> None:
        t.cases += 1
        text = "\n".join(",".join(f'"{c}"' for c in r) for r in [header, *rows]) + "\n"
        data = text.encode("utf-8")
        if how == "latin1":
            data = text.encode("latin-1", "replace") + b"\xe9\xff\n"
        elif how == "utf16":
            data = text.encode("utf-16")
        elif how == "truncate":
            data = data[: len(data) // 2]
        elif how == "huge":
            data += ("00700," + ",".join(["1"] * 7) + "\n").encode() * 20_000
        path.write_bytes(data)
        try:
            frame = LandingSource(root).quotes(DAY, "close")
        except SourceError as exc:
            _source_error(exc, counts)
            return
        _expect_clean("raw.quotes", frame, counts)

    case()
    t.trials += 1
    t.survived += 1
