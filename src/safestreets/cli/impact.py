"""Impact commands: ``evaluate impact``, ``evaluate near-repeat``, ``evaluate feedback-loop`` and, in the
``audit`` group of cli/admin.py, ``audit fairness`` and ``audit record``. Each parses, calls the API once,
renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from safestreets.cli.common import Fmt, FormatOpt, WorkspaceOpt, emit, open_workspace, out, written

evaluate_app = typer.Typer(
    help="Did it work: the effect of an intervention, near repeats, the feedback loop.", no_args_is_help=True
)


def _print_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


@evaluate_app.command("impact")
def evaluate_impact(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(help="First month of the intervention, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option(help="Month after its last, YYYY-MM (it runs start <= month < "
                                            "end).")] = None,
    operation: Annotated[str | None, typer.Option(help="Or a recorded operation's id or name (its areas and "
                                                  "dates from the operations register).")] = None,
    area: Annotated[str | None, typer.Option(help="The area: WKT in the workspace CRS, lon,lat,radius_m, or a "
                                             ".json (with 'wkt') or .wkt file.")] = None,
    unit_ids: Annotated[str | None, typer.Option("--unit-ids", help="Or the units, comma-separated (e.g. LSOA "
                                                 "codes with --units lsoa).")] = None,
    target: Annotated[str, typer.Option(help="Crime to measure: burglary, violence, public, or types.")] = "burglary",
    units: Annotated[str, typer.Option(help="grid, or an areas kind (lsoa, ward...).")] = "grid",
    cell_size: Annotated[float, typer.Option("--cell-size", help="Grid cell size, metres.")] = 250.0,
    buffer: Annotated[float, typer.Option(help="Width of the displacement buffer, metres.")] = 500.0,
    control: Annotated[str | None, typer.Option(help="Control area for the WDQ (as --area); default: a ring "
                                                "beyond the buffer, shown in the output.")] = None,
    k: Annotated[int, typer.Option(min=1, help="Comparison units matched to each target unit.")] = 3,
    model: Annotated[str, typer.Option(help="Forecaster for the counterfactual.")] = "ewma",
    measure: Annotated[str, typer.Option(help="count, harm (Cambridge harm index) or both.")] = "count",
    level: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
    label: Annotated[str | None, typer.Option(help="A name for the intervention.")] = None,
    report: Annotated[Path | None, typer.Option("--out", help="Also write a Markdown report here.")] = None,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """The effect of an intervention: forecast counterfactual, matched difference-in-differences, interrupted
    time series, synthetic control, and the WDQ for displacement; each says what it assumes, or that it
    cannot say."""
    from safestreets.errors import ParameterError

    members = [u.strip() for u in unit_ids.split(",") if u.strip()] if unit_ids else None
    options = {"target": target, "units": units, "cell_size": cell_size, "buffer_m": buffer, "control": control,
               "k": k, "model": model, "measure": measure, "level": level}  # fmt: skip
    if operation is None and (start is None or end is None):
        raise ParameterError("give --start and --end (with --area or --unit-ids), or --operation")
    with open_workspace(ctx, workspace) as ws:
        if operation is not None:
            result = ws.evaluate_operation(operation, **options)
        else:
            result = ws.evaluate_impact(
                start=start, end=end, area=area, members=members, label=label, **options
            )
    if report is not None:
        report.write_text(result.markdown())
    if fmt is Fmt.json:
        _print_json(result.to_dict())
        return
    rows = [
        {"method": e.method, "estimate": None if e.percent is None else round(e.percent, 1),
         "low": None if e.ratio_low is None else round(100 * (e.ratio_low - 1), 1),
         "high": None if e.ratio_high is None else round(100 * (e.ratio_high - 1), 1),
         "p_value": None if e.p_value is None else round(e.p_value, 4), "verdict": e.verdict()}
        for e in result.effects
    ]  # fmt: skip
    if fmt is Fmt.csv:
        emit(rows, ("method", "estimate", "low", "high", "p_value", "verdict"), fmt)
        return
    out.print(result.lines()[0])
    for line in result.lines()[1:]:
        out.print(f"  {line}", highlight=False)
    c = result.comparison
    out.print(f"compared with {len(c['matched_units'])} matched units (e.g. {', '.join(c['matched_units'][:5])}); "
              f"{c['buffer_units_excluded']} buffer units left out; synthetic control from {c['donor_tiles']} tiles "
              f"of {c['tile_side_m']:.0f} m")  # fmt: skip
    if result.wdq is not None:
        a = result.wdq.areas
        out.print(f"WDQ areas: buffer {a.get('buffer_km2')} km2, control {a.get('control_km2')} km2 "
                  f"({'chosen: a ring beyond the buffer' if a.get('control_chosen') else 'given'})")  # fmt: skip
    for note in result.notes:
        out.print(f"[yellow]note:[/] {note}")
    out.print(f"stored as evaluation {result.result_id}; {result.seconds:.1f} s")
    if report is not None:
        written([report], "report written to {}")


@evaluate_app.command("near-repeat")
def evaluate_near_repeat(
    ctx: typer.Context,
    target: Annotated[str, typer.Option(help="Crime to test: burglary, robbery, violence, or types.")] = "burglary",
    since: Annotated[str | None, typer.Option(help="From this month (YYYY-MM).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this month (YYYY-MM).")] = None,
    distances: Annotated[str, typer.Option(help="Distance band edges, metres (0 first adds a same-place row).")] = "0,100,200,300,400,500",
    days: Annotated[str, typer.Option(help="Time band edges, days.")] = "0,7,14,21,28,35,42,56",
    permutations: Annotated[int, typer.Option(min=19, help="Monte Carlo permutations.")] = 999,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """The Knox test of near repeats (Ratcliffe's Near Repeat Calculator, with no size limit) and the patrol
    advice it supports. Needs timestamped events (a force's own records)."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.near_repeat(target=target, since=since, until=until, distances=distances, days=days,
                                permutations=permutations, seed=seed)  # fmt: skip
    if fmt is Fmt.json:
        _print_json(result.to_dict())
        return
    cells = result.knox.cells()
    emit(
        cells, ("distance", "time", "observed", "expected", "ratio", "p_value"), fmt,
        title=f"Knox test: {result.target}, {result.knox.events:,} events, {result.knox.permutations} permutations",
        right=("observed", "expected", "ratio", "p_value"),
    )  # fmt: skip
    if fmt is Fmt.table:
        out.print(result.advice.text, highlight=False)
        out.print(f"stored as near-repeat result {result.result_id}; {result.seconds:.1f} s")


@evaluate_app.command("feedback-loop")
def evaluate_feedback_loop(
    rounds: Annotated[int, typer.Option(min=1, help="Forecast -> patrol -> record rounds.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Simulate the forecast -> patrol -> recorded-crime loop (Ensign et al. 2018) with targets the public
    reports and with police-found targets."""
    from safestreets.api.fairness import feedback_simulation

    runs = feedback_simulation(rounds=rounds, seed=seed)
    if fmt is Fmt.json:
        _print_json(runs)
        return
    for r in runs:
        out.print(r["summary"], highlight=False)


def audit_fairness(
    ctx: typer.Context,
    plan: Annotated[int | None, typer.Option(help="Plan to audit (default: the latest).")] = None,
    forecast_run: Annotated[int | None, typer.Option("--forecast-run", help="Or a forecast run (its flagged "
                                                     "hot spots).")] = None,
    areas: Annotated[str, typer.Option(help="Areas kind to audit over (lsoa, ward, borough...).")] = "lsoa",
    population: Annotated[Path | None, typer.Option(help="CSV of residents per area (code, population, one "
                                                    "column per group).")] = None,
    months: Annotated[int, typer.Option(min=1, help="Months of harm and stop and search before the plan.")] = 12,
    coverage: Annotated[float, typer.Option(help="Share of the area a forecast flags.")] = 0.05,
    threshold: Annotated[float, typer.Option(help="Flag areas with more than this times their harm share.")] = 1.5,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Who bears the cost: each area's share of patrol exposure, of stop and search and of Section 60 hours
    against its share of harm (and of residents and each group, where loaded); over-exposed areas flagged."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.fairness(plan_id=plan, forecast_run=forecast_run, areas=areas, population=population,
                             months=months, coverage=coverage, threshold=threshold)  # fmt: skip
    if fmt is Fmt.json:
        _print_json(result.to_dict())
        return
    rows = [dict(r, stop_share=None) for r in result.patrol.rows()]
    if result.stops is not None:
        for r, s in zip(rows, result.stops.rows(), strict=True):
            r["stop_share"] = s["exposure_share"]
            r["stops_over_exposed"] = s["over_exposed"]
    if result.section60 is not None:
        for r, s in zip(rows, result.section60.rows(), strict=True):
            r["s60_share"] = s["exposure_share"]
            r["s60_over_exposed"] = s["over_exposed"]
    shown = (
        [r for r in rows if r["over_exposed"] or r.get("stops_over_exposed") or r.get("s60_over_exposed")] if fmt is Fmt.table else rows
    )
    columns = ("area", "name", "exposure_share", "harm_share", "population_share", "exposure_to_harm", "over_exposed",
               "stop_share", "stops_over_exposed", "s60_share", "s60_over_exposed", *(f"{g}_share" for g in result.patrol.group_shares))  # fmt: skip
    emit(shown, columns, fmt, title="Areas over-exposed relative to harm")
    if fmt is Fmt.table:
        for line in result.lines():
            out.print(line, highlight=False)
        for g, v in (result.patrol.groups or {}).items():
            out.print(f"  {g}: {v['residents_share']:.1%} of residents, {v['exposure_share']:.1%} of patrol "
                      f"exposure ({v['relative_exposure']:.2f}x)", highlight=False)  # fmt: skip
        out.print(f"stored as fairness result {result.result_id}")


def audit_record(
    ctx: typer.Context,
    organisation: Annotated[str | None, typer.Option(help="The force or body responsible.")] = None,
    team: Annotated[str | None, typer.Option(help="The team responsible.")] = None,
    contact_email: Annotated[str | None, typer.Option("--contact-email", help="Public contact.")] = None,
    senior_owner: Annotated[str | None, typer.Option("--senior-owner", help="Senior responsible owner "
                                                     "(role).")] = None,
    retention_months: Annotated[int, typer.Option("--retention-months", min=1, help="How long the analytic "
                                                  "store keeps data.")] = 36,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder (default: the workspace outputs).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Write an Algorithmic Transparency Recording Standard record and DPIA inputs for the deployed
    configuration (JSON and Markdown)."""
    with open_workspace(ctx, workspace) as ws:
        result = ws.audit_record(out_dir=out_dir, organisation=organisation, team=team,
                                 contact_email=contact_email, senior_owner=senior_owner,
                                 retention_months=retention_months)  # fmt: skip
    written(result.files, "written: {}")
    for gap in result.gaps:
        out.print(f"[yellow]to complete:[/] {gap}", highlight=False)


@evaluate_app.command("results")
def evaluate_results(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="evaluation, near-repeat or fairness (default: all).")] = None,
    result_id: Annotated[int | None, typer.Option("--id", help="Print this stored result in full (JSON).")] = None,
    fmt: FormatOpt = Fmt.table,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Stored evaluations, Knox tables and fairness audits, newest first (or one in full with --id)."""
    with open_workspace(ctx, workspace) as ws:
        if result_id is not None:
            _print_json(ws.impact_result(kind, result_id))
            return
        rows = ws.impact_results(kind)
    emit(rows, ("result_id", "kind", "label", "created_at"), fmt, title="Stored impact results")
