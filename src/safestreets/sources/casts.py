"""Typing text columns with pyarrow compute, with DuckDB's meaning for every value.

The loader once typed rows with DuckDB SQL (``nullif(trim(x), '')``, ``TRY_CAST``, ``md5``). Scanning
Arrow strings through DuckDB costs about 0.2 microseconds per value per column, which made typing
the largest share of a load. These functions do the same in pyarrow on whole columns: values in the
shapes police.uk publishes take a fast path whose result is known to equal DuckDB's; anything else
(spaces around a number, ``1e-05``, a naive time) is handed to DuckDB itself, distinct values only, so
the meaning never drifts from the SQL it replaced.

All functions take and return ``pa.Array`` (not chunked). They are safe to call from several threads:
each thread has its own in-memory DuckDB connection for the fallbacks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# DuckDB's trim() strips exactly the Unicode space separators (category Zs), not tabs or newlines.
ZS = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Plain decimals: pyarrow and DuckDB both parse these with correct rounding, so they agree exactly.
_DECIMAL = r"^-?[0-9]{1,15}(\.[0-9]{1,17})?$"
# ISO 8601 with an explicit offset: an instant whatever the session time zone.
_INSTANT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
_BOOLEANS = {"True": True, "False": False, "true": True, "false": False}
UTC_MICROS = pa.timestamp("us", tz="UTC")

_local = threading.local()


def duck(timezone: str | None = None) -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB, for the few values the fast paths leave and for md5; with
    ``timezone``, its session time zone set to that."""
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET threads = 1")  # inputs here are small; the load runs other work beside it
        con.execute("SET preserve_insertion_order = true")  # results come back in row order
        _local.con = con
        _local.tz = None
    if timezone is not None and _local.tz != timezone:
        con.execute(f"SET TimeZone = '{timezone.replace(chr(39), chr(39) * 2)}'")
        _local.tz = timezone
    return con


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (copying only when there are several chunks)."""
    if isinstance(values, pa.Array):
        return values
    if values.num_chunks == 1:
        return values.chunk(0)
    return values.combine_chunks()


def with_validity(values: pa.Array, valid: pa.Array) -> pa.Array:
    """``values`` made NULL where ``valid`` is false or NULL, without copying the strings (the
    validity bitmap is the only new buffer)."""
    keep = pc.and_kleene(pc.fill_null(valid, False), pc.is_valid(values))
    if values.offset or keep.offset:
        values, keep = pc.take(values, pa.array(np.arange(len(values)))), keep.combine_chunks()
    if not isinstance(values, (pa.StringArray, pa.BinaryArray)):
        return pc.if_else(keep, values, pa.scalar(None, values.type))
    return pa.Array.from_buffers(values.type, len(values), [keep.buffers()[1], *values.buffers()[1:]])


def text(values: pa.Array) -> pa.Array:
    """``nullif(trim(x), '')``."""
    trimmed = pc.utf8_trim(values, ZS)
    return with_validity(trimmed, pc.not_equal(trimmed, ""))


def is_blank(values: pa.Array) -> np.ndarray:
    """``nullif(trim(x), '') IS NULL`` as a numpy bool array."""
    return flags(pc.is_null(text(values)))


def flags(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean column as numpy, NULL counting as false (SQL's WHERE)."""
    filled = pc.fill_null(as_array(mask), False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def map_distinct(values: pa.Array, fn: Callable[[Any], Any], type_: pa.DataType) -> pa.Array:
    """``fn`` applied once per distinct value (police.uk columns like Month or Crime type hold few)."""
    encoded = encode(values)
    mapped = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], type_)
    return pc.take(mapped, encoded.indices)


def encode(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """``values`` dictionary-encoded as one array. A column of several chunks (a batch of files) is
    encoded chunk by chunk into one dictionary, so only the small indices are combined, not the text."""
    if isinstance(values, pa.DictionaryArray):
        return values
    if isinstance(values, pa.ChunkedArray) and values.num_chunks == 0:
        values = pa.array([], values.type)
    encoded = pc.dictionary_encode(values)
    return encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded


def spread(encoded: pa.DictionaryArray, per_value: pa.Array | np.ndarray) -> pa.Array | np.ndarray:
    """Values given per dictionary entry of ``encoded``, one per row (a NULL index gives NULL, or
    false for a numpy mask)."""
    if isinstance(per_value, np.ndarray):
        idx = encoded.indices
        if idx.null_count:
            return np.asarray(per_value, dtype=bool)[pc.fill_null(idx, 0).to_numpy()] & flags(
                pc.is_valid(idx)
            )
        return per_value[idx.to_numpy()]
    return pc.take(per_value, encoded.indices)


def text_encoded(encoded: pa.DictionaryArray) -> pa.DictionaryArray:
    """``text`` of an encoded column, still encoded: one entry per distinct trimmed value, and a NULL
    index where the trimmed value is blank."""
    trimmed = pc.dictionary_encode(text(encoded.dictionary))  # equal trimmed values share an entry
    return pa.DictionaryArray.from_arrays(pc.take(trimmed.indices, encoded.indices), trimmed.dictionary)


def map_encoded(
    encoded: pa.DictionaryArray, fn: Callable[[Any], Any], type_: pa.DataType
) -> pa.DictionaryArray:
    """``fn`` applied once per dictionary entry, still encoded. A row whose entry maps to None gets a
    NULL index, so ``is_null`` (which reads the indices) sees it."""
    mapped = pa.array([None if v is None else fn(v) for v in encoded.dictionary.to_pylist()], type_)
    return keep_entries(pa.DictionaryArray.from_arrays(encoded.indices, mapped), pc.is_valid(mapped))


def keep_entries(encoded: pa.DictionaryArray, keep: pa.Array) -> pa.DictionaryArray:
    """``encoded`` with the rows whose dictionary entry ``keep`` marks false or NULL made NULL."""
    keep = pc.fill_null(keep, False)
    if keep.false_count == 0:
        return encoded
    indices = encoded.indices
    indices = pc.if_else(pc.take(keep, indices), indices, pa.scalar(None, indices.type))
    return pa.DictionaryArray.from_arrays(indices, encoded.dictionary)


def plain(values: pa.Array) -> pa.Array:
    """A dictionary-encoded column decoded to its value type (other arrays as they are)."""
    return values.dictionary_decode() if isinstance(values, pa.DictionaryArray) else values


def _duck_cast(values: pa.Array, sql_type: str, tz: str | None = None) -> pa.Array:
    """DuckDB's ``TRY_CAST(nullif(trim(v), '') AS sql_type)`` over distinct values, mapped back."""
    encoded = pc.dictionary_encode(values)
    con = duck(tz)
    distinct = pa.table({"i": pa.array(np.arange(len(encoded.dictionary))), "v": encoded.dictionary})
    con.register("_cast_in", distinct)
    try:
        cast = con.sql(
            f"SELECT TRY_CAST(nullif(trim(v), '') AS {sql_type}) AS c FROM _cast_in ORDER BY i"
        ).to_arrow_table()
    finally:
        con.unregister("_cast_in")
    out = as_array(cast.column("c"))
    if sql_type == "TIMESTAMPTZ":
        out = out.cast(UTC_MICROS)
    return pc.take(out, encoded.indices)


def _typed(
    values: pa.Array, fast: pa.Array, to: pa.DataType, sql_type: str, tz: str | None = None
) -> pa.Array:
    """Cast the rows ``fast`` marks with pyarrow, the blank ones to NULL, the rest through DuckDB."""
    fast_np = flags(fast)
    if fast_np.all():
        try:
            return pc.cast(values, to)
        except pa.ArrowInvalid:  # matched the shape but not a real value (a 30 February): DuckDB decides
            return _duck_cast(values, sql_type, tz)
    try:
        out = pc.cast(with_validity(values, pa.array(fast_np)), to)
    except pa.ArrowInvalid:
        return _duck_cast(values, sql_type, tz)
    rest = ~fast_np & ~flags(pc.equal(values, ""))
    if rest.any():
        idx = np.flatnonzero(rest)
        slow = _duck_cast(pc.take(values, pa.array(idx)), sql_type, tz)
        out = pc.replace_with_mask(out, pa.array(rest), slow)
    return out


def to_double(values: pa.Array) -> pa.Array:
    """``TRY_CAST(nullif(trim(x), '') AS DOUBLE)``."""
    return _typed(values, pc.match_substring_regex(values, _DECIMAL), pa.float64(), "DOUBLE")


def to_instant(values: pa.Array, tz: str) -> pa.Array:
    """``TRY_CAST(nullif(trim(x), '') AS TIMESTAMPTZ)`` with session time zone ``tz`` (which only
    matters for times without an offset), as UTC microseconds."""
    return _typed(values, pc.match_substring_regex(values, _INSTANT), UTC_MICROS, "TIMESTAMPTZ", tz)


def to_boolean(values: pa.Array) -> pa.Array:
    """``TRY_CAST(nullif(trim(x), '') AS BOOLEAN)``."""
    return _typed(values, pc.is_in(values, pa.array(list(_BOOLEANS))), pa.bool_(), "BOOLEAN")


def repeated_rows(**columns: pa.Array) -> np.ndarray:
    """Indices of the rows whose values in ``columns`` (DuckDB's 64-bit hash of them, to be exact)
    occur more than once, in order: a superset of the repeated rows, for the caller to confirm."""
    con = duck()
    n = len(next(iter(columns.values())))
    con.register("_rows_in", pa.table({**columns, "_i": pa.array(np.arange(n, dtype=np.int64))}))
    try:
        found = con.sql(
            f"SELECT unnest(list(_i)) AS i FROM (SELECT _i, hash({', '.join(columns)}) AS h "
            "FROM _rows_in) GROUP BY h HAVING count(*) > 1"
        ).fetchnumpy()["i"]
    finally:
        con.unregister("_rows_in")
    return np.sort(np.asarray(found, dtype=np.int64))


def md5_hex(joined: pa.Array, prefix: str) -> pa.Array:
    """``prefix || md5(s)`` for each string (DuckDB's md5, which releases the GIL while it works).
    md5 is the costliest step of keying rows, and the thread storing rows is often waiting for this
    one: large inputs are hashed in slices on more than one core (results stay in row order)."""
    con = duck()
    table = pa.table({"s": joined})
    parallel = len(joined) > 2 * _MD5_SLICE and _MD5_THREADS > 1
    if parallel:
        table = pa.Table.from_batches(table.to_batches(max_chunksize=_MD5_SLICE))
        con.execute(f"SET threads = {_MD5_THREADS}")
    con.register("_md5_in", table)
    try:
        out = con.sql(f"SELECT '{prefix}' || md5(s) AS k FROM _md5_in").to_arrow_table()
    finally:
        con.unregister("_md5_in")
        if parallel:
            con.execute("SET threads = 1")
    return as_array(out.column("k"))


_MD5_SLICE = 1 << 16
_MD5_THREADS = min(4, os.cpu_count() or 1)


def fixed6(values: pa.Array, published: pa.Array) -> pa.Array:
    """``printf('%.6f', x)`` of doubles parsed from ``published``. police.uk publishes coordinates
    with six decimals, and a decimal of at most 15 significant digits survives the round trip through
    a double, so such text is its own answer; anything else is formatted here."""
    same = flags(pc.match_substring_regex(published, r"^-?(0|[1-9][0-9]{0,8})\.[0-9]{6}$"))
    valid = flags(pc.is_valid(values))
    if (same | ~valid).all():
        return pc.if_else(pa.array(valid), published, pa.scalar(None, pa.string()))
    nums = values.to_numpy(zero_copy_only=False)
    texts = published.to_pylist()
    out = [texts[i] if same[i] else (f"{nums[i]:.6f}" if valid[i] else None) for i in range(len(texts))]
    return pa.array(out, pa.string())
