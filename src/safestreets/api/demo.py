"""The main job end to end on the built-in synthetic city, as ``make demo`` runs it, through the same
:class:`~safestreets.api.workspace.Workspace` methods as the CLI (so the demo and the CLI cannot drift).

Generate the city, load its boundaries and places, ingest its police.uk files and its timestamped force
records, export the events for GIS, forecast next month's violence (model chosen by backtest), plan a
week of hot spot patrols, and write the tactical assessment (HTML and PDF).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import duckdb

from safestreets.api import data
from safestreets.api.results import ForecastResult
from safestreets.api.workspace import Workspace

#: ``stage(label, total)`` opens a progress display for one stage and returns a context manager
#: yielding ``update(what, done, total)``; the CLI passes Rich bars, a notebook may pass nothing.
Stage = Callable[[str, int | None], AbstractContextManager[Callable[[str, int, int], None]]]


@dataclass
class DemoResult:
    workspace: Workspace
    lines: list[str]


def _quiet(_label: str, _total: int | None) -> AbstractContextManager[Callable[[str, int, int], None]]:
    return nullcontext(lambda _what, _done, _total: None)


def run_demo(
    path: str | Path,
    *,
    n_events: int = 60_000,
    months: int = 24,
    seed: int = 7,
    stage: Stage | None = None,
    command: str = "safestreets",
    impact: bool = False,
) -> DemoResult:
    """Run the demo into the workspace at ``path`` (made if missing); safe to run again.

    ``impact`` plants an intervention of known size in the city (every street crime in a disc cut by half
    for four months, ending two months before the data do) and adds the impact steps: the evaluation of
    that intervention, the near-repeat test on the force's timestamped burglaries, the fairness audit of
    the plan, and the transparency record; the briefing then carries their sections."""
    from safestreets.forecast import MODELS
    from safestreets.synthetic import CityConfig, generate_city

    stage = stage or _quiet
    started = time.perf_counter()
    ws = Workspace(path, create=True)
    city = ws.root / "synthetic-city"
    planted = None
    if impact:
        from safestreets.synthetic import PlantedIntervention
        from safestreets.synthetic.clock import month_list

        first = CityConfig(seed=seed, months=months)
        labels = [m.label for m in month_list(first)]
        planted = PlantedIntervention(start=labels[max(len(labels) - 6, 1)], months=4, effect=0.5)
    manifest = generate_city(
        city, CityConfig(seed=seed, n_events=n_events, months=months, intervention=planted)
    )
    try:
        load_city_areas_and_places(ws.con, city)
        with stage("ingest", None) as update:
            ws.ingest(city / "police_uk", progress=update)
        for records in sorted((city / "force_records").glob("*-records.csv")):
            ws.ingest(
                records, mapping=records.with_name(records.name.replace("-records.csv", "-mapping.toml"))
            )
        gpkg = ws.export(ws.outputs / "events.gpkg", source="police.uk")
        parquet = ws.export(ws.outputs / "events.parquet")
        s = ws.status().status

        auto_origins = 4
        with stage("choosing model", len(MODELS) * auto_origins) as update:
            done = [0]

            def step(what: str) -> None:
                done[0] += 1
                update(what, done[0], len(MODELS) * auto_origins)

            fc = ws.forecast(target="violence", horizon="1m", model="auto", auto_origins=auto_origins,
                             progress=step)  # fmt: skip
        from safestreets.api.forecasting import coverage_chart

        chart = coverage_chart(fc, ws.outputs / "backtest-violence-coverage.png",
                               title="Violence: share of next month's crime captured (last 4 months)")  # fmt: skip
        plan = ws.plan(teams=2, seed=7)
        acc = load_accountability(ws, city, seed)
        impact_lines = _impact_steps(ws, city, stage) if planted is not None else []
        with stage("briefing", 6) as update:
            done = [0]

            def brief_step(what: str) -> None:
                done[0] += 1
                update(what, done[0], 6)

            brief = ws.brief(week=plan.week_start, plan_id=plan.plan_id, progress=brief_step)
        admin, password = demo_admin(ws)
        root = ws.root
        ev = s.tables["events"]
        meta = fc.surface.meta
        p = plan.run.plan
        lines = [
            f"synthetic city: {', '.join(manifest.forces)}, {len(manifest.months)} months "
            f"({manifest.months[0]}..{manifest.months[-1]}), seed {seed}",
            f"store: {ws.paths.db_path}",
            f"  events {ev.rows:,} ({ev.no_location:,} without location), "
            f"stop and search {s.tables['stop_searches'].rows:,}, outcomes {s.tables['outcomes'].rows:,}",
            "  areas " + ", ".join(f"{k} {v:,}" for k, v in s.areas.items())
            + "; places " + ", ".join(f"{k} {v:,}" for k, v in s.places.items()),
            f"outputs: {ws.paths.outputs}",
            f"  {_rel(gpkg.path, root)} ({gpkg.rows:,} police.uk events for QGIS), {_rel(parquet.path, root)}",
            f"forecast: violence for {meta['window'][0][:7]} on {len(fc.surface.units):,} grid cells of 250 m, "
            f"model {fc.model}",
            f"  why: {fc.reason}",
            f"  top cell per BCU: {_top_cells(fc)}",
            "  " + ", ".join(_rel(f, root) for f in [*fc.files, chart]),
            f"plan: week of {plan.week_start}, {len(p.teams)} team-shifts over {len(plan.by_bcu())} BCUs, "
            f"{int(p.visits.sum())} visits a day; expected harm prevented {p.objective:,.0f} a week "
            f"(gap {p.gap:.2%}, {p.solver})",
            "  " + ", ".join(_rel(f, root) for f in plan.files if f.suffix in (".csv", ".geojson", ".pdf")),
            *acc,
            *impact_lines,
            f"briefing: {_rel(brief.html, root)}" + (f", {_rel(brief.pdf, root)}" if brief.pdf else ""),
            f"dashboard: {command} serve --workspace {_shown_path(root)}",
            f"  then open http://127.0.0.1:8000/ and sign in as {admin} with password {password} "
            f"(shown once; '{command} users reset {admin} --workspace {_shown_path(root)}' makes a new one)",
            f"done in {time.perf_counter() - started:.1f} s",
        ]  # fmt: skip
    finally:
        ws.close()
    return DemoResult(ws, lines)


def load_accountability(ws: Workspace, city: Path, seed: int) -> list[str]:
    """The city's census populations, operations with tallies and Section 60 authorisations (written by
    ``synthetic.accountability``), loaded through the API, and the stop-and-search report; a re-run adds
    nothing twice. Returns the demo's lines."""
    import csv

    from safestreets.sources.tallies import read_tallies
    from safestreets.synthetic.accountability import write_accountability

    files = write_accountability(city, seed)
    ws.load_population(files.census)
    have = {o.name for o in ws.operations()}
    tallies = read_tallies(files.tallies).to_pylist()
    with files.operations.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["name"] in have:
                continue
            op = ws.operation_add(name=row["name"], start=row["start"], end=row["end"], areas=row["areas"].split(";"),
                                  tactics=row["tactics"].split(";"), actor="demo")  # fmt: skip
            ws.operation_tallies_add(op.id, rows=[t for t in tallies if t["operation"] == row["name"]], actor="demo",
                                     source=files.tallies.name)  # fmt: skip
    known = {a.reference for a in ws.s60_list()}
    with files.s60.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["reference"] in known:
                continue
            ws.s60_add(starts_at=row["starts_at"], ends_at=row["ends_at"], authorised_by=row["authorised_by"],
                       rank=row["rank"], grounds=row["grounds"], place=row["place"], lon=float(row["lon"]),
                       lat=float(row["lat"]), radius_m=float(row["radius_m"]), incident=row["incident"],
                       reference=row["reference"], extensions=[row["extension"]] if row["extension"] else [],
                       flag=True, actor="demo")  # fmt: skip
    report = ws.stopsearch_report()
    ops, auths = ws.operations(), ws.s60_report()
    s = report.summary
    d = report.disproportionality
    rr = f"; Black/White relative rate {d.rate('Black')['rr']:.2f}" if d is not None else ""
    flagged = sum(1 for r in auths if r.authorisation.verdict == "flagged")
    return [
        f"stop and search: {s['searches']:,} searches, positive outcome {s['positive_rate']:.1%}, arrest "
        f"{s['arrest_rate']:.1%}{rr}",
        f"  {_rel(report.paths[0], ws.root)}",
        f"operations: {len(ops)} recorded ({ws.operation_report(ops[0].id).headline})"
        if ops
        else "operations: none",
        f"Section 60: {len(auths)} authorisations ({flagged} flagged), {sum(r.searches for r in auths):,} searches "
        "linked to them",
    ]


def _impact_steps(ws: Workspace, city: Path, stage: Stage) -> list[str]:
    """The impact part of the demo: evaluate the planted intervention, test for near repeats, audit the
    plan's fairness, write the transparency record."""
    import json

    planted = city / "interventions" / "planted.json"
    doc = json.loads(planted.read_text())
    with stage("impact", None):
        ev = ws.evaluate_impact(start=doc["start"], end=doc["end"], area=str(planted), target="public",
                                label="planted intervention")  # fmt: skip
        nr = ws.near_repeat(target="burglary", permutations=199)
        fair = ws.fairness(population=city / "population" / "lsoa_population.csv")
        record = ws.audit_record()
    did = next(e for e in ev.effects if e.method == "difference-in-differences")
    return [
        f"impact: planted {doc['expected_change_percent']:+.0f}% in a {doc['radius_m']:.0f} m disc, "
        f"{doc['start']}..{doc['end']}; difference-in-differences says: {did.verdict().split(': ', 1)[1]}",
        *[f"  {line}" for line in ev.lines()[1:] if not line.startswith("difference-in-differences")],
        f"  near repeats: {nr.advice.text}",
        f"  fairness: {fair.patrol.summary()}",
        "  transparency record: " + ", ".join(_rel(f, ws.root) for f in record.files),
    ]


DEMO_ADMIN = "demo-admin"


def demo_admin(ws: Workspace) -> tuple[str, str]:
    """The demo's admin account with a fresh random password (never a fixed one), returned once."""
    from safestreets.api import accounts
    from safestreets.errors import NotFoundError

    try:
        _, password = accounts.reset_password(ws.db, DEMO_ADMIN, actor="demo")
    except NotFoundError:
        _, password = accounts.add_user(ws.db, DEMO_ADMIN, "admin", actor="demo")
    return DEMO_ADMIN, password


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_city_areas_and_places(con: duckdb.DuckDBPyConnection, city: Path) -> None:
    """Load a synthetic city's boroughs, LSOAs, borough-to-BCU lookup and places into a store."""
    boundaries = city / "boundaries"
    for name in ("boroughs.geojson", "lsoa.geojson", "borough_to_bcu.csv"):
        data.load_areas(con, boundaries / name)
    for path in sorted((city / "places").glob("*.csv")):
        data.load_places(con, path)


def _top_cells(fc: ForecastResult) -> str:
    return "; ".join(f"{fc.bcu_names.get(r['bcu']) or r['bcu']}: {r['place']}" for r in fc.top_per_bcu(1))


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
