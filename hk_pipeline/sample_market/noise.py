"""Counter-based random numbers keyed by (symbol, date, stream).

Every draw is a pure function of its key, so a day's rows never depend on which days were
generated before, and the same key gives the same number on any machine. numpy's own
generators are sequential per seed; hashing keys with splitmix64 gives vectorised,
order-free draws, which is what the simulator needs.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def symbol_keys(symbols: np.ndarray | list[str]) -> np.ndarray:
    """A uint64 key per symbol (codes and index names alike)."""
    raw = np.array([int.from_bytes(s.encode()[:8].ljust(8, b"\0"), "little") for s in symbols])
    return splitmix64(raw.astype(np.uint64))


def cell_keys(*parts: np.ndarray | int) -> np.ndarray:
    """One uint64 key per cell of the broadcast key parts (e.g. symbol keys x day ordinals)."""
    arrays = np.broadcast_arrays(*[np.asarray(p, dtype=np.uint64) for p in parts])
    h = np.full(arrays[0].shape, 0x2545F4914F6CDD1D, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in arrays:
            h = splitmix64(part ^ (h * _GOLDEN))
    return h


def uniforms(keys: np.ndarray, stream: int) -> np.ndarray:
    """Uniforms in (0, 1), one per cell key, independent across streams."""
    with np.errstate(over="ignore"):
        h = splitmix64(keys ^ (np.uint64(stream) * _M2))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normals(keys: np.ndarray, stream: int) -> np.ndarray:
    """Standard normals by Box-Muller from two hashed uniforms of the stream."""
    u1 = uniforms(keys, 2 * stream)
    u2 = uniforms(keys, 2 * stream + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
