"""``safestreets anpr``: cameras and reads in, hotlists and alerts, access, reveals and retention. Each command
parses, calls the API once (``Workspace.anpr``) and renders; plates typed here are pseudonymised at once."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from safestreets.api.accounts import cli_actor
from safestreets.cli.common import Fmt, FormatOpt, WorkspaceOpt, emit, open_workspace, out
from safestreets.errors import ParameterError

anpr_app = typer.Typer(help="ANPR: reads and cameras, hotlists and alerts, access, reveals, retention.",
                       no_args_is_help=True)  # fmt: skip
hotlist_app = typer.Typer(help="Vehicles of interest: each with a reason, a source and an expiry.",
                          no_args_is_help=True)  # fmt: skip
anpr_app.add_typer(hotlist_app, name="hotlist")

Purpose = Annotated[str, typer.Option("--purpose", help="Why you are querying reads (written to the audit trail).")]
SkipBad = Annotated[bool, typer.Option("--skip-bad-rows", help="Load the good rows; set the bad ones aside.")]


def when(text: str | None, option: str) -> datetime | None:
    """An instant: ISO 8601 (a day is its midnight UTC; no offset means UTC), or a span ago/ahead: 90d, 12h."""
    if not text:
        return None
    m = re.fullmatch(r"([+-]?)(\d+)([dhw])", text.strip())
    if m:
        unit = {"d": "days", "h": "hours", "w": "weeks"}[m.group(3)]
        delta = timedelta(**{unit: int(m.group(2))})
        return datetime.now(UTC) + (delta if m.group(1) == "+" else -delta)
    try:
        t = datetime.fromisoformat(text) if "T" in text or " " in text else datetime.combine(
            date.fromisoformat(text), datetime.min.time())  # fmt: skip
    except ValueError as exc:
        raise ParameterError(f"{option}: {text!r} is not a time (YYYY-MM-DD[THH:MM], or 90d ago / +30d ahead)") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _load_line(r: dict) -> str:
    if r["skipped_as"] is not None:
        return f"{r['source']}: already loaded (batch {r['skipped_as']}), nothing added"
    text = f"{r['source']}: {r['rows_loaded']:,} loaded, {r['rows_rejected']:,} set aside of {r['rows_read']:,} read"
    for reason, n in sorted(r.get("rejected_by_reason", {}).items()):
        text += f"\n  set aside: {n:,} {reason}"
    if r.get("out_of_order"):
        text += f"\n  {r['out_of_order']:,} reads out of time order at their camera (loaded)"
    if r.get("alerts"):
        text += f"\n  alerts: {r['alerts']} (stored {r['alert_latency_ms']} ms after arrival)"
    return text


@anpr_app.command("load-cameras")
def load_cameras(ctx: typer.Context, path: Path, skip_bad_rows: SkipBad = False, workspace: WorkspaceOpt = None) -> None:
    """Load cameras: CSV with camera_id, lon, lat, road, direction (and optionally name, area)."""
    with open_workspace(ctx, workspace, load=True) as ws:
        r = ws.anpr.load_cameras(path, skip_bad_rows=skip_bad_rows, actor=cli_actor())
    out.print(_load_line(r.to_dict()), highlight=False)


@anpr_app.command("load")
def load(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Reads files (CSV, CSV.gz, Parquet) or folders of them.")],
    mapping: Annotated[Path | None, typer.Option(help="TOML mapping of the export's columns (docs/anpr.md).")] = None,
    skip_bad_rows: SkipBad = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Load reads: plates pseudonymised, each file all or nothing, a re-run adds nothing; then matched against
    the current hotlist."""
    files = [f for p in paths for f in (sorted(x for x in p.iterdir() if x.is_file()) if p.is_dir() else [p])]
    with open_workspace(ctx, workspace) as ws:
        for f in files:
            r = ws.anpr.load(f, mapping=mapping, skip_bad_rows=skip_bad_rows, actor=cli_actor())
            out.print(_load_line(r.to_dict()), highlight=False)


@anpr_app.command("watch")
def watch(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The folder a back office drops reads files into.")],
    once: Annotated[bool, typer.Option(help="Load what is there now, then stop.")] = False,
    mapping: Annotated[Path | None, typer.Option(help="TOML mapping of the export's columns.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Watch a folder: load each new reads file (bad rows set aside), raise alerts, move it to done/."""
    with open_workspace(ctx, workspace) as ws:
        for _path, outcome in ws.anpr.watch(folder, actor=cli_actor(), once=once, mapping=mapping):
            if isinstance(outcome, Exception):
                out.print(f"refused, moved to failed/: {outcome}", highlight=False)
            else:
                out.print(_load_line(outcome.to_dict()), highlight=False)


@hotlist_app.command("add")
def hotlist_add(
    ctx: typer.Context,
    plate: Annotated[str, typer.Argument(help="The plate (spaces and case do not matter).")],
    reason: Annotated[str | None, typer.Option(help="Why this vehicle is of interest (required).")] = None,
    source: Annotated[str | None, typer.Option(help="Where it comes from: PNC, an intelligence ref (required).")] = None,
    expires: Annotated[str | None, typer.Option(help="When the entry lapses (required): a date or +30d.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Add a vehicle to the hotlist: refused without a reason, a source and an expiry."""
    with open_workspace(ctx, workspace) as ws:
        e = ws.anpr.hotlist_add(plate, reason=reason, source=source, expires_at=when(expires, "--expires"),
                                actor=cli_actor())  # fmt: skip
    out.print(f"hotlist entry {e.id}: vehicle {e.vehicle}, until {e.expires_at:%Y-%m-%d %H:%M} UTC", highlight=False)


@hotlist_app.command("import")
def hotlist_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with plate, reason, source, expires (a date or time).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Add many entries from a CSV: all of them, or none with the first bad row named."""
    with open_workspace(ctx, workspace) as ws:
        made = ws.anpr.hotlist_import(path, actor=cli_actor())
    out.print(f"{len(made)} hotlist entries added ({made[0].id} to {made[-1].id})", highlight=False)


@hotlist_app.command("remove")
def hotlist_remove(ctx: typer.Context, entry: int, workspace: WorkspaceOpt = None) -> None:
    """End a hotlist entry (it stops firing; it is kept until retention purges it)."""
    with open_workspace(ctx, workspace) as ws:
        e = ws.anpr.hotlist_remove(entry, actor=cli_actor())
    out.print(f"hotlist entry {e.id} ended", highlight=False)


@hotlist_app.command("list")
def hotlist_list(
    ctx: typer.Context,
    current: Annotated[bool, typer.Option(help="Only entries that fire now.")] = False,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Hotlist entries: pseudonyms, reasons, sources, expiries (plates are not shown: see 'anpr reveal')."""
    with open_workspace(ctx, workspace) as ws:
        rows = [e.__dict__ for e in ws.anpr.hotlist(actor=cli_actor(), current_only=current)]
    emit(rows, ("id", "vehicle", "reason", "source", "expires_at", "added_by", "added_at", "removed_at"), fmt)


@anpr_app.command("match-history")
def match_history(
    ctx: typer.Context,
    purpose: Purpose,
    since: Annotated[str | None, typer.Option(help="From when (default: the reach, 90 days).")] = None,
    until: Annotated[str | None, typer.Option(help="Until when (default: now).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Match the current hotlist against stored reads (past the reach only with an authorisation)."""
    with open_workspace(ctx, workspace) as ws:
        m = ws.anpr.match_history(actor=cli_actor(), purpose=purpose, since=when(since, "--since"),
                                  until=when(until, "--until"))  # fmt: skip
    out.print(f"{m.reads:,} reads of hotlisted vehicles; {m.alerts} new alerts", highlight=False)


@anpr_app.command("alerts")
def alerts(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts not yet acknowledged.")] = False,
    ack: Annotated[int | None, typer.Option(help="Acknowledge this alert.")] = None,
    limit: int = 50,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Alerts, newest first, with the time from a read's arrival to its alert being stored."""
    with open_workspace(ctx, workspace) as ws:
        if ack is not None:
            ws.anpr.acknowledge(ack, actor=cli_actor())
            out.print(f"alert {ack} acknowledged", highlight=False)
            return
        rows = ws.anpr.alerts(actor=cli_actor(), open_only=open_only, limit=limit)
    emit(rows, ("id", "hotlist_id", "vehicle", "read_at", "camera_id", "kind", "latency_ms", "acknowledged_by",
                "reason"), fmt)  # fmt: skip


@anpr_app.command("authorise")
def authorise(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The account (or CLI actor, cli:<login>) authorised.")],
    reason: Annotated[str, typer.Option(help="Why reads past the reach are needed.")],
    reach_from: Annotated[str, typer.Option(help="How far back: a date, or 180d.")],
    expires: Annotated[str, typer.Option(help="When the authorisation lapses: a date, or +7d.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Record an authorisation to query reads past the default reach (an admin's decision; audited)."""
    start, end = when(reach_from, "--reach-from"), when(expires, "--expires")
    assert start is not None and end is not None
    with open_workspace(ctx, workspace) as ws:
        a = ws.anpr.authorise(user, reason=reason, reach_from=start, expires_at=end, actor=cli_actor())
    out.print(f"authorisation {a.id}: {a.username} may query reads from {a.reach_from:%Y-%m-%d} until "
              f"{a.expires_at:%Y-%m-%d %H:%M} UTC", highlight=False)  # fmt: skip


@anpr_app.command("reveal")
def reveal(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why the plate must be seen in clear (audited).")],
    vehicle: Annotated[str | None, typer.Option(help="The vehicle pseudonym.")] = None,
    entry: Annotated[int | None, typer.Option(help="A hotlist entry.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show the plate behind a pseudonym or a hotlist entry, for a stated reason (written to the audit trail)."""
    with open_workspace(ctx, workspace) as ws:
        plate = ws.anpr.reveal(actor=cli_actor(), reason=reason, vehicle=vehicle, entry=entry)
    out.print(plate, highlight=False)


@anpr_app.command("reads")
def reads(
    ctx: typer.Context,
    vehicle: Annotated[str, typer.Argument(help="A vehicle pseudonym, or a plate (matched to its pseudonym).")],
    purpose: Purpose,
    since: Annotated[str | None, typer.Option(help="From when (default: the reach, 90 days).")] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """One vehicle's reads with their cameras (past the reach only with an authorisation)."""
    with open_workspace(ctx, workspace) as ws:
        t = ws.anpr.vehicle_reads(vehicle, actor=cli_actor(), purpose=purpose, since=when(since, "--since"))
    emit(t.to_pylist(), tuple(t.column_names), fmt)


@anpr_app.command("purge")
def purge(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what is due; delete nothing.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete reads older than the retention period (12 months unless safestreets.toml says otherwise)."""
    with open_workspace(ctx, workspace) as ws:
        p = ws.anpr.purge(actor=cli_actor(), dry_run=dry_run)
    verb = "due" if dry_run else "purged"
    out.print(f"{verb} (before {p.cutoff:%Y-%m-%d %H:%M} UTC): {p.reads:,} reads, {p.plates:,} sealed plates, "
              f"{p.alerts:,} alerts, {p.hotlist_entries:,} lapsed hotlist entries", highlight=False)  # fmt: skip


@anpr_app.command("status")
def status(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:
    """Cameras, reads, vehicles, the time span held, and the retention and reach in force."""
    with open_workspace(ctx, workspace) as ws:
        s = ws.anpr.status()
    emit([s], tuple(s), fmt)


# The analyses and the synthetic generator: their own module, mounted here (it imports ``when`` lazily).
from safestreets.cli import anpr_analyses  # noqa: E402

anpr_app.add_typer(anpr_analyses.analyses_app, name="analyse")
anpr_app.command("synth")(anpr_analyses.synth)
