"""Arrow columns for the CSV files, built as bytes where Arrow's own formatting is slow.

Crime IDs (a hash, so an outcome written months later can rebuild its crime's ID), dictionary-encoded
columns, "YYYY-MM-DD HH:MM" timestamps and six-decimal coordinates.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_U64 = (1 << 64) - 1


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrap-around arithmetic is intended)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def crime_ids(seed: int, force: int, month: np.ndarray, event: np.ndarray, valid: np.ndarray) -> pa.Array:
    """64 lowercase hex characters per crime, a hash of (seed, force, month, event); null where not valid.

    A hash rather than a random draw so the outcomes of a crime, written months later, can rebuild its ID.
    """
    n = len(event)
    key = (
        (np.uint64(force) << np.uint64(48))
        | (month.astype(np.uint64) << np.uint64(32))
        | event.astype(np.uint64)
    )
    words = np.empty((n, 4), dtype=np.uint64)
    for w in range(4):
        salt = np.uint64((seed * 4 + w) * 0x632BE59BD9B4E019 & _U64)
        words[:, w] = _mix64(_mix64(key ^ salt) + np.uint64(w))
    raw = words.view(np.uint8).reshape(n, 32)[valid]
    text = np.empty((len(raw), 64), dtype=np.uint8)
    text[:, 0::2] = _HEX[raw >> 4]
    text[:, 1::2] = _HEX[raw & 15]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(valid, 64, 0), out=offsets[1:])
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.large_string(),
        n,
        [validity, pa.py_buffer(offsets), pa.py_buffer(text.ravel())],
        null_count=int(n - valid.sum()),
    )


def dict_column(indices: np.ndarray, dictionary: pa.Array, null: np.ndarray | None = None) -> pa.Array:
    """``dictionary[indices]`` as a dictionary array (each distinct text built once), null where ``null``."""
    idx = pa.array(indices.astype(np.int32), mask=null)
    return pa.DictionaryArray.from_arrays(idx, dictionary)


def constant_column(value: str, n: int) -> pa.Array:
    """``value`` n times, as a one-entry dictionary array."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


def minute_strings(minutes: np.ndarray, sep: str, tail: str, bst: np.ndarray | None = None) -> pa.Array:
    """ "YYYY-MM-DD<sep>HH:MM<tail>" for minutes since 1970, built as bytes (Arrow's strftime is slow).

    With ``bst``, the tail's "+00:00" becomes "+01:00" on those rows.
    """
    m = np.asarray(minutes, dtype=np.int64)
    n, width = len(m), 16 + len(tail)
    day = (m // 1440).astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    fields = (
        (0, 4, day.astype("datetime64[Y]").astype(np.int64) + 1970),
        (5, 2, month_start.astype(np.int64) % 12 + 1),
        (8, 2, (day - month_start).astype(np.int64) + 1),
        (11, 2, (m // 60) % 24),
        (14, 2, m % 60),
    )
    raw = np.empty((n, width), dtype=np.uint8)
    raw[:, :16] = np.frombuffer(f"0000-00-00{sep}00:00".encode(), dtype=np.uint8)
    raw[:, 16:] = np.frombuffer(tail.encode(), dtype=np.uint8)
    for col, digits, value in fields:
        for k in range(digits):
            raw[:, col + digits - 1 - k] = 48 + (value // 10**k) % 10
    if bst is not None:
        raw[bst, width - 4] = ord("1")
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw)])


def fixed6(values: np.ndarray) -> pa.Array:
    """Six decimals, as police.uk writes coordinates ("-1.500000"), built without a Python loop."""
    micro = np.round(np.asarray(values, dtype=float) * 1e6).astype(np.int64)
    whole, frac = np.divmod(np.abs(micro), 1_000_000)
    sign = pa.array(np.where(micro < 0, "-", ""))
    frac_text = pc.utf8_lpad(pa.array(frac).cast(pa.string()), 6, "0")
    return pc.binary_join_element_wise(sign, pa.array(whole).cast(pa.string()), ".", frac_text, "")
