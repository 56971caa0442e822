"""``safestreets intel``: the staff side of the reporting channel. Each command parses, calls the API
once, renders. The team key's passphrase is asked for (hidden) or read from SAFESTREETS_INTEL_PASSPHRASE."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from safestreets.api.accounts import cli_actor
from safestreets.cli.common import Fmt, FormatOpt, WorkspaceOpt, emit, open_workspace, out, written
from safestreets.errors import ParameterError

intel_app = typer.Typer(help="Community intelligence: keys, triage, grading, replies, export, retention.",
                        no_args_is_help=True)  # fmt: skip
PASS_ENV = "SAFESTREETS_INTEL_PASSPHRASE"
Report = Annotated[str, typer.Argument(help="The report's reference (from 'safestreets intel list').")]


def _day(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ParameterError(f"{option}: {text!r} is not a day (YYYY-MM-DD)") from exc


def _passphrase(confirm: bool = False) -> str:
    return os.environ.get(PASS_ENV) or typer.prompt("Team key passphrase", hide_input=True,
                                                    confirmation_prompt=confirm)  # fmt: skip


@intel_app.command("keygen")
def keygen(
    ctx: typer.Context,
    strength: Annotated[str, typer.Option(help="Argon2id cost for the passphrase: moderate (256 MiB) or "
                                          "interactive (64 MiB, for tests).")] = "moderate",
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Make the team key pair: copy the .pub file to the intake host; keep the .key file off it."""
    with open_workspace(ctx, workspace) as ws:
        made = ws.intel_keygen(_passphrase(confirm=True), strength=strength, actor=cli_actor())
    out.print(f"team key: {made.private} (private, passphrase-protected)\npublic key: {made.public}\n"
              f"fingerprint: {made.fingerprint}", highlight=False)  # fmt: skip


@intel_app.command("rotate")
def rotate(
    ctx: typer.Context,
    strength: Annotated[str, typer.Option(help="Argon2id cost for the new passphrase: moderate or interactive.")] = "moderate",
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Replace the team key (a member left, a passphrase leaked): every stored report is re-sealed to the new
    key, then copy the new .pub file to the intake host and restart it."""
    old = os.environ.get(PASS_ENV) or typer.prompt("Current team key passphrase", hide_input=True)
    new = os.environ.get(PASS_ENV + "_NEW") or typer.prompt(
        "New passphrase", hide_input=True, confirmation_prompt=True
    )
    with open_workspace(ctx, workspace) as ws:
        made, n = ws.intel_rotate(old, new, strength=strength, actor=cli_actor())
    out.print(f"{n} reports re-sealed to the new team key\npublic key: {made.public}\nfingerprint: {made.fingerprint}\n"
              "copy the public key to the intake host and restart 'safestreets intake serve'", highlight=False)  # fmt: skip


@intel_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="new, triaged or graded.")] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = Fmt.table,
) -> None:
    """Reports (metadata only): danger now and threats to life first."""
    with open_workspace(ctx, workspace) as ws:
        rows = ws.intel_reports(status=status, actor=cli_actor())
    for r in rows:
        r["grade"] = (
            f"{r['source_eval']}{r['intel_assessment']}{r['handling_code']}" if r["source_eval"] else ""
        )
    emit(rows, ("id", "received_day", "danger_now", "status", "category", "urgency", "threat_to_life", "area_code",
                "grade", "expires_day", "keep_reason"), fmt, title="Community reports")  # fmt: skip


@intel_app.command("show")
def show(ctx: typer.Context, report: Report, photos: Annotated[Path | None, typer.Option(
         help="Write the report's photos into this folder.")] = None, workspace: WorkspaceOpt = None) -> None:  # fmt: skip
    """Decrypt and print one report (written to the audit trail)."""
    with open_workspace(ctx, workspace) as ws:
        shown = ws.intel_show(ws.intel_unlock(_passphrase()), report, actor=cli_actor())
    o, s = shown.opened, shown.suggestion
    doc = o.doc
    for label, key in (("what", "what"), ("where", "where"), ("when", "when"), ("how known", "how_known")):
        out.print(f"[bold]{label}:[/bold] {doc.get(key) or '-'}", highlight=False)
    if doc.get("point"):
        out.print(f"[bold]map position:[/bold] {doc['point'][0]}, {doc['point'][1]}")
    out.print(f"[bold]danger now:[/bold] {'yes' if doc.get('danger_now') else 'no'}")
    for m in o.messages:
        out.print(f"[bold]{m['day']} {'from reporter' if m['direction'] == 'in' else 'our reply'}:[/bold] "
                  f"{m['text'] if m['text'] is not None else '(sealed to the reporter)'}", highlight=False)  # fmt: skip
    out.print(f"suggested: {s.category}, {s.urgency}{', THREAT TO LIFE' if s.threat_to_life else ''} "
              f"({', '.join(s.why) or 'no key words'})", highlight=False)  # fmt: skip
    if photos is not None and o.photos:
        photos.mkdir(parents=True, exist_ok=True)
        paths = []
        for n, data in enumerate(o.photos, 1):
            (path := photos / f"{report}-{n}.jpg").write_bytes(data)
            paths.append(path)
        written(paths)


@intel_app.command("triage")
def triage(
    ctx: typer.Context,
    report: Report,
    category: Annotated[str | None, typer.Option(help="knife, weapons, drug_supply, county_lines, gangs, other "
                                                 "(default: the suggestion).")] = None,
    urgency: Annotated[str | None, typer.Option(help="immediate, priority, routine.")] = None,
    threat_to_life: Annotated[bool | None, typer.Option("--threat-to-life/--no-threat-to-life",
                                                        help="Override the suggestion.")] = None,
    area: Annotated[str | None, typer.Option(help="An LSOA code, where the report gives no map position.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Set category, urgency and a coarse place; a threat to life is raised at once."""
    with open_workspace(ctx, workspace) as ws:
        row = ws.intel_triage(ws.intel_unlock(_passphrase()), report, category=category, urgency=urgency,
                              threat_to_life=threat_to_life, area=area, actor=cli_actor())  # fmt: skip
    flag = "  THREAT TO LIFE: act now" if row["threat_to_life"] else ""
    out.print(
        f"{report}: {row['category']}, {row['urgency']}, area {row['area_code'] or '-'}{flag}",
        highlight=False,
    )


@intel_app.command("grade")
def grade(
    ctx: typer.Context,
    report: Report,
    source: Annotated[str, typer.Option(help="Source evaluation: 1 reliable, 2 untested, 3 not reliable.")],
    assessment: Annotated[str, typer.Option(help="Intelligence assessment A-E.")],
    handling: Annotated[str, typer.Option(help="Handling code: P (sharing permitted) or C (with conditions).")],
    conditions: Annotated[str | None, typer.Option(help="The conditions, for handling code C.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Grade a report with the 3x5x2 system."""
    with open_workspace(ctx, workspace) as ws:
        row = ws.intel_grade(report, source, assessment, handling, conditions, actor=cli_actor())
    out.print(f"{report}: graded {row['source_eval']}{row['intel_assessment']}{row['handling_code']}")


@intel_app.command("redact")
def redact(
    ctx: typer.Context,
    report: Report,
    term: Annotated[list[str] | None, typer.Option(help="A name, nickname or address to remove (repeat).")] = None,
    text_file: Annotated[Path | None, typer.Option(help="Use this file's text as the redacted version.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Store the text fit to share (contact details, links, and the named terms removed)."""
    text = text_file.read_text("utf-8") if text_file else None
    with open_workspace(ctx, workspace) as ws:
        shared = ws.intel_redact(
            ws.intel_unlock(_passphrase()), report, extra=term, text=text, actor=cli_actor()
        )
    out.print(shared, highlight=False)


@intel_app.command("reply")
def reply(ctx: typer.Context, report: Report, text: Annotated[str, typer.Argument(help="The question.")],
          workspace: WorkspaceOpt = None) -> None:  # fmt: skip
    """Ask the reporter a question (they read it with their codename)."""
    with open_workspace(ctx, workspace) as ws:
        ws.intel_reply(report, text, actor=cli_actor())
    out.print(f"{report}: reply sealed to the reporter")


@intel_app.command("keep")
def keep(ctx: typer.Context, report: Report, reason: Annotated[str | None, typer.Option(
         help="Why it is kept past retention (omit to release it).")] = None, workspace: WorkspaceOpt = None) -> None:  # fmt: skip
    """Keep a report past its retention date, with the reason recorded."""
    with open_workspace(ctx, workspace) as ws:
        row = ws.intel_keep(report, reason, actor=cli_actor())
    out.print(
        f"{report}: {'kept: ' + row['keep_reason'] if row['keep_reason'] else 'released'}", highlight=False
    )


@intel_app.command("export")
def export(ctx: typer.Context, report: Report, out_path: Annotated[Path | None, typer.Option("--out",
           help="File to write (default: outputs/intel/<report>.json).")] = None, workspace: WorkspaceOpt = None) -> None:  # fmt: skip
    """A graded, redacted report as JSON for a force's intelligence system."""
    with open_workspace(ctx, workspace) as ws:
        path = ws.intel_export(ws.intel_unlock(_passphrase()), report, out_path, actor=cli_actor())
    written([path])


@intel_app.command("purge")
def purge(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option(help="Act as of this day (YYYY-MM-DD; default today).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would go, delete nothing.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Delete expired reports (their keys, then their rows) and expired replies."""
    day = _day(on, "--on")
    with open_workspace(ctx, workspace) as ws:
        done = ws.intel_purge(on=day, dry_run=dry_run, actor=cli_actor())
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {len(done.reports)} reports, {done.replies} expired replies, {done.reporters} codename "
              f"records; {done.kept} expired reports kept with a reason", highlight=False)  # fmt: skip


@intel_app.command("map")
def pick_map(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Option("--out", help="The SVG to write (a .json sidecar goes beside it).")] = Path(
        "intake-map.svg"),
    kind: Annotated[str | None, typer.Option(help="Area kind to draw (default: borough, else bcu, else LSOAs).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Draw the outline map reporters can pick a place on without script (for 'intake serve --pick-map')."""
    with open_workspace(ctx, workspace) as ws:
        made = ws.intel_pick_map(out_path, kind=kind)
    written([made.svg, made.svg.with_suffix(".json")])


@intel_app.command("counts")
def counts(ctx: typer.Context, since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD).")] = None,
           workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:  # fmt: skip
    """Reports per area and week (fewer than 3 shown as suppressed), never their contents."""
    day = _day(since, "--since")
    with open_workspace(ctx, workspace) as ws:
        rows = ws.intel_counts(since=day, actor=cli_actor())
    emit(
        rows,
        ("week", "area_code", "area_kind", "reports", "suppressed"),
        fmt,
        title="Reports per area and week",
    )
