"""Census 2021 table TS021 (ethnic group): the denominators of stop-and-search disproportionality.

Two published layouts are read, told apart by their header:

- **by local authority** (``area_code, area_name`` and the 19 detailed categories, no total column), as in
  ``census2021/ts021_ethnic_group_lad_ew.csv.gz``;
- **by MSOA** (the Nomis bulk file: ``date, geography, geography code, Ethnic group: Total: All usual
  residents``, then each broad group followed by its detailed categories).

Both come back as one long Arrow table: ``area_code, area_name, level ("lad" | "msoa"), ethnic_group``
(the five broad groups of the 2021 classification: Asian, Black, Mixed, White, Other) and ``population``.
The MSOA file's broad columns are used as published; the LA file's detailed columns are summed to the
broad groups. Nothing is written: loading into the store is ``store.population``.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pyarrow as pa

from safestreets.errors import InputError

#: The five broad groups, in the order reports show them.
GROUPS = ("Asian", "Black", "Mixed", "White", "Other")

# The broad group each TS021 column name starts with (2021 wording, "Ethnic group: " prefix removed).
_PREFIXES = {
    "Asian, Asian British or Asian Welsh": "Asian",
    "Black, Black British, Black Welsh, Caribbean or African": "Black",
    "Mixed or Multiple ethnic groups": "Mixed",
    "White": "White",
    "Other ethnic group": "Other",
}
_LAD_KEYS = ("area_code", "area_name")
_MSOA_KEYS = ("geography code", "geography")
_MSOA_TOTAL = "Ethnic group: Total: All usual residents"


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(path, f"not a readable gzip file ({exc})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None


def _group_of(column: str) -> tuple[str, bool] | None:
    """(broad group, is the broad column itself) for a TS021 column, or None for other columns."""
    name = column.removeprefix("Ethnic group: ").strip()
    for prefix, group in _PREFIXES.items():
        if name == prefix:
            return group, True
        if name.startswith(prefix + ":"):
            return group, False
    return None


def _count(path: Path, row: int, column: str, text: str) -> int:
    cleaned = text.strip().replace(",", "")
    if cleaned in ("-", ""):  # a zero in the published spreadsheet's number format
        return 0
    try:
        value = int(cleaned)
    except ValueError:
        raise InputError(path, "not a whole number of people", row=row, column=column, value=text) from None
    if value < 0:
        raise InputError(path, "a negative number of people", row=row, column=column, value=text)
    return value


def read_ts021(path: str | Path) -> pa.Table:
    """TS021 by local authority or by MSOA, as ``area_code, area_name, level, ethnic_group, population``
    (one row per area and broad group). Raises InputError naming the row and column of a bad cell."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    reader = csv.reader(io.StringIO(_open_text(path)))
    header = next(reader, None)
    if not header:
        raise InputError(path, "empty file: expected a TS021 ethnic group table")
    header = [h.strip() for h in header]
    if all(k in header for k in _LAD_KEYS):
        level, keys = "lad", _LAD_KEYS
    elif all(k in header for k in _MSOA_KEYS):
        level, keys = "msoa", _MSOA_KEYS
    else:
        raise InputError(
            path,
            "not a TS021 table: expected columns 'area_code, area_name' (by local authority) or "
            "'geography code, geography' (by MSOA)",
            column=header[0],
        )
    groups = {i: _group_of(h) for i, h in enumerate(header)}
    broad = {i: g[0] for i, g in groups.items() if g and g[1]}
    detailed = {i: g[0] for i, g in groups.items() if g and not g[1]}
    # The MSOA file has the broad columns: use them as published. The LA file has only the details.
    use = broad if level == "msoa" and len(set(broad.values())) == len(GROUPS) else detailed
    missing = [g for g in GROUPS if g not in set(use.values())]
    if missing:
        raise InputError(path, f"no ethnic group column for {', '.join(missing)}", column="header")
    code_i, name_i = header.index(keys[0]), header.index(keys[1])
    total_i = header.index(_MSOA_TOTAL) if _MSOA_TOTAL in header else None

    codes: list[str] = []
    names: list[str] = []
    out_groups: list[str] = []
    pops: list[int] = []
    seen: dict[str, int] = {}
    for row, cells in enumerate(reader, start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(path, f"{len(cells)} fields where the header has {len(header)}", row=row)
        code = cells[code_i].strip()
        if not code:
            raise InputError(path, "blank area code", row=row, column=keys[0])
        if code in seen:
            raise InputError(path, f"area code repeats row {seen[code]}", row=row, column=keys[0], value=code)
        seen[code] = row
        sums = dict.fromkeys(GROUPS, 0)
        for i, group in use.items():
            sums[group] += _count(path, row, header[i], cells[i])
        if total_i is not None:
            total = _count(path, row, header[total_i], cells[total_i])
            if sum(sums.values()) != total:
                raise InputError(path, f"the broad groups add up to {sum(sums.values()):,}, not the total",
                                 row=row, column=_MSOA_TOTAL, value=cells[total_i])  # fmt: skip
        for group in GROUPS:
            codes.append(code)
            names.append(cells[name_i].strip())
            out_groups.append(group)
            pops.append(sums[group])
    if not codes:
        raise InputError(path, "no data rows")
    return pa.table(
        {
            "area_code": pa.array(codes, pa.string()),
            "area_name": pa.array(names, pa.string()),
            "level": pa.array([level] * len(codes), pa.string()),
            "ethnic_group": pa.array(out_groups, pa.string()),
            "population": pa.array(pops, pa.int64()),
        }
    )
