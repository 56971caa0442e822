"""The fairness audit of a plan or forecast (who is policed, against where harm is), the feedback-loop
simulation, and what the transparency record reads of them.

Exposure per area: a plan's scheduled patrol minutes; for a forecast without a plan, one share per
flagged hot spot (the units in the top ``coverage`` of the area), since patrols go where it points; and,
separately, stop and search in the same months. Harm: the recorded harm of publicly reported crime in the
months before. Population and groups: the areas' stored population, and a population file (code plus one
column per group) where given. Section 60 exposure: the hours of each authorisation in the Section 60
register that fall in the same months, shared over the areas its locality covers by area of overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import shapely

from safestreets.errors import NoDataError, NotFoundError
from safestreets.impact.common import plain

SECTION60_NOTE = (
    "Section 60 exposure is not audited: the operational database holding the Section 60 register could "
    "not be opened"
)


@dataclass
class FairnessReport:
    subject: str  # "plan 3" or "forecast run 5"
    area_kind: str
    window: tuple[str, str]
    patrol: Any  # FairnessAudit
    stops: Any  # FairnessAudit | None
    notes: list[str] = field(default_factory=list)
    section60: Any = None  # FairnessAudit | None
    result_id: int | None = None

    def lines(self) -> list[str]:
        out = [f"fairness audit of {self.subject} over {self.area_kind} areas, harm {self.window[0]} to "
               f"{self.window[1]}", self.patrol.summary()]  # fmt: skip
        if self.stops is not None:
            out.append(self.stops.summary())
        if self.section60 is not None:
            out.append(self.section60.summary())
        return out + self.notes

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "subject": self.subject,
                "area_kind": self.area_kind,
                "window": list(self.window),
                "patrol": self.patrol.to_dict(),
                "stops": None if self.stops is None else self.stops.to_dict(),
                "section60": None if self.section60 is None else self.section60.to_dict(),
                "notes": self.notes,
                "summary": self.lines(),
                "result_id": self.result_id,
            }
        )


def _area_kind(con: duckdb.DuckDBPyConnection, kind: str) -> str:
    have = [
        r[0] for r in con.execute("SELECT DISTINCT kind FROM areas WHERE geometry IS NOT NULL").fetchall()
    ]
    if kind == "lsoa":
        kind = next((k for k in ("lsoa21", "lsoa", "lsoa11") if k in have), kind)
    if kind not in have:
        raise NoDataError(
            f"no {kind!r} boundaries are loaded (have: {', '.join(sorted(have)) or 'none'}): load them with "
            "'safestreets areas load' or choose --areas"
        )
    return kind


def _exposure_of_plan(
    con: duckdb.DuckDBPyConnection, plan_id: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = con.execute(
        "SELECT h.x, h.y, sum(epoch(v.ends_at - v.starts_at)) / 60.0 FROM plan_visits v "
        "JOIN (SELECT DISTINCT plan_id, unit_id, x, y FROM plan_hotspots) h USING (plan_id, unit_id) "
        "WHERE v.plan_id = ? GROUP BY h.x, h.y",
        [plan_id],
    ).fetchall()
    if not rows:
        raise NotFoundError(
            f"plan {plan_id} has no scheduled visits (or does not exist): see 'safestreets plans'"
        )
    a = np.array(rows, dtype="float64")
    return a[:, 0], a[:, 1], a[:, 2]


def fairness(
    con: duckdb.DuckDBPyConnection,
    *,
    plan_id: int | None = None,
    forecast_run: int | None = None,
    areas: str = "lsoa",
    population: str | Path | None = None,
    months: int = 12,
    coverage: float = 0.05,
    threshold: float = 1.5,
    save: bool = True,
    db: Any = None,
) -> FairnessReport:
    """Audit a plan (its patrol minutes) or a forecast (its flagged hot spots), with stop and search over
    the same areas; the latest plan when neither is named, else the latest forecast. With ``db`` (the
    operational database), Section 60 hours in the same months are audited too."""
    from safestreets.forecast.store import latest_run, read_surface
    from safestreets.impact.fairness import fairness_audit
    from safestreets.sources.population import read_population
    from safestreets.store import fetch_one
    from safestreets.store.assign import locate
    from safestreets.store.queries import area_shapes

    kind = _area_kind(con, areas)
    codes, _, wkbs = area_shapes(con, kind)
    geoms = shapely.from_wkb(wkbs)
    names = {str(c): str(n) for c, n in con.execute("SELECT code, name FROM areas WHERE kind = ? AND name IS NOT "
                                                    "NULL", [kind]).fetchall()}  # fmt: skip
    notes: list[str] = []
    if plan_id is None and forecast_run is None:
        row = fetch_one(con, "SELECT max(plan_id) FROM plan_runs")
        plan_id = int(row[0]) if row and row[0] is not None else None
        if plan_id is None:
            forecast_run = latest_run(con)
            if forecast_run is None:
                raise NoDataError(
                    "no plan and no forecast to audit: run 'safestreets forecast' (and 'plan') first"
                )
    if plan_id is not None:
        row = fetch_one(con, "SELECT week_start FROM plan_runs WHERE plan_id = ?", [plan_id])
        if row is None:
            raise NotFoundError(f"no plan {plan_id}: see 'safestreets plans'")
        px, py, minutes = _exposure_of_plan(con, plan_id)
        end = np.datetime64(row[0], "M")
        subject, what = f"plan {plan_id}", "patrol minutes"
    else:
        surface = read_surface(con, forecast_run)
        order = np.argsort(surface.ranks, kind="stable")
        share = np.cumsum(surface.area_m2[order]) / surface.area_m2.sum()
        flagged = order[: max(1, int(np.searchsorted(share, coverage) + 1))]
        px, py = surface.x[flagged], surface.y[flagged]
        minutes = np.ones(len(flagged))
        assert surface.window is not None
        end = np.datetime64(surface.window[0], "M")
        subject, what = (
            f"forecast run {surface.run_id}",
            f"flagged hot spots (top {coverage:.0%} of the area)",
        )
    start = end - months
    at = locate(px, py, geoms)
    exposure = np.bincount(at[at >= 0], weights=minutes[at >= 0], minlength=len(codes))
    if (at < 0).any():
        notes.append(f"{int((at < 0).sum())} patrolled places lie outside every {kind} area")
    ev = con.execute(
        "SELECT x, y, coalesce(harm, 0) AS harm FROM events WHERE x IS NOT NULL AND source = (SELECT source FROM events "
        "WHERE x IS NOT NULL GROUP BY source ORDER BY count(*) DESC LIMIT 1) AND month >= ? AND month < ? "
        "AND crime_type NOT IN ('Drugs', 'Possession of weapons', 'Anti-social behaviour')",
        [str(start.astype("datetime64[D]")), str(end.astype("datetime64[D]"))],
    ).fetchnumpy()
    if len(ev["x"]) == 0:
        raise NoDataError(f"no recorded crime between {start} and {end} to weigh exposure against")
    where = locate(np.asarray(ev["x"]), np.asarray(ev["y"]), geoms)
    harm = np.bincount(where[where >= 0], weights=np.asarray(ev["harm"])[where >= 0],
                       minlength=len(codes))  # fmt: skip
    pop_rows = con.execute(
        "SELECT code, population FROM areas WHERE kind = ? AND population IS NOT NULL", [kind]
    ).fetchall()
    pop = None
    groups: dict[str, np.ndarray] | None = None
    pos = {c: i for i, c in enumerate(codes)}
    if population is not None:
        table = read_population(population)
        pop = np.zeros(len(codes))
        group_names = [n for n in table.column_names if n not in ("code", "population")]
        groups = {g: np.zeros(len(codes)) for g in group_names}
        matched = 0
        for i, c in enumerate(table["code"].to_pylist()):
            j = pos.get(c)
            if j is None:
                continue
            matched += 1
            pop[j] = table["population"][i].as_py() or 0.0
            for g in group_names:
                groups[g][j] = table[g][i].as_py() or 0.0
        notes.append(f"population from {Path(population).name}: {matched:,} of {len(codes):,} areas matched")
        if matched == 0:
            pop, groups = None, None
    elif pop_rows:
        pop = np.zeros(len(codes))
        for c, v in pop_rows:
            if c in pos:
                pop[pos[c]] = float(v)
    else:
        notes.append("no population loaded: shares of residents and of ethnic groups are not audited")
    patrol = fairness_audit(
        codes, exposure, harm, population=pop, groups=groups, kind=what, threshold=threshold, names=names
    )
    st = con.execute(
        "SELECT x, y FROM stop_searches WHERE x IS NOT NULL AND month >= ? AND month < ?",
        [str(start.astype("datetime64[D]")), str(end.astype("datetime64[D]"))],
    ).fetchnumpy()
    stops = None
    if len(st["x"]):
        sw = locate(np.asarray(st["x"]), np.asarray(st["y"]), geoms)
        stop_counts = np.bincount(sw[sw >= 0], minlength=len(codes))
        stops = fairness_audit(codes, stop_counts, harm, population=pop, groups=groups, kind="stop and search",
                               threshold=threshold, names=names)  # fmt: skip
    else:
        notes.append(f"no located stop and search between {start} and {end}")
    section60 = None
    if db is None:
        notes.append(SECTION60_NOTE)
    else:
        from safestreets.store import get_setting

        hours, located = section60_hours(db, geoms, get_setting(con, "crs"), start, end)
        if located:
            section60 = fairness_audit(codes, hours, harm, population=pop, groups=groups, kind="Section 60 hours",
                                       threshold=threshold, names=names)  # fmt: skip
        else:
            notes.append(f"no Section 60 authorisation in the register between {start} and {end}")
    report = FairnessReport(subject, kind, (str(start), str(end - 1)), patrol, stops, notes, section60=section60)
    if save:
        from safestreets.store.impact import save_impact

        params = {"plan_id": plan_id, "forecast_run": forecast_run, "areas": kind, "months": months,
                  "coverage": coverage, "threshold": threshold,
                  "population": None if population is None else str(population)}  # fmt: skip
        report.result_id = save_impact(con, "fairness", subject, params, report.to_dict())
    return report


def section60_hours(db: Any, geoms: Any, crs: str, start: np.datetime64, end: np.datetime64) -> tuple[np.ndarray, int]:
    """Hours of Section 60 powers per area in months ``[start, end)``: each authorisation's hours inside
    the window (extensions included), shared over the areas by the share of its locality each covers.
    Returns the hours and how many authorisations fell in the window."""
    from datetime import datetime

    from safestreets.accountability.s60 import authorisation_geometry, list_authorisations

    lo = datetime.fromisoformat(str(start.astype("datetime64[D]"))).replace(tzinfo=UTC)
    hi = datetime.fromisoformat(str(end.astype("datetime64[D]"))).replace(tzinfo=UTC)
    with db.session() as s:
        auths = list_authorisations(s, since=lo, until=hi)
    hours = np.zeros(len(geoms))
    counted = 0
    for a in auths:
        inside = (min(a.final_end, hi) - max(a.starts_at, lo)).total_seconds() / 3600
        if inside <= 0:
            continue
        counted += 1
        g = authorisation_geometry(a, crs)
        if g.area <= 0:
            continue
        hours += inside * shapely.area(shapely.intersection(geoms, g)) / g.area
    return hours, counted


def feedback_simulation(*, rounds: int = 300, seed: int = 0, rates: Any = None) -> list[dict[str, Any]]:
    """Both runs of the feedback-loop simulation: reported targets and police-found targets."""
    from safestreets.impact.feedback import feedback_loop

    kw: dict[str, Any] = {"rounds": rounds, "seed": seed}
    if rates is not None:
        kw["rates"] = rates
    return [feedback_loop(targets=t, **kw).to_dict() for t in ("reported", "found")]
