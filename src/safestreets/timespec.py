"""Month specifications as analysts type them: ``2023-01:2023-06``, ``2023-01,2023-03``, ``2023``."""

from __future__ import annotations

import re

from safestreets.errors import ParameterError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as YYYY-MM."""
    a, b = _check(first), _check(last)
    if a > b:
        raise ParameterError(f"month range {first}:{last} runs backwards")
    out = []
    year, month = a
    while (year, month) <= b:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def parse_months(spec: str) -> list[str]:
    """Expand a comma-separated list of months, ``first:last`` ranges and whole years."""
    months: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if ":" in part:
            first, _, last = part.partition(":")
            months += month_range(first.strip(), last.strip())
        elif re.fullmatch(r"\d{4}", part):
            months += month_range(f"{part}-01", f"{part}-12")
        else:
            _check(part)
            months.append(part)
    if not months:
        raise ParameterError(f"no months in {spec!r}: use e.g. 2023-01:2023-06, 2023-01,2023-03 or 2023")
    return sorted(set(months))


def _check(month: str) -> tuple[int, int]:
    m = _MONTH.match(month)
    if m is None:
        raise ParameterError(f"{month!r} is not a month: write it as YYYY-MM, e.g. 2023-04")
    return int(m[1]), int(m[2])
