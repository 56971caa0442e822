"""Deployment commands: plan, hubs, hotspots, brief, and the demo. Each parses, calls the API once,
renders."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from safestreets.api.results import place_label
from safestreets.cli.common import (
    Fmt,
    FormatOpt,
    WorkspaceOpt,
    emit,
    named_workspace,
    open_workspace,
    out,
    stage,
    steps,
    written,
)
from safestreets.config import resolve_workspace

RunOpt = Annotated[
    int | None, typer.Option("--forecast-run", help="Forecast run to use (default: the latest).")
]
WeekOpt = Annotated[str | None, typer.Option("--week", help="First day of the week, a Monday (YYYY-MM-DD); "
                                             "default: the first Monday of the forecast window.")]  # fmt: skip


class Solver(StrEnum):
    auto = "auto"
    milp = "milp"
    heuristic = "heuristic"


def plan(
    ctx: typer.Context,
    resources: Annotated[Path | None, typer.Option(help="CSV bcu,shift,teams (bcu * = a citywide pool; "
                                                   "'all' where no BCUs are loaded).")] = None,
    teams: Annotated[int, typer.Option(min=0, help="Without --resources: teams per BCU and shift.")] = 2,
    week: WeekOpt = None,
    forecast_run: RunOpt = None,
    solver: Annotated[Solver, typer.Option(case_sensitive=False, help="auto (greedy, MILP when the gap is too "
                                           "wide), milp or heuristic.")] = Solver.auto,
    visit_minutes: Annotated[float, typer.Option("--visit-minutes", help="Visit length, 10-16 (Koper).")] = 15.0,
    min_gap: Annotated[float, typer.Option("--min-gap", help="Minutes between visits to one hot spot.")] = 120.0,
    patrol_radius: Annotated[float, typer.Option("--patrol-radius", help="Metres from a patrol area's centre.")] = 600.0,
    min_bcu_share: Annotated[float, typer.Option("--min-bcu-share", help="Least share of visits per BCU.")] = 0.0,
    cap_share: Annotated[float, typer.Option("--cap-share", help="Most share of a BCU's visits one "
                                             "neighbourhood takes over --cap-weeks.")] = 0.25,
    cap_weeks: Annotated[int, typer.Option("--cap-weeks", min=1, help="Weeks the cap looks over.")] = 4,
    effect: Annotated[float, typer.Option(help="Dosage: share of harm prevented while a visit protects.")] = 0.5,
    decay: Annotated[float, typer.Option(help="Dosage: weight of each further visit in a shift.")] = 0.8,
    gap: Annotated[float, typer.Option("--gap", help="Optimality gap to accept.")] = 0.005,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for the MILP.")] = 60.0,
    cards: Annotated[bool, typer.Option("--cards/--no-cards", help="Write printable patrol cards.")] = True,
    seed: Annotated[int | None, typer.Option(help="Seed for visit times (default: fresh each plan).")] = None,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Plan hot spot patrols for a week from the latest forecast: teams, areas, hot spots, visit times."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.plan(resources=resources, teams=teams, week=week, forecast_run=forecast_run,
                         solver=solver.value, cards=cards, seed=seed, visit_minutes=visit_minutes, min_gap=min_gap,
                         patrol_radius=patrol_radius, min_bcu_share=min_bcu_share, cap_share=cap_share,
                         cap_weeks=cap_weeks, effect=effect, decay=decay, gap=gap, time_limit=time_limit)  # fmt: skip
    run, p = result.run, result.run.plan
    if fmt is Fmt.table:
        out.print(f"[bold]patrol plan {run.plan_id}[/] for the week of {run.week_start} from forecast run "
                  f"{run.surface.run_id}: {len(p.teams)} team-shifts; expected harm prevented {p.objective:,.0f} a "
                  f"week (bound {p.bound:,.0f}, gap {p.gap:.2%}, {p.solver}, {p.seconds:.1f} s)")  # fmt: skip
    emit(
        result.by_bcu(), ("bcu", "teams", "hotspots", "visits_per_day", "harm_prevented_week"), fmt,
        title="Per BCU", headers=("BCU", "team-shifts", "hot spots", "visits a day", "harm prevented a week"),
        right=("team-shifts", "hot spots", "visits a day", "harm prevented a week"),
        cells=lambda r: [place_label(r["bcu"], result.bcu_names), str(r["teams"]), str(r["hotspots"]),
                         str(r["visits_per_day"]),
                         f"{r['harm_prevented_week']:,.0f}"],
    )  # fmt: skip
    if fmt is Fmt.table:
        for note in result.notes:
            out.print(f"note: {note}", highlight=False)
        written(result.files)


def hubs(
    ctx: typer.Context,
    budget: Annotated[int, typer.Option(min=0, help="Knife-arch / drug-dog deployments this week.")] = 5,
    catchment: Annotated[float, typer.Option(help="Metres around a hub that count.")] = 400.0,
    kinds: Annotated[str, typer.Option(help="Place kinds that are hubs, comma-separated.")] = "station",
    sweeps: Annotated[int, typer.Option(min=0, help="Weapons-sweep places to suggest (0: none).")] = 5,
    incident: Annotated[str | None, typer.Option(help="After a serious incident: 'lat,lon' (or x,y in "
                                                 "metres) to show the risk and past Section 60 outcomes around it.")] = None,
    when: Annotated[str | None, typer.Option(help="The incident's local time, e.g. 2025-01-10T22:30.")] = None,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Write the deployments as CSV here.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Rank transport hubs for knife arches and drug dogs, suggest weapons sweeps, and give decision support
    after a serious incident (never an authorisation)."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.hubs(budget=budget, catchment=catchment, kinds=kinds, sweeps=sweeps, incident=incident,
                         when=when, out=out_csv)  # fmt: skip
    for line in result.lines:
        out.print(line, highlight=False)
    written([result.path])


def hotspots(
    ctx: typer.Context,
    forecast_run: RunOpt = None,
    periods: Annotated[int, typer.Option(min=3, help="Periods (weeks for timestamped data, else months).")] = 12,
    top: Annotated[int, typer.Option(min=0, help="Changes to list.")] = 15,
    out_paths: Annotated[list[Path] | None, typer.Option("--out", help="Write the classification here (.gpkg "
                         "or .geojson; repeatable). Default: both, plus a map, in the outputs folder.")] = None,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Emerging, persistent and diminishing hot spots on the latest forecast's units: what changed."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.hotspots(forecast_run=forecast_run, periods=periods, top=top, out=out_paths)
    em, units = result.result, result.units
    if fmt is Fmt.table:
        p = em.params
        out.print(
            f"[bold]emerging hot spots[/], {em.window()} ({p['periods']} periods of {p['period']}, "
            f"alpha {p['alpha']}{', FDR' if p['fdr'] else ''}) on {len(units):,} {units.kind} units"
        )
        out.print("  " + ", ".join(f"{k} {v:,}" for k, v in result.summary().items()), highlight=False)
    rows = result.to_pylist()
    if top and not rows and fmt is Fmt.table:
        out.print("no unit shows a pattern at this significance: nothing emerging, persistent or diminishing")
    elif top:
        emit(
            rows, result.COLUMNS, fmt, title="What changed",
            headers=("place", "unit", "BCU", "category", "last period", "mean before", "trend z"),
            right=("last period", "mean before", "trend z"),
            cells=lambda r: [r["place"], r["unit"], place_label(r["bcu"], result.bcu_names), r["category"],
                             f"{r['last_period']:.0f}", f"{r['mean_before']:.1f}", f"{r['trend_z']:+.2f}"],
        )  # fmt: skip
    if fmt is Fmt.table:
        written(result.files)


def brief(
    ctx: typer.Context,
    week: WeekOpt = None,
    forecast_run: RunOpt = None,
    plan_id: Annotated[int | None, typer.Option("--plan", help="Plan to include (default: the week's latest).")] = None,
    hubs_budget: Annotated[int | None, typer.Option("--hubs", min=0, help="Hub deployments to show (default: "
                           "those of the stored ranking, else 5).")] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF.")] = True,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder (default: the workspace outputs).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Write the weekly tactical assessment (HTML and PDF) from the store."""
    with open_workspace(ctx, workspace) as ws, steps("briefing", 6) as step:
        result = ws.brief(week=week, forecast_run=forecast_run, plan_id=plan_id, hubs_budget=hubs_budget, pdf=pdf,
                          out_dir=out_dir, progress=step)  # fmt: skip
    for line in result.summary:
        out.print(f"- {line}", highlight=False)
    out.print(f"briefing written to {result.html}")
    if result.pdf:
        out.print(f"briefing written to {result.pdf}")


def demo(
    ctx: typer.Context,
    events: Annotated[int, typer.Option(help="Street-level crimes in the synthetic city.")] = 60_000,
    months: Annotated[int, typer.Option(help="Months of data.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same city.")] = 7,
    impact: Annotated[bool, typer.Option("--impact/--no-impact", help="Plant an intervention of known size and "
                                         "add the impact steps (evaluation, near repeats, fairness, "
                                         "transparency record).")] = False,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """The whole job on the built-in synthetic city: generate, ingest, forecast, plan, brief."""
    import sys

    from safestreets.api import run_demo

    result = run_demo(resolve_workspace(named_workspace(ctx, workspace)).root, n_events=events, months=months,
                      seed=seed, stage=stage, command=_command(sys.argv[0]), impact=impact)  # fmt: skip
    for line in result.lines:
        out.print(line, highlight=False)


def _command(argv0: str) -> str:
    """How the user ran us, to print commands they can paste (``.venv/bin/safestreets`` under make)."""
    from pathlib import Path

    path = Path(argv0)
    if path.name != "safestreets":
        return "safestreets"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
