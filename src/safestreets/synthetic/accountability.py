"""The synthetic city's accountability files: census populations by ethnic group, operations with daily
tallies, and the Section 60 authorisations behind its bursts of section 60 searches.

Written after ``generate_city`` from the files it wrote (nothing of the city itself changes, so its files stay
byte-identical for a seed), into ``<city>/accountability/``:

- ``ts021_ethnic_group_lad.csv``: TS021 in the local-authority layout, one row per borough, summed from the
  LSOA populations (one detailed column per broad group);
- ``operations.csv`` and ``tallies.csv``: a week of action and a two-week operation in the last month, with
  tallies per day, BCU and tactic (a CSV ``safestreets operation tally --csv`` reads);
- ``s60.csv``: one authorisation per burst of section 60 searches (a day with several), centred on the
  searches, 1.5 km round, starting an hour before the first search; one in three is extended by a
  superintendent, one of them past the 48 h limit, so the demo shows a flagged authorisation.

Same city and seed, same bytes.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from safestreets.synthetic.draws import random_stream

FOLDER = "accountability"
TS021_COLUMNS = {
    "asian": "Asian, Asian British or Asian Welsh: Other Asian",
    "black": "Black, Black British, Black Welsh, Caribbean or African: Other Black",
    "mixed": "Mixed or Multiple ethnic groups: Other Mixed or Multiple ethnic groups",
    "white": "White: English, Welsh, Scottish, Northern Irish or British",
    "other": "Other ethnic group: Any other ethnic group",
}
TALLY_COLUMNS = ("operation", "date", "bcu", "tactic", "knives", "weapons", "drugs", "arrests", "community_events",
                 "sweeps", "searches", "visits")  # fmt: skip
S60_COLUMNS = ("reference", "place", "lon", "lat", "radius_m", "starts_at", "ends_at", "authorised_by", "rank",
               "grounds", "incident", "extension")  # fmt: skip
_SEED = 17_017  # this module's own random stream: the city's streams are untouched


@dataclass(frozen=True)
class AccountabilityFiles:
    census: Path
    operations: Path
    tallies: Path
    s60: Path


def _write(path: Path, header: tuple[str, ...] | list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _census(city: Path, out: Path) -> Path:
    lsoa_borough = {}
    feats = json.loads((city / "boundaries" / "lsoa.geojson").read_text("utf-8"))["features"]
    for f in feats:
        lsoa_borough[f["properties"]["LSOA_CODE"]] = f["properties"]["BOROUGH_CODE"]
    names = {f["properties"]["BOROUGH_CODE"]: f["properties"]["BOROUGH_NAME"]
             for f in json.loads((city / "boundaries" / "boroughs.geojson").read_text("utf-8"))["features"]}  # fmt: skip
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TS021_COLUMNS, 0))
    with (city / "population" / "lsoa_population.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            b = lsoa_borough.get(row["lsoa_code"])
            if b is None:
                continue
            for k in TS021_COLUMNS:
                sums[b][k] += int(row[k])
    path = out / "ts021_ethnic_group_lad.csv"
    _write(path, ["area_code", "area_name", *TS021_COLUMNS.values()],
           [[b, names.get(b, b), *sums[b].values()] for b in sorted(sums)])  # fmt: skip
    return path


def _bcus(city: Path) -> list[str]:
    with (city / "boundaries" / "borough_to_bcu.csv").open(encoding="utf-8") as f:
        return sorted({row["met_bcu"] for row in csv.DictReader(f)})


def _months(city: Path) -> list[str]:
    return sorted(p.name for p in (city / "police_uk").iterdir() if p.is_dir())


def _operations(city: Path, out: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    bcus, months = _bcus(city), _months(city)
    ops: list[list[object]] = []
    tallies: list[list[object]] = []
    # In the city's last month, so the briefing for the week after the data shows them.
    plans = [  # name, first day of the last month, days, tactics, share of BCUs
        ("Operation Sceptre week of action", 1, 7, ["knife-arches", "weapons-sweeps", "community-events",
                                                    "hot-spot-patrols"], 1.0),
        ("Operation Nightshield", 10, 14, ["hot-spot-patrols", "drug-dogs", "anpr"], 0.5),
    ]  # fmt: skip
    for name, first, days, tactics, share in plans:
        y, m = (int(v) for v in months[-1].split("-"))
        start = date(y, m, first)
        end = start + timedelta(days=days - 1)
        areas = bcus[: max(1, round(len(bcus) * share))]
        ops.append([name, start.isoformat(), end.isoformat(), ";".join(areas), ";".join(tactics)])
        for d in range(days):
            day = start + timedelta(days=d)
            for bcu in areas:
                for tactic in tactics:
                    counts = {
                        "knives": rng.poisson(1.2 if tactic in ("knife-arches", "weapons-sweeps") else 0.2),
                        "weapons": rng.poisson(0.4), "drugs": rng.poisson(3.0 if tactic == "drug-dogs" else 1.0),
                        "arrests": rng.poisson(2.0), "community_events": rng.poisson(2.0) if tactic == "community-events" else 0,
                        "sweeps": rng.poisson(1.5) if tactic == "weapons-sweeps" else 0,
                        "searches": rng.poisson(6.0), "visits": rng.poisson(9.0) if tactic == "hot-spot-patrols" else 0,
                    }  # fmt: skip
                    tallies.append([name, day.isoformat(), bcu, tactic, *(int(v) for v in counts.values())])
    op_path, tally_path = out / "operations.csv", out / "tallies.csv"
    _write(op_path, ["name", "start", "end", "areas", "tactics"], ops)
    _write(tally_path, TALLY_COLUMNS, tallies)
    return op_path, tally_path


def _s60(city: Path, out: Path) -> Path:
    bursts: dict[str, list[tuple[datetime, float, float]]] = defaultdict(list)
    for path in sorted((city / "police_uk").glob("*/*-stop-and-search.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if "section 60" not in row["Legislation"] or not row["Longitude"]:
                    continue
                at = datetime.fromisoformat(row["Date"])
                bursts[at.date().isoformat()].append((at, float(row["Longitude"]), float(row["Latitude"])))
    rows: list[list[object]] = []
    for i, day in enumerate(d for d in sorted(bursts) if len(bursts[d]) >= 3):
        pts = bursts[day]
        start = min(p[0] for p in pts).replace(minute=0, second=0) - timedelta(hours=1)
        end = start + timedelta(hours=24)
        ext = ""
        if i % 3 == 1:
            ext = f"{(end + timedelta(hours=24)).isoformat()},superintendent,Supt Osei"
        elif i % 3 == 2:
            ext = (
                f"{(end + timedelta(hours=30)).isoformat()},superintendent,Supt Osei"  # 54 h: past the limit
            )
        lon = round(float(np.mean([p[1] for p in pts])), 6)
        lat = round(float(np.mean([p[2] for p in pts])), 6)
        rows.append([f"S60-{day}", f"Around {day}", lon, lat, 1500, start.isoformat(), end.isoformat(), "Insp Carter",
                     "inspector", "Stabbing; information that further violence is planned", f"Serious assault {day}", ext])  # fmt: skip
    path = out / "s60.csv"
    _write(path, S60_COLUMNS, rows)
    return path


def write_accountability(city: Path | str, seed: int) -> AccountabilityFiles:
    """Write the accountability files for the city generated in ``city`` (same inputs, same bytes)."""
    city = Path(city)
    out = city / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    rng = random_stream(seed, _SEED)
    census = _census(city, out)
    operations, tallies = _operations(city, out, rng)
    return AccountabilityFiles(census, operations, tallies, _s60(city, out))
