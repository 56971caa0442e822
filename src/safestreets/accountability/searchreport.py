"""The stop-and-search report as Markdown: the summary, the breakdowns, trends and disproportionality.

Plain text a press office, a scrutiny panel or a notebook can read; the same tables go out as CSV beside
it (``api.stopsearch``)."""

from __future__ import annotations

import math
from typing import Any

from safestreets.accountability.disproportionality import Disproportionality
from safestreets.accountability.searches import SearchAnalysis

TITLES = {
    "legislation": "By legislation", "object": "By object of search", "age": "By age", "gender": "By gender",
    "ethnicity_self": "By self-defined ethnic group", "ethnicity_officer": "By officer-defined ethnic group",
    "borough": "By borough", "bcu": "By BCU", "month": "By month", "search_type": "By type of search",
}  # fmt: skip


def pct(rate: float | None, lo: float | None = None, hi: float | None = None) -> str:
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "-"
    text = f"{rate:.1%}"
    if lo is not None and hi is not None and not math.isnan(lo):
        text += f" ({lo:.1%}-{hi:.1%})"
    return text


def _num(v: float | None, digits: int = 2) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def measure_row(r: dict[str, Any]) -> list[str]:
    linked = pct(r["linked_rate"], r["linked_lo"], r["linked_hi"]) if r["linked_recorded"] else "-"
    return [f"{r['searches']:,}", f"{r['share']:.1%}", pct(r["positive_rate"], r["positive_lo"], r["positive_hi"]),
            f"{linked} of {r['linked_recorded']:,}", pct(r["arrest_rate"], r["arrest_lo"], r["arrest_hi"])]  # fmt: skip


MEASURE_HEADERS = [
    "searches",
    "share",
    "positive outcome (95% CI)",
    "linked find (rows recorded)",
    "arrest (95% CI)",
]


def analysis_lines(a: SearchAnalysis, *, top: int = 15) -> list[str]:
    s = a.summary
    lines = [
        f"Scope: {a.scope.describe()}. {s['searches']:,} searches; positive outcome rate "
        f"{pct(s['positive_rate'], s['positive_lo'], s['positive_hi'])}; arrest rate "
        f"{pct(s['arrest_rate'], s['arrest_lo'], s['arrest_hi'])}; linked find rate "
        f"{pct(s['linked_rate'], s['linked_lo'], s['linked_hi'])} of the {s['linked_recorded']:,} rows that record it.",
        "",
        *[f"- {n}" for n in a.notes],
        "",
    ]  # fmt: skip
    if a.trends.num_rows:
        lines += ["### Trends (change per year, quasi-likelihood GLM on monthly counts)", ""]
        lines += _table(
            ["breakdown", "value", "measure", "per year", "95% CI", "p", "months"],
            [[t["dimension"], t["value"], t["measure"], f"x{t['per_year']:.3f}", f"{t['lo']:.3f}-{t['hi']:.3f}",
              f"{t['p_value']:.3g}", str(t["months"])] for t in a.trends.to_pylist()],
        )  # fmt: skip
        lines += ["", "Volume is a rate ratio; rates are odds ratios.", ""]
    dims = [d for d in TITLES if a.by(d)]
    for d in dims:
        rows = a.by(d)
        shown = rows if d == "month" else rows[:top]
        lines += [f"### {TITLES[d]}", ""]
        lines += _table([d, *MEASURE_HEADERS], [[str(r["label"]), *measure_row(r)] for r in shown])
        if len(shown) < len(rows):
            lines.append(f"\n({len(rows) - len(shown)} smaller groups in the CSV.)")
        lines.append("")
    return lines


def disproportionality_lines(d: Disproportionality) -> list[str]:
    names = list(dict.fromkeys(d.by_borough.column("borough").to_pylist()))
    where = (", ".join(names) if 0 < len(names) <= 3 else f"{len(d.boroughs)} boroughs")
    lines = [
        f"Searches per 1,000 people by {d.basis}-defined ethnic group, Census 2021 (TS021) populations of "
        f"{where}; {d.months} month(s) of searches (per year = x 12 / months). Relative rate "
        "against White with a 95% interval on the log rate ratio.",
        "",
    ]
    lines += rates_table(d)
    m = d.missing
    lines += [
        "",
        f"- No self-defined ethnic group: {m['self_missing']:,} of {m['rows']:,} ({m['self_missing_share']:.1%}); "
        f"no officer-defined: {m['officer_missing']:,} ({m['officer_missing_share']:.1%}).",
        f"- Where both are recorded ({m['both_recorded']:,}), officer and self-defined broad groups agree in "
        f"{m['agree_share']:.1%}.",
        *[f"- {n}" for n in d.notes],
        "",
        "### Officer-defined (rows) against self-defined (columns)",
        "",
    ]
    cross = d.cross.to_pylist()
    selfs = sorted({r["self"] for r in cross})
    officers = sorted({r["officer"] for r in cross})
    cell = {(r["officer"], r["self"]): r["searches"] for r in cross}
    lines += _table(
        ["officer \\ self", *selfs], [[o, *[f"{cell.get((o, s), 0):,}" for s in selfs]] for o in officers]
    )
    return [*lines, ""]


def rates_table(d: Disproportionality) -> list[str]:
    return _table(
        ["group", "searches", "population", "per 1,000", "per 1,000 a year", "relative rate (95% CI)"],
        [[r["ethnic_group"], f"{r['searches']:,}", f"{r['population']:,}", _num(r["per_1000"]),
          _num(r["per_1000_year"]),
          "-" if math.isnan(r["rr"]) else (f"{r['rr']:.2f}" + ("" if math.isnan(r["rr_lo"]) else
                                                               f" ({r['rr_lo']:.2f}-{r['rr_hi']:.2f})"))]
         for r in d.rates.to_pylist()],
    )  # fmt: skip


def borough_lines(d: Disproportionality, group: str = "Black", top: int = 10) -> list[str]:
    """The boroughs with the highest relative rate of ``group`` against White (searches with a location)."""
    rows = [r for r in d.by_borough.to_pylist() if r["ethnic_group"] == group and not math.isnan(r["rr"])]
    rows.sort(key=lambda r: -r["rr"])
    if not rows:
        return []
    lines = [
        f"### {group} against White by borough (searches placed in the borough; highest {min(top, len(rows))})",
        "",
    ]
    lines += _table(["borough", "searches", "population", "per 1,000", "relative rate (95% CI)"],
                    [[r["borough"], f"{r['searches']:,}", f"{r['population']:,}", _num(r["per_1000"]),
                      f"{r['rr']:.2f} ({r['rr_lo']:.2f}-{r['rr_hi']:.2f})"] for r in rows[:top]])  # fmt: skip
    return [*lines, ""]


def markdown(a: SearchAnalysis, d: Disproportionality | None, note: str | None = None,
             other: Disproportionality | None = None) -> str:  # fmt: skip
    lines = [
        "# Stop and search",
        "",
        "## Volumes and outcomes",
        "",
        *analysis_lines(a),
        "## Disproportionality",
        "",
    ]
    if d is None:
        lines += [note or "No census populations loaded.", ""]
    else:
        lines += disproportionality_lines(d)
        lines += borough_lines(d)
    if other is not None:
        lines += [
            f"### On {other.basis}-defined ethnicity",
            "",
            *rates_table(other),
            "",
            *[f"- {n}" for n in other.notes],
            "",
        ]
    return "\n".join(lines)
