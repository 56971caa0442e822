"""Reading delimited text files into all-string Arrow tables, with errors that name file, row and column.

Inputs are plain files, gzipped files or members of a zip archive read in place. pyarrow's
multi-threaded parser does the parsing; this module adds what an analyst needs around it: the
uncompressed bytes' sha256 (so a re-load of the same data is recognised), a ``_row`` column numbering
data rows from 1 as they stand in the file, and one readable error per problem.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import hashlib
import io
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from isal import igzip, isal_zlib

from safestreets.errors import InputError

ROW = "_row"
# Physical rows pyarrow could not split into the header's number of fields.
BadRow = tuple[int, str, str]  # (row, column, reason)

_hash_pool = ThreadPoolExecutor(max_workers=1)
_threads = threading.local()


@dataclass(frozen=True)
class TextSource:
    """A file, or a member of a zip archive, holding one table of delimited text."""

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path}::{self.member}" if self.member else str(self.path)

    @property
    def name(self) -> str:
        return Path(self.member).name if self.member else self.path.name

    def text_size(self) -> int:
        """About how many bytes of text the source holds (for sizing batches; 0 if unknown)."""
        try:
            if self.member is not None:
                return _zip_sizes(str(self.path)).get(self.member, 0)
            if self.name.endswith(".gz"):
                return _gzip_size(self.path)
            return self.path.stat().st_size
        except (OSError, zipfile.BadZipFile):
            return 0

    def open_raw(self) -> BinaryIO:
        """The bytes as stored (gzipped if the name ends .gz), as a stream."""
        if self.member is None:
            return self.path.open("rb")
        return _archive(self.path).open(self.member)

    def read_bytes(self) -> bytes:
        """The whole uncompressed content. Files here are at most tens of MB each."""
        try:
            if self.member is not None:
                data = _member_bytes(self.path, self.member)
            else:
                data = self.path.read_bytes()
            if self.name.endswith(".gz") or data[:2] == b"\x1f\x8b":
                data = igzip.decompress(data)  # ISA-L: the same bytes as gzip's, about twice as fast
        except (EOFError, zlib.error, isal_zlib.error, gzip.BadGzipFile) as err:
            raise InputError(self.label, f"truncated or corrupt gzip data ({err})") from err
        except zipfile.BadZipFile as err:
            raise InputError(self.label, f"not a readable zip archive ({err})") from err
        except OSError as err:
            raise InputError(self.label, f"cannot read the file ({err.strerror or err})") from err
        return data


def _archive(path: Path) -> zipfile.ZipFile:
    """This thread's open handle on an archive. Opening one reads its whole directory, which for a bulk
    archive of thousands of members takes longer than reading a member, so handles are kept (a few
    per thread, keyed by the file's identity so that a replaced archive is opened afresh)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    held: OrderedDict[tuple, zipfile.ZipFile] = _threads.__dict__.setdefault("archives", OrderedDict())
    if key in held:
        held.move_to_end(key)
        return held[key]
    held[key] = zipfile.ZipFile(path)
    while len(held) > 4:
        held.popitem(last=False)[1].close()
    return held[key]


def _member_bytes(path: Path, member: str) -> bytes:
    """A member's bytes, inflated by ISA-L (about twice as fast as zlib) and checked against its CRC."""
    zf = _archive(path)
    info = zf.getinfo(member)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:  # other methods, encrypted
        return zf.read(info)
    # zipfile finds and reads the member's deflated bytes, as if they were stored; ISA-L inflates them.
    stored = zipfile.ZipInfo(info.filename, info.date_time)
    stored.flag_bits, stored.header_offset = info.flag_bits, info.header_offset
    stored.compress_type = zipfile.ZIP_STORED
    stored.compress_size = stored.file_size = info.compress_size
    with contextlib.suppress(AttributeError):
        del stored.CRC  # no CRC check of the deflated bytes: the inflated ones are checked below
    with zf.open(stored) as f:
        deflated = f.read()
    data = isal_zlib.decompress(deflated, -15)
    if len(data) != info.file_size or isal_zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 or size for member {member!r}")
    return data


def _gzip_size(path: Path) -> int:
    """A gzip file's uncompressed size, from its trailer (modulo 4 GiB; police.uk files are far smaller)."""
    with path.open("rb") as f:
        f.seek(-4, 2)
        return int.from_bytes(f.read(4), "little")


@functools.lru_cache(maxsize=4)
def _zip_sizes(path: str) -> dict[str, int]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: info.file_size * (5 if info.filename.endswith(".gz") else 1)
                for info in zf.infolist()}  # fmt: skip


@dataclass
class ParsedText:
    table: pa.Table  # every column a string, plus ``_row`` (int64, data rows from 1)
    sha256: str
    rows_read: int  # data rows in the file, good and malformed
    bad_rows: list[BadRow] = field(default_factory=list)


def header_of(data: bytes, source: str) -> list[str]:
    """The header row's column names, stripped of a UTF-8 BOM and surrounding spaces."""
    if not data or data.isspace():  # isspace scans without copying a file of tens of MB
        raise InputError(source, "the file is empty: expected a header row and data")
    first = data[: data.find(b"\n") if b"\n" in data else len(data)]
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(source, "the header is not UTF-8 text: save the file as UTF-8", row=0) from err
    if "\x00" in text:
        raise InputError(source, "the file is not UTF-8 text (UTF-16?): save it as UTF-8", row=0)
    return [name.strip() for name in next(csv.reader([text.rstrip("\r")]))]


def parse_text(
    source: TextSource,
    *,
    data: bytes | None = None,
    delimiter: str = ",",
    hasher: Callable[[bytes], str] = lambda b: hashlib.sha256(b).hexdigest(),
) -> ParsedText:
    """Parse a whole file as strings. Rows with the wrong number of fields are returned as ``bad_rows``."""
    if data is None:
        data = source.read_bytes()
    digest = _hash_pool.submit(hasher, data)  # hashing releases the GIL: overlap it with parsing
    columns = header_of(data, source.label)
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise InputError(source.label, "the header names a column twice", row=0, column=dup)
    malformed: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(f"expected {row.expected_columns} fields, found {row.actual_columns}")
        return "skip"

    table = _read(data, columns, delimiter, on_invalid, source.label, threads=True)
    bad_rows: list[BadRow] = []
    if malformed:
        # Row numbers are only known from a single-threaded parse: pay for it on the error path only.
        numbered: list[BadRow] = []

        def on_invalid_numbered(row: pacsv.InvalidRow) -> str:
            line = row.number if row.number is not None else -1
            numbered.append(
                (line - 1, "", f"expected {row.expected_columns} fields, found {row.actual_columns}")
            )
            return "skip"

        table = _read(data, columns, delimiter, on_invalid_numbered, source.label, threads=False)
        bad_rows = numbered
    rows_read = table.num_rows + len(bad_rows)
    rows = np.arange(1, rows_read + 1, dtype="int64")
    if bad_rows:
        rows = np.delete(rows, [r - 1 for r, _, _ in bad_rows if 0 < r <= rows_read])
    table = table.append_column(ROW, pa.array(rows[: table.num_rows]))
    return ParsedText(table=table, sha256=digest.result(), rows_read=rows_read, bad_rows=bad_rows)


def _read(
    data: bytes,
    columns: list[str],
    delimiter: str,
    on_invalid: Callable[[pacsv.InvalidRow], str],
    label: str,
    *,
    threads: bool,
) -> pa.Table:
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                use_threads=threads, skip_rows=1, column_names=columns, block_size=8 << 20
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        text = str(err)
        if "invalid UTF8" in text:
            row, column = _first_non_utf8(data, columns)
            raise InputError(label, "not UTF-8 text: save the file as UTF-8", row=row, column=column) from err
        raise InputError(label, f"cannot parse as CSV: {text.splitlines()[0]}") from err


def _first_non_utf8(data: bytes, columns: list[str]) -> tuple[int | None, str | None]:
    """Find the first row and column holding bytes that are not UTF-8 (error path only)."""
    lines = data.split(b"\n")
    for number, line in enumerate(lines[1:], start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            fields = next(csv.reader([line.decode("latin-1")]), [])
            for i, value in enumerate(fields):
                try:
                    value.encode("latin-1").decode("utf-8")
                except UnicodeDecodeError:
                    return number, columns[i] if i < len(columns) else None
            return number, None
    return None, None
