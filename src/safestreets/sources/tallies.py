"""Operation tally files: one row per day (and, optionally, BCU and tactic) of what an operation produced.

Columns (header names, any order; only ``date`` is required, missing counts are 0)::

    operation, date, bcu, tactic, knives, weapons, drugs, arrests, community_events, sweeps, searches, visits

``operation`` (an id or name) may be left out when the command names the operation. Every row is checked
before anything is returned: a count that is not a whole number or is negative, a date that is not
YYYY-MM-DD, or a tactic outside :data:`safestreets.vocab.TACTICS` raises an InputError naming the row and
the field, so a bad file stores nothing.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pyarrow as pa

from safestreets import vocab
from safestreets.errors import InputError

COUNTS = ("knives", "weapons", "drugs", "arrests", "community_events", "sweeps", "searches", "visits")
ALIASES = {"other_offensive_weapons": "weapons", "offensive_weapons": "weapons", "drugs_and_illegal_items": "drugs",
           "day": "date", "events": "community_events", "stop_searches": "searches"}  # fmt: skip


def _key(name: str) -> str:
    k = "_".join(name.strip().lower().replace("-", " ").split())
    return ALIASES.get(k, k)


def parse_count(source: str, row: int | None, field: str, text: object) -> int:
    """A tally count: a whole number, zero or more (blank is 0)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return 0
    if isinstance(text, bool):
        raise InputError(source, "not a whole number", row=row, column=field, value=str(text))
    try:
        value = int(str(text).strip().replace(",", ""))
    except ValueError:
        raise InputError(source, "not a whole number", row=row, column=field, value=str(text)) from None
    if value < 0:
        raise InputError(source, "a tally cannot be negative", row=row, column=field, value=str(text))
    return value


def parse_day(source: str, row: int | None, field: str, text: object) -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(source, "not a date (YYYY-MM-DD)", row=row, column=field, value=str(text)) from None


def parse_tactic(source: str, row: int | None, field: str, text: object) -> str:
    if text is None or not str(text).strip():
        return ""
    slug = vocab.tactic_slug(str(text))
    if slug is None:
        raise InputError(source, f"unknown tactic (one of: {', '.join(vocab.TACTICS)})", row=row, column=field,
                         value=str(text))  # fmt: skip
    return slug


def read_tallies(path: str | Path) -> pa.Table:
    """A tally CSV as ``operation, day, bcu, tactic`` and the counts, every row checked."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InputError(path, "empty file: expected a header with at least 'date'")
    keys = [_key(h) for h in header]
    known = {"operation", "date", "bcu", "tactic", *COUNTS}
    for k, h in zip(keys, header, strict=True):
        if k not in known:
            raise InputError(path, f"unknown column (expected some of: {', '.join(sorted(known))})", column=h)
    if "date" not in keys:
        raise InputError(path, "no 'date' column", column="date")
    cols: dict[str, list[object]] = {
        "operation": [],
        "day": [],
        "bcu": [],
        "tactic": [],
        **{c: [] for c in COUNTS},
    }
    src = str(path)
    for row, cells in enumerate(reader, start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(path, f"{len(cells)} fields where the header has {len(header)}", row=row)
        rec = dict(zip(keys, cells, strict=True))
        fields = dict(zip(keys, header, strict=True))
        cols["operation"].append(rec.get("operation", "").strip())
        cols["day"].append(parse_day(src, row, fields["date"], rec["date"]))
        cols["bcu"].append(rec.get("bcu", "").strip())
        cols["tactic"].append(parse_tactic(src, row, fields.get("tactic", "tactic"), rec.get("tactic")))
        for c in COUNTS:
            cols[c].append(parse_count(src, row, fields.get(c, c), rec.get(c)))
    if not cols["day"]:
        raise InputError(path, "no data rows")
    types = {"operation": pa.string(), "day": pa.date32(), "bcu": pa.string(), "tactic": pa.string()}
    return pa.table({k: pa.array(v, types.get(k, pa.int64())) for k, v in cols.items()})
