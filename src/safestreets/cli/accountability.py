"""Accountability commands: stop and search (``stopsearch``), operations (``operation``) and Section 60
(``s60``). Each parses, calls the API once, renders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safestreets.accountability.searchreport import MEASURE_HEADERS, measure_row, pct
from safestreets.api.stopsearch import jsonable
from safestreets.cli.common import Fmt, FormatOpt, WorkspaceOpt, emit, open_workspace, out, written

stopsearch_app = typer.Typer(help="Stop and search: outcomes, breakdowns, trends, disproportionality.",
                             no_args_is_help=True)  # fmt: skip


@stopsearch_app.command("population")
def stopsearch_population(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Census 2021 TS021 ethnic group CSV (.gz too), by local "
                                         "authority or by MSOA.")],
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Load census populations by ethnic group: the denominators of disproportionality."""
    with open_workspace(ctx, workspace) as ws:
        report = ws.load_population(path)
    out.print(str(report), highlight=False)


@stopsearch_app.command("report")
def stopsearch_report(
    ctx: typer.Context,
    force: Annotated[str | None, typer.Option(help="police.uk force id (default: every force loaded).")] = None,
    months: Annotated[str | None, typer.Option(help="Months, e.g. 2022-04:2023-03 (default: all).")] = None,
    legislation: Annotated[str | None, typer.Option(help="Only searches under this legislation (text it "
                                                    "contains, e.g. 'section 60').")] = None,
    basis: Annotated[str, typer.Option(help="Ethnicity for disproportionality: self (as published) or "
                                       "officer.")] = "self",
    level: Annotated[str | None, typer.Option(help="Census level to use when both are loaded: lad or msoa.")] = None,
    by: Annotated[str, typer.Option(help="Breakdown to print (legislation, object, age, gender, "
                                    "ethnicity_self, ethnicity_officer, borough, bcu, month, search_type).")] = "legislation",
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Folder for the report (default: "
                                                 "outputs/stopsearch).")] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = Fmt.table,
) -> None:  # fmt: skip
    """The stop-and-search report: printed summary, and Markdown and CSV files."""
    with open_workspace(ctx, workspace) as ws:
        report = ws.stopsearch_report(force=force, months=months, legislation=legislation, basis=basis,
                                      level=level, out_dir=out_dir)  # fmt: skip
    rows = report.analysis.by(by) if by != "all" else report.analysis.breakdown.to_pylist()
    if fmt is not Fmt.table:
        emit(jsonable(rows), tuple(report.analysis.breakdown.column_names), fmt)
        return
    s = report.summary
    out.print(f"{s['scope']}: {s['searches']:,} searches; positive outcome {pct(s['positive_rate'])}, arrest "
              f"{pct(s['arrest_rate'])}, linked find {pct(s['linked_rate'])} of {s['linked_recorded']:,} recorded",
              highlight=False)  # fmt: skip
    emit(
        rows,
        ("label",),
        fmt,
        headers=(by, *MEASURE_HEADERS),
        cells=lambda r: [str(r["label"]), *measure_row(r)],
    )
    d = report.disproportionality
    if d is not None:
        emit(d.rates.to_pylist(), ("ethnic_group",), fmt, title=f"Disproportionality ({d.basis}-defined, "
             f"{d.months} months)", headers=("group", "searches", "population", "per 1,000 a year", "relative rate"),
             cells=lambda r: [r["ethnic_group"], f"{r['searches']:,}", f"{r['population']:,}",
                              f"{r['per_1000_year']:.2f}", "-" if r["rr"] != r["rr"] else
                              f"{r['rr']:.2f} ({r['rr_lo']:.2f}-{r['rr_hi']:.2f})" if r["rr_lo"] == r["rr_lo"]
                              else f"{r['rr']:.2f}"])  # fmt: skip
    for n in report.notes:
        out.print(f"note: {n}", highlight=False)
    written(report.paths)


operation_app = typer.Typer(
    help="Operations: record them, their tallies, and their results.", no_args_is_help=True
)
TALLY_OPTS = ("knives", "weapons", "drugs", "arrests", "community_events", "sweeps", "searches", "visits")


def _op_row(o: object) -> dict[str, object]:
    d = o.to_dict()  # type: ignore[attr-defined]
    d["areas"] = ", ".join(a["code"] if a["kind"] != "polygon" else "polygon" for a in d["areas"])
    d["tactics"] = ", ".join(d["tactics"])
    return d


@operation_app.command("add")
def operation_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The operation's name, e.g. 'Operation Sceptre week of action'.")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD.")],
    area: Annotated[list[str], typer.Option("--area", help="A BCU or borough (code or name), or a polygon as WKT "
                                            "in lon/lat; repeat for more.")],
    tactic: Annotated[list[str], typer.Option("--tactic", help="hot-spot-patrols, weapons-sweeps, knife-arches, "
                                              "drug-dogs, anpr, community-events, stop-and-search, plan; repeat.")],
    plan: Annotated[int | None, typer.Option("--plan", help="The stored patrol plan it followed.")] = None,
    notes: Annotated[str, typer.Option(help="Free text.")] = "",
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Record an operation (who entered it and when is kept, and audited)."""
    with open_workspace(ctx, workspace) as ws:
        op = ws.operation_add(
            name=name, start=start, end=end, areas=area, tactics=tactic, plan_id=plan, notes=notes
        )
    out.print(
        f"operation {op.id} recorded: {op.name}, {op.start}..{op.end} (version {op.version})", highlight=False
    )


@operation_app.command("edit")
def operation_edit(
    ctx: typer.Context,
    operation: Annotated[str, typer.Argument(help="Operation id or name.")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    start: Annotated[str | None, typer.Option(help="New first day.")] = None,
    end: Annotated[str | None, typer.Option(help="New last day.")] = None,
    area: Annotated[list[str] | None, typer.Option("--area", help="Replace the areas.")] = None,
    tactic: Annotated[list[str] | None, typer.Option("--tactic", help="Replace the tactics.")] = None,
    plan: Annotated[int | None, typer.Option("--plan", help="The plan it followed.")] = None,
    notes: Annotated[str | None, typer.Option(help="Replace the notes.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Change an operation: a new version; the earlier ones are kept."""
    with open_workspace(ctx, workspace) as ws:
        op = ws.operation_edit(operation, name=name, start=start, end=end, areas=area or None,
                               tactics=tactic or None, plan_id=plan, notes=notes)  # fmt: skip
    out.print(f"operation {op.id} is now version {op.version}", highlight=False)


@operation_app.command("tally")
def operation_tally(
    ctx: typer.Context,
    operation: Annotated[str | None, typer.Argument(help="Operation id or name (optional with a CSV that names it).")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="A tally CSV: date, bcu, tactic and counts.")] = None,
    day: Annotated[str | None, typer.Option("--date", help="Day of a typed tally, YYYY-MM-DD.")] = None,
    bcu: Annotated[str | None, typer.Option(help="BCU of a typed tally.")] = None,
    tactic: Annotated[str | None, typer.Option(help="Tactic of a typed tally.")] = None,
    knives: Annotated[int, typer.Option()] = 0,
    weapons: Annotated[int, typer.Option(help="Other offensive weapons.")] = 0,
    drugs: Annotated[int, typer.Option(help="Drugs and illegal items.")] = 0,
    arrests: Annotated[int, typer.Option()] = 0,
    community_events: Annotated[int, typer.Option("--community-events")] = 0,
    sweeps: Annotated[int, typer.Option()] = 0,
    searches: Annotated[int, typer.Option()] = 0,
    visits: Annotated[int, typer.Option(help="Hot spot patrol visits made.")] = 0,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Record what an operation produced: one typed day, or a CSV (all rows checked; all or nothing)."""
    rows = None
    if csv is None:
        rows = [{"day": day, "bcu": bcu, "tactic": tactic, "knives": knives, "weapons": weapons, "drugs": drugs,
                 "arrests": arrests, "community_events": community_events, "sweeps": sweeps, "searches": searches,
                 "visits": visits}]  # fmt: skip
    with open_workspace(ctx, workspace) as ws:
        made = ws.operation_tallies_add(operation, rows=rows, csv=csv, source="cli")
    out.print(f"{len(made)} tally row(s) recorded for operation {made[0].operation_id}", highlight=False)


@operation_app.command("correct")
def operation_correct(
    ctx: typer.Context,
    tally_id: Annotated[int, typer.Argument(help="The tally row to correct (see 'operation history').")],
    knives: Annotated[int | None, typer.Option()] = None,
    weapons: Annotated[int | None, typer.Option()] = None,
    drugs: Annotated[int | None, typer.Option()] = None,
    arrests: Annotated[int | None, typer.Option()] = None,
    community_events: Annotated[int | None, typer.Option("--community-events")] = None,
    sweeps: Annotated[int | None, typer.Option()] = None,
    searches: Annotated[int | None, typer.Option()] = None,
    visits: Annotated[int | None, typer.Option()] = None,
    day: Annotated[str | None, typer.Option("--date")] = None,
    bcu: Annotated[str | None, typer.Option()] = None,
    tactic: Annotated[str | None, typer.Option()] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Correct a tally: a new row replaces it; the old one stays in the history."""
    given = {"knives": knives, "weapons": weapons, "drugs": drugs, "arrests": arrests,
             "community_events": community_events, "sweeps": sweeps, "searches": searches, "visits": visits,
             "day": day, "bcu": bcu, "tactic": tactic}  # fmt: skip
    with open_workspace(ctx, workspace) as ws:
        t = ws.operation_tally_correct(tally_id, {k: v for k, v in given.items() if v is not None})
    out.print(f"tally {t.id} replaces tally {t.replaces}", highlight=False)


@operation_app.command("list")
def operation_list(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:
    """Recorded operations, newest first."""
    with open_workspace(ctx, workspace) as ws:
        rows = [_op_row(o) for o in ws.operations()]
    emit(
        rows,
        ("id", "version", "name", "start", "end", "areas", "tactics", "plan_id", "entered_by", "entered_at"),
        fmt,
    )


@operation_app.command("history")
def operation_history(ctx: typer.Context, operation: Annotated[str, typer.Argument(help="Operation id or name.")],
                      workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:  # fmt: skip
    """Every version of an operation, and who entered it when."""
    with open_workspace(ctx, workspace) as ws:
        rows = [_op_row(o) for o in ws.operation_history(operation)]
    emit(
        rows,
        ("version", "name", "start", "end", "areas", "tactics", "plan_id", "entered_by", "entered_at"),
        fmt,
    )


@operation_app.command("report")
def operation_report(ctx: typer.Context, operation: Annotated[str, typer.Argument(help="Operation id or name.")],
                     workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:  # fmt: skip
    """The results a press release quotes: totals, per day, BCU and tactic, and the plan delivered."""
    with open_workspace(ctx, workspace) as ws:
        r = ws.operation_report(operation)
    if fmt is not Fmt.table:
        emit([{"headline": r.headline, **r.totals}], ("headline", *TALLY_OPTS), fmt)
        return
    out.print(r.headline, highlight=False)
    emit(r.by_day, ("day", *TALLY_OPTS), fmt, title="By day")
    emit(r.by_bcu, ("label", *TALLY_OPTS), fmt, title="By BCU", headers=("BCU", *TALLY_OPTS))
    emit(r.by_tactic, ("tactic", *TALLY_OPTS), fmt, title="By tactic")
    if r.delivery:
        emit(r.delivery, ("label", "planned", "recorded", "delivered"), fmt, title="Plan delivered",
             cells=lambda d: [str(d["label"]), f"{d['planned']:,}", f"{d['recorded']:,}",
                              "-" if d["delivered"] is None else f"{d['delivered']:.0%}"])  # fmt: skip
    for n in r.notes:
        out.print(f"note: {n}", highlight=False)


s60_app = typer.Typer(help="Section 60 authorisations: the limits checked, the searches made under them.",
                      no_args_is_help=True)  # fmt: skip


@s60_app.command("add")
def s60_add(
    ctx: typer.Context,
    start: Annotated[str, typer.Option(help="Start, e.g. 2024-05-01T18:00 (UTC unless an offset is given).")],
    end: Annotated[str, typer.Option(help="End of the first period, before any extension.")],
    by: Annotated[str, typer.Option(help="The authorising officer.")],
    rank: Annotated[str, typer.Option(help="Their rank: inspector, chief inspector, superintendent, ...")],
    grounds: Annotated[str, typer.Option(help="The stated grounds.")],
    place: Annotated[str, typer.Option(help="A named place (a loaded place, or with --lon/--lat).")] = "",
    lon: Annotated[float | None, typer.Option(help="Longitude of the place.")] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude of the place.")] = None,
    radius: Annotated[float | None, typer.Option(help="Radius around the place, metres.")] = None,
    polygon: Annotated[str | None, typer.Option(help="The area as WKT in lon/lat, instead of a place.")] = None,
    incident: Annotated[str, typer.Option(help="The incident that prompted it.")] = "",
    reference: Annotated[str, typer.Option(help="The force's reference.")] = "",
    extension: Annotated[list[str] | None, typer.Option("--extension", help="UNTIL,RANK[,BY]; repeat.")] = None,
    flag: Annotated[bool, typer.Option("--flag", help="Store a breach of the limits, flagged, instead of refusing it.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Record a Section 60 authorisation (checked against the limits; a breach is refused unless --flag)."""
    with open_workspace(ctx, workspace) as ws:
        a = ws.s60_add(starts_at=start, ends_at=end, authorised_by=by, rank=rank, grounds=grounds, place=place,
                       lon=lon, lat=lat, radius_m=radius, polygon_wkt=polygon, incident=incident, reference=reference,
                       extensions=extension or [], flag=flag)  # fmt: skip
    out.print(f"Section 60 authorisation {a.id} recorded ({a.verdict}, {a.hours:g} h)", highlight=False)
    for p in a.problems:
        out.print(f"flag: {p}", highlight=False)


@s60_app.command("extend")
def s60_extend(
    ctx: typer.Context,
    auth_id: Annotated[int, typer.Argument(help="Authorisation id.")],
    extension: Annotated[str, typer.Argument(help="UNTIL,RANK[,BY], e.g. 2024-05-02T18:00,superintendent,Supt Ali")],
    flag: Annotated[bool, typer.Option("--flag", help="Store a breach, flagged, instead of refusing it.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Extend an authorisation (the whole checked again against the limits)."""
    with open_workspace(ctx, workspace) as ws:
        a = ws.s60_extend(auth_id, extension, flag=flag)
    out.print(f"Section 60 authorisation {a.id} now ends {a.final_end:%Y-%m-%d %H:%M} ({a.verdict}, {a.hours:g} h)",
              highlight=False)  # fmt: skip


S60_COLUMNS = (
    "id",
    "reference",
    "place",
    "starts_at",
    "final_end",
    "hours",
    "rank",
    "authorised_by",
    "verdict",
)


@s60_app.command("list")
def s60_list(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:
    """Recorded authorisations, newest first."""
    with open_workspace(ctx, workspace) as ws:
        rows = [a.to_dict() for a in ws.s60_list()]
    emit(rows, (*S60_COLUMNS, "problems"), fmt)


@s60_app.command("report")
def s60_report(
    ctx: typer.Context,
    auth_id: Annotated[int | None, typer.Argument(help="One authorisation (default: all).")] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = Fmt.table,
) -> None:  # fmt: skip
    """Each authorisation's searches, finds, arrests and who was searched (searches under section 60 inside
    its area and window)."""
    with open_workspace(ctx, workspace) as ws:
        rows = [r.to_dict() for r in ws.s60_report(auth_id)]
    for r in rows:
        r["who"] = "; ".join(
            f"{k}: " + ", ".join(f"{v} {n}" for v, n in d.items()) for k, d in r["who"].items()
        )
    emit(rows, ("id", "place", "starts_at", "final_end", "verdict", "searches", "positive", "linked_finds", "arrests",
                "unlocated", "who"), fmt)  # fmt: skip
