"""Risk by shift and intervals: per-shift hit rates against the citywide profile, and interval coverage.

Three timestamped inputs, each loaded once into its own store under bench/.data/ by bench/forecast.py's
loaders (shared with it: ``forecast-store-<key>``):

- the synthetic city (its force's own timestamped records; target: all publicly reported crime);
- Vancouver thefts 2020 and Cincinnati burglary 2016-2018 (a force's own records, through bench/mappings/).

At each weekly origin one model forecasts each 250 m cell's count for the week (fitted on the events
before the origin); time-of-week profiles are fitted on the same events; every (day, shift) slot of the
week is scored by hit rate, ranking cells by forecast x profile share (evaluate/shifts.py). The profiles
compared: ``unit`` (each cell's own, shrunk towards its command unit's and the city's), ``raw`` (each cell's
own hours unshrunk) and ``city`` (the city's profile for every cell: the baseline, which ranks as the weekly
total does). Intervals: the 80% and 95% negative binomial intervals of each cell's weekly count and of the
command units' and city's totals, dispersion fitted on the 6 weeks before each origin, against what happened.

    .venv/bin/python bench/shifts.py              # writes "## Risk by shift and intervals" in docs/benchmarks.md
    .venv/bin/python bench/shifts.py --origins 4 --no-docs
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import pyarrow as pa

from _common import command_line, machine_markdown, markdown_table, today, write_section
from forecast import QUICK_CITY, Dataset, force_records, store_for, synthetic, timed_history
from safestreets.evaluate.shifts import (
    backtest_intervals,
    backtest_shifts,
    summarise_intervals,
    summarise_shifts,
)
from safestreets.forecast import make_model
from safestreets.forecast.data import load_units
from safestreets.forecast.timeofweek import fit_profiles
from safestreets.store import open_store

TITLE = "Risk by shift and intervals"
MODEL = "ewma"
COVERAGES = (0.01, 0.05)
SHIFT_ORDER = ("early", "late", "night", "all")


def run_one(ds: Dataset, origins: int, interval_origins: int, rebuild: bool) -> dict[str, Any]:
    ws, _ = store_for(ds, rebuild)
    history = timed_history(ds, ws)
    con = open_store(ws, read_only=True)
    try:
        units = load_units(con, "grid", cell_size=ds.cell, study=ds.study, history=history)
    finally:
        con.close()
    model = make_model(MODEL)
    t0 = time.perf_counter()
    rows = backtest_shifts(model, history, units, origins=origins, horizon="1w", coverages=COVERAGES)
    t1 = time.perf_counter()
    iv = backtest_intervals(model, history, units, origins=interval_origins, horizon="1w", levels=(0.8, 0.95))
    t2 = time.perf_counter()
    tow = fit_profiles(history, units).describe()  # the strengths the data choose, all events
    return {
        "profile": tow,
        "title": ds.title, "events": len(history), "units": len(units), "first": str(history.t[0])[:10],
        "last": str(history.t[-1])[:10], "shifts": summarise_shifts(rows), "intervals": summarise_intervals(iv),
        "k": iv.to_pydict(), "shift_seconds": t1 - t0, "interval_seconds": t2 - t1,
        "load": os.getloadavg(),
    }  # fmt: skip


def _pick(table: pa.Table, **where: Any) -> dict[str, Any] | None:
    for row in table.to_pylist():
        if all(row[k] == v for k, v in where.items()):
            return row
    return None


def shift_table(res: dict[str, Any]) -> str:
    rows = []
    for shift in SHIFT_ORDER:
        cells = [shift]
        events = None
        for c in COVERAGES:
            got = {p: _pick(res["shifts"], shift=shift, profile=p, coverage=c) for p in ("unit", "raw", "city")}
            if got["city"] is None:
                break
            events = got["city"]["events"]
            u, r, b = (got[p]["hit_rate"] if got[p] else float("nan") for p in ("unit", "raw", "city"))
            cells += [f"{u:.1%}", f"{r:.1%}", f"{b:.1%}", f"{u / b:.2f}x" if b > 0 else "n/a"]
        if events is None:
            continue
        rows.append([*cells, f"{events:,.0f}"])
    headers = ["shift"]
    for c in COVERAGES:
        headers += [f"HR {c:.0%} unit", f"raw {c:.0%}", f"city {c:.0%}", "unit/city"]
    headers.append("events scored")
    return markdown_table(headers, rows, [False] + [True] * (len(headers) - 1))


def interval_table(res: dict[str, Any]) -> str:
    rows = []
    for r in res["intervals"].to_pylist():
        rows.append([r["scope"], f"{r['scored']:,}", f"{r['coverage_80']:.1%}", f"{r['expected_80']:.1%}",
                     f"{r['width_80']:.1f}", f"{r['coverage_95']:.1%}", f"{r['expected_95']:.1%}",
                     f"{r['width_95']:.1f}"])  # fmt: skip
    return markdown_table(
        ["scope", "outcomes scored", "held at 80%", "model expects", "mean width", "held at 95%", "model expects",
         "mean width"], rows, [False] + [True] * 7,
    )  # fmt: skip


def _coverage_range(results: list[dict[str, Any]], scope: str, col: str) -> str:
    got = [r[col] for res in results for r in res["intervals"].to_pylist() if r["scope"] == scope]
    if not got:
        return "n/a"
    lo, hi = f"{min(got):.0%}", f"{max(got):.0%}"
    return lo if lo == hi else f"{lo}-{hi}"


def docs(results: list[dict[str, Any]], origins: int, interval_origins: int) -> str:
    ratios = []
    for res in results:
        for c in COVERAGES:
            u = _pick(res["shifts"], shift="all", profile="unit", coverage=c)
            b = _pick(res["shifts"], shift="all", profile="city", coverage=c)
            if u and b and b["hit_rate"] > 0:
                ratios.append(u["hit_rate"] / b["hit_rate"])
    lo, hi = (min(ratios), max(ratios)) if ratios else (float("nan"), float("nan"))
    verdict = "parity" if lo >= 0.97 and hi <= 1.03 else "not parity: see the tables"
    raw_gap = max(((_pick(res["shifts"], shift="all", profile="city", coverage=c) or {}).get("hit_rate", 0.0)
                   - (_pick(res["shifts"], shift="all", profile="raw", coverage=c) or {}).get("hit_rate", 0.0), res["title"], c)
                  for res in results for c in COVERAGES)  # fmt: skip
    parts = [
        f"Run {today()} with `{command_line()}`. Each input: {origins} weekly origins (the last whole weeks; "
        f"{interval_origins} for the intervals), "
        f"model `{MODEL}` for each 250 m cell's weekly count; profiles and dispersions fitted on the events "
        "before each origin only. Hit rates are pooled over the 7 days and the origins, weighted by events "
        "(captured events / events in the shift). `unit`: each cell's profile shrunk towards its command "
        "unit's and the city's (forecast/timeofweek.py); `raw`: each cell's own hours unshrunk; `city`: the "
        "city's profile for every cell (the baseline: it ranks cells as the weekly total does, which is what a "
        "daily pattern repeated over the week gets). Shifts: early 07-15, late 15-23, night 23-07 (plan "
        "defaults; a night belongs to the day it starts).",
        "",
        "Intervals: negative binomial (NB2) per cell and for the command units' and city's totals, the "
        "dispersion fitted by maximum likelihood on the model's forecasts at the 6 weeks before each origin. "
        "`held` is the share of outcomes inside the interval; `model expects` is the coverage the model "
        "itself gives its whole-count intervals (above the level where most cells expect a fraction of an "
        "event: an interval [0, 1] around 0.1 holds about 99.5%). Cells: the comparison is held against "
        "expected; totals (few per origin) are noisy.",
        "",
        f"Reading: over all shifts, the cell profiles' hit rate is {lo:.2f}x to {hi:.2f}x the citywide "
        f"profile's ({verdict}; the noise of a few hundred to a few thousand events per shift is larger than "
        "that): the strengths the data choose are large, so cells' profiles stay close to their "
        "command unit's and the city's, and the ranking within a shift is the weekly ranking. Unshrunk cell "
        f"profiles (`raw`) do worse (down to {raw_gap[0] * 100:.0f} points below, at {raw_gap[2]:.0%} on "
        f"{raw_gap[1]}): shrinkage is what keeps "
        "shift profiles from costing accuracy. Risk by shift is therefore offered as when-in-the-week "
        "information (the plan's per-shift hot spots and the shift-risk export) rather than as a gain in "
        f"hit rate. Intervals over {interval_origins} weeks: cells' 80% intervals held "
        f"{_coverage_range(results, 'unit', 'coverage_80')} of outcomes (the model expected "
        f"{_coverage_range(results, 'unit', 'expected_80')}: whole counts around small means); the city's total "
        f"{_coverage_range(results, 'city', 'coverage_80')} at 80% and {_coverage_range(results, 'city', 'coverage_95')} "
        f"at 95% ({interval_origins} outcomes each, so about +-9 points of noise); command units' "
        f"{_coverage_range(results, 'bcu', 'coverage_80')} at 80%.",
        "",
        machine_markdown(("duckdb", "pyarrow", "scipy")),
        "",
    ]
    for res in results:
        load = ", ".join(f"{v:.2f}" for v in res["load"])
        k = res["k"]
        k_unit = sorted(k["k_unit"])[len(k["k_unit"]) // 2] if k["k_unit"] else float("nan")
        tot = [v for v in k["k_total"] if v == v]
        k_total = sorted(tot)[len(tot) // 2] if tot else float("nan")
        parts += [
            f"### {res['title']}",
            "",
            f"{res['events']:,} timestamped events {res['first']}..{res['last']}, {res['units']:,} cells. Shift "
            f"scoring {res['shift_seconds']:.0f} s, interval backtest {res['interval_seconds']:.0f} s; load "
            f"average after the run {load} (shared 2-core machine).",
            "",
            shift_table(res),
            "",
            f"Shrinkage chosen on all the events ({res['profile']['occasions']:,} occasions): "
            + (f"command units towards the city {res['profile']['strength_bcu']:,.0f} pseudo-events, "
               if res["profile"]["command_units"] > 1 else "no command units (one study area: the city), ")
            + f"cells towards their parent {res['profile']['strength_unit']:,.0f}; "
            f"{res['profile']['units_with_events']:,} cells have events. A cell's own pattern outweighs its "
            "parent's only past that many occasions.",
            "",
            f"Dispersion (median over origins): k = {k_unit:.2f} per cell, {k_total:.1f} for totals.",
            "",
            interval_table(res),
            "",
        ]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--origins", type=int, default=8, help="weekly origins for the shift scores")
    parser.add_argument("--interval-origins", type=int, default=20,
                        help="weekly origins for interval coverage (a city total is one outcome per origin)")
    parser.add_argument("--only", default="d,c-vancouver,c-cincinnati")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    chosen = {k.strip() for k in args.only.split(",")}
    inputs = [d for d in (synthetic(QUICK_CITY), force_records("vancouver"), force_records("cincinnati"))
              if d.key in chosen]  # fmt: skip
    results = []
    for ds in inputs:
        res = run_one(ds, args.origins, args.interval_origins, args.rebuild)
        print(f"{ds.title}: {res['events']:,} events, {res['units']:,} cells")
        print(shift_table(res))
        print(interval_table(res))
        results.append(res)
    if not args.no_docs:
        print(f"wrote {write_section(TITLE, docs(results, args.origins, args.interval_origins))}")


if __name__ == "__main__":
    main()
