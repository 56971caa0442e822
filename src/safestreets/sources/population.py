"""Residents per area, and per group where the file has them: a CSV with one row per area, or a long
table with one row per area and category.

The first column that looks like a code (``code``, ``lsoa_code``, ``lsoa21_code``, ``geography code``,
``area_code``, or the ONS ``LSOA11CD`` kind) names the area; ``population`` (or ``usual_residents``, or
``Persons_All-Ages``) is the total when present; every other numeric column is a group (e.g. the five
broad ethnic groups). In a long table (an area on several rows, one text column naming each row's
category, as the census's tables by age come) the categories become the groups and the total is their
sum. Returned as an Arrow table with ``code``, ``population`` and one float column per group.
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
    "lsoa21cd",
    "lsoa11cd",
    "msoa21cd",
    "msoa11cd",
    "lad22cd",
    "lad21cd",
)
TOTAL_COLUMNS = ("population", "usual_residents", "total", "persons_all-ages", "all ages", "observation")


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
    table, total = _widen(path, table, code, total)
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


def _widen(path: Path, table: pa.Table, code: str, total: str | None) -> tuple[pa.Table, str | None]:
    """A long table (an area on several rows) as one row per area, and its total column: the text column
    that varies within an area names the groups, ``total`` holds the counts. A wide table is returned as
    it is."""
    codes = table[code].cast(pa.string())
    if pc.count_distinct(codes).as_py() == len(codes):
        return table, total
    texts = [n for n in table.column_names if n != code and pa.types.is_string(table[n].type)]
    varying = [n for n in texts if table.group_by(code).aggregate([(n, "count_distinct")])[f"{n}_count_distinct"]
               .to_numpy().max() > 1]  # fmt: skip
    if total is None or len(varying) != 1:
        seen: set[str] = set()
        first = next(i for i, c in enumerate(codes.to_pylist()) if c in seen or seen.add(c))  # type: ignore[func-returns-value]
        raise InputError(
            path, "this area is on more than one row: one row per area, or one per area and category (with "
            "one text column naming the category and a 'population' or 'usual_residents' count)",
            row=first + 1, column=code, value=str(codes[first]),
        )  # fmt: skip
    category = varying[0]
    wide = table.group_by([code, category]).aggregate([(total, "sum")])
    groups = sorted(set(wide[category].to_pylist()))
    out: dict[str, list[float]] = {}
    for c, g, n in zip(wide[code].to_pylist(), wide[category].to_pylist(), wide[f"{total}_sum"].to_pylist(),
                       strict=True):  # fmt: skip
        out.setdefault(c, [0.0] * len(groups))[groups.index(g)] += float(n or 0)
    area = list(out)
    wide_table = pa.table({code: area, "population": [sum(v) for v in out.values()],
                           **{g: [out[a][k] for a in area] for k, g in enumerate(groups)}})  # fmt: skip
    return wide_table, "population"
