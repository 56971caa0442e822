"""Residents per area, and per group where the file has them: a CSV with one row per area.

The first column that looks like a code (``code``, ``lsoa_code``, ``lsoa21_code``, ``geography code``,
``area_code``) names the area; ``population`` (or ``usual_residents``) is the total when present; every
other numeric column is a group (e.g. the five broad ethnic groups). Returned as an Arrow table with
``code``, ``population`` and one float column per group.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from safestreets.errors import InputError

CODE_COLUMNS = (
    "code",
    "lsoa_code",
    "lsoa21_code",
    "lsoa11_code",
    "geography code",
    "area_code",
    "msoa21_code",
)
TOTAL_COLUMNS = ("population", "usual_residents", "total")


def read_population(path: str | Path) -> pa.Table:
    path = Path(path)
    try:
        table = pacsv.read_csv(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(path, f"cannot read as CSV: {err}") from err
    names = {n.lower(): n for n in table.column_names}
    code = next((names[c] for c in CODE_COLUMNS if c in names), None)
    if code is None:
        raise InputError(path, f"no area code column: expected one of {', '.join(CODE_COLUMNS)}")
    total = next((names[c] for c in TOTAL_COLUMNS if c in names), None)
    out: dict[str, pa.Array] = {"code": table[code].cast(pa.string())}
    groups = []
    for name in table.column_names:
        if name in (code, total):
            continue
        col = table[name]
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            values = col.to_pylist()
            bad = next((i for i, v in enumerate(values) if v is not None and v < 0), None)
            if bad is not None:
                raise InputError(
                    path, "counts cannot be negative", row=bad + 1, column=name, value=str(values[bad])
                )
            groups.append(name)
    if total is not None:
        out["population"] = table[total].cast(pa.float64())
    elif groups:
        total_people = table[groups[0]].cast(pa.float64())
        for g in groups[1:]:
            total_people = pc.add(total_people, table[g].cast(pa.float64()))
        out["population"] = total_people
    else:
        raise InputError(path, "no population or group columns")
    for g in groups:
        out[g] = table[g].cast(pa.float64())
    return pa.table(out)
