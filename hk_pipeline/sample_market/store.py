"""Write a built DailyMarket to one file and read it back bit for bit.

Why: building the market takes about 2 s and every process using the sample source needs it;
reading this file back takes about 0.1 s (see ``disk_cache``, which decides when to use it).

Layout: an uncompressed .npz (a zip, whose per-member CRC-32 turns a damaged file into an
error) holding a JSON header and one blob per array. Numeric arrays are their raw bytes
compressed with LZ4, so every value, NaN payloads included, comes back unchanged; text
(the universe frame, the symbols) is an Arrow IPC stream, which keeps dtypes, ``None`` and
``datetime.date`` cells as they were. A market with a field this module does not know is
refused rather than stored without it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa

from hk_pipeline.sample_market.daily import DailyMarket

FORMAT = 2  # 2: index_ohlc, cap factors per review
_CODEC = "lz4"
ARRAYS = (
    "alive",
    "listing_day",
    "fair",
    "close",
    "midday",
    "traded_am",
    "traded_pm",
    "daily_vol",
    "cap_periods",
)
ARRAY_DICTS = ("factors", "index_close", "index_midday", "index_ohlc", "cap_factor")
# Set on the object after construction by daily.simulate and recap.apply_recap.
EXTRAS = ("close_idx", "turnover_pins", "turnover_caps")
DERIVED = ("_day_pos",)  # rebuilt by DailyMarket.__post_init__
KNOWN_FIELDS = frozenset(("days", "symbols", "universe", *ARRAYS, *ARRAY_DICTS, *EXTRAS, *DERIVED))


class StoreError(ValueError):
    """The file is not a stored market for this key, or the market cannot be stored whole."""


def dump(market: DailyMarket, fh: IO[bytes], key: str) -> None:
    """Write every field of `market` to the open binary file `fh`, labelled with `key`."""
    unknown = sorted(set(vars(market)) - KNOWN_FIELDS)
    if unknown:
        raise StoreError(f"DailyMarket has fields the store does not know: {unknown}")
    arrays: dict[str, np.ndarray] = {name: getattr(market, name) for name in ARRAYS}
    for field in ARRAY_DICTS:
        for code, values in getattr(market, field).items():
            arrays[f"{field}/{code}"] = values
    arrays["days"] = np.array([d.toordinal() for d in market.days], dtype=np.int64)
    extras = [name for name in EXTRAS if hasattr(market, name)]
    if "close_idx" in extras:
        arrays["close_idx"] = market.close_idx  # type: ignore[attr-defined]
    if "turnover_pins" in extras:
        pins: dict[tuple[int, int], float] = market.turnover_pins  # type: ignore[attr-defined]
        arrays["turnover_pins/keys"] = np.array(list(pins), dtype=np.int64).reshape(-1, 2)
        arrays["turnover_pins/values"] = np.array(list(pins.values()), dtype=np.float64)
    if "turnover_caps" in extras:
        caps: dict[int, np.ndarray] = market.turnover_caps  # type: ignore[attr-defined]
        arrays["turnover_caps/keys"] = np.array(list(caps), dtype=np.int64)
        arrays["turnover_caps/values"] = np.stack(list(caps.values()))
    members: dict[str, np.ndarray] = {}
    specs: dict[str, dict[str, Any]] = {}
    codec = pa.Codec(_CODEC)
    for name, values in arrays.items():
        if values.dtype.hasobject:
            raise StoreError(f"{name}: object arrays are stored as text, not raw bytes")
        raw = np.ascontiguousarray(values)
        members[name] = np.frombuffer(codec.compress(raw, asbytes=True), dtype=np.uint8)
        specs[name] = {"dtype": raw.dtype.str, "shape": list(raw.shape), "nbytes": raw.nbytes}
    members["universe.arrow"] = _ipc(pa.Table.from_pandas(market.universe))
    members["symbols.arrow"] = _ipc(pa.table({"symbol": pa.array(market.symbols, pa.string())}))
    header = {
        "format": FORMAT,
        "key": key,
        "arrays": specs,
        "dicts": {field: list(getattr(market, field)) for field in ARRAY_DICTS},
        "extras": extras,
    }
    members["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(fh, **members)


def load(path: Path, key: str) -> DailyMarket:
    """The market stored at `path`; StoreError if it was written for another key or format.

    A truncated or damaged file raises what reading it raises (zipfile.BadZipFile, OSError,
    ValueError, KeyError, EOFError or a pyarrow error); ``disk_cache.LOAD_ERRORS`` lists them.
    """
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes())
        if header.get("format") != FORMAT or header.get("key") != key:
            raise StoreError(
                f"{path} holds format {header.get('format')} key {header.get('key')},"
                f" expected format {FORMAT} key {key}"
            )
        codec = pa.Codec(_CODEC)
        arrays = {name: _array(codec, z[name], spec) for name, spec in header["arrays"].items()}
        universe = _read_ipc(z["universe.arrow"]).to_pandas()
        symbols = _read_ipc(z["symbols.arrow"]).column("symbol").to_numpy(zero_copy_only=False)
    days = [date.fromordinal(int(o)) for o in arrays["days"]]
    if universe.shape[0] != symbols.shape[0] or arrays["alive"].shape != (len(symbols), len(days)):
        raise StoreError(f"{path}: array shapes do not match the universe and the days")
    market = DailyMarket(
        days=days,
        symbols=symbols,
        universe=universe,
        **{name: arrays[name] for name in ARRAYS},
        **{
            field: {code: arrays[f"{field}/{code}"] for code in header["dicts"][field]}
            for field in ARRAY_DICTS
        },
    )
    extras = header["extras"]
    if "close_idx" in extras:
        market.close_idx = arrays["close_idx"]  # type: ignore[attr-defined]
    if "turnover_pins" in extras:
        keys, values = arrays["turnover_pins/keys"], arrays["turnover_pins/values"]
        market.turnover_pins = {  # type: ignore[attr-defined]
            (int(k), int(i)): float(v) for (k, i), v in zip(keys, values, strict=True)
        }
    if "turnover_caps" in extras:
        keys, values = arrays["turnover_caps/keys"], arrays["turnover_caps/values"]
        market.turnover_caps = {  # type: ignore[attr-defined]
            int(k): values[j].copy() for j, k in enumerate(keys)
        }
    return market


def _array(codec: pa.Codec, blob: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Decompress into a writable array (Arrow's output buffer is mutable and owned)."""
    buf = codec.decompress(blob, decompressed_size=int(spec["nbytes"]))
    if buf.size != spec["nbytes"]:
        raise StoreError(f"array of {spec['nbytes']} bytes decompressed to {buf.size}")
    return np.frombuffer(buf, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])


def _ipc(table: pa.Table) -> np.ndarray:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return np.frombuffer(sink.getvalue(), dtype=np.uint8)


def _read_ipc(blob: np.ndarray) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
