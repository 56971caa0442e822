"""The dashboard and its people: serve, users, audit. Each parses, calls the API once, renders."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from safestreets.api import accounts
from safestreets.cli.common import (
    Fmt,
    FormatOpt,
    WorkspaceOpt,
    emit,
    err,
    open_workspace,
    out,
)

users_app = typer.Typer(help="Dashboard accounts: viewer, analyst, admin.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail of views, exports and changes.", no_args_is_help=True)

ROLE_HELP = "viewer (reads), analyst (reads and exports), admin (and manages users, reads the audit trail)"


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    insecure_cookies: Annotated[bool, typer.Option("--insecure-cookies/--secure-cookies", help="Send cookies "
                                "over plain HTTP to hosts other than localhost (only behind a TLS proxy).")] = False,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Run the staff dashboard and its JSON API (docs at /api/docs)."""
    import uvicorn

    from safestreets.config import ENV_VAR

    with open_workspace(ctx, workspace) as ws:
        ws.db  # noqa: B018 - migrate (and check the database answers) before the workers start
        root = ws.root
    os.environ[ENV_VAR] = str(root)
    if insecure_cookies:
        os.environ["SAFESTREETS_INSECURE_COOKIES"] = "1"
    err.print(f"dashboard for {root} on http://{host}:{port}/ ({workers} workers); Ctrl-C stops it")
    uvicorn.run("safestreets.web:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, server_header=False, log_level="warning")  # fmt: skip


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Letters, digits, '.', '-' or '_'.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "viewer",
    workspace: WorkspaceOpt = None,
) -> None:
    """Add an account; its random password is printed once."""
    with open_workspace(ctx, workspace) as ws:
        account, password = accounts.add_user(ws.db, username, role, actor=accounts.cli_actor())
    out.print(
        f"user {account.username} ({account.role}) added; password (shown once): {password}", highlight=False
    )


@users_app.command("list")
def users_list(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = Fmt.table) -> None:
    """The accounts, their roles and whether they are disabled or locked."""
    with open_workspace(ctx, workspace) as ws:
        rows = [
            {"username": a.username, "role": a.role, "disabled": a.disabled,
             "locked_until": a.locked_until.isoformat() if a.locked_until else None,
             "created_at": a.created_at.isoformat()}
            for a in accounts.list_users(ws.db)
        ]  # fmt: skip
    emit(rows, ("username", "role", "disabled", "locked_until", "created_at"), fmt, title="Accounts")


@users_app.command("disable")
def users_disable(ctx: typer.Context, username: str, workspace: WorkspaceOpt = None) -> None:
    """Disable an account and end its sessions."""
    with open_workspace(ctx, workspace) as ws:
        account = accounts.disable_user(ws.db, username, actor=accounts.cli_actor())
    out.print(f"user {account.username} disabled")


@users_app.command("reset")
def users_reset(ctx: typer.Context, username: str, workspace: WorkspaceOpt = None) -> None:
    """Give an account a new random password (printed once), unlock and re-enable it."""
    with open_workspace(ctx, workspace) as ws:
        account, password = accounts.reset_password(ws.db, username, actor=accounts.cli_actor())
    out.print(f"user {account.username}: new password (shown once): {password}", highlight=False)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, workspace: WorkspaceOpt = None) -> None:
    """Check the audit chain: every entry present, unchanged and in order (exit 1 if broken)."""
    from safestreets.errors import SafestreetsError

    with open_workspace(ctx, workspace) as ws:
        verdict = accounts.verify_audit(ws.db)
    if not verdict.ok:
        raise SafestreetsError(str(verdict))
    out.print(str(verdict))


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    out_path: Annotated[
        Path | None, typer.Argument(metavar="OUT", help="CSV file (default: standard output).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write the audit trail as CSV, newest first."""
    columns = ("id", "at", "actor", "action", "target", "params", "outcome", "hash")
    with open_workspace(ctx, workspace) as ws:
        rows = list(accounts.audit_entries(ws.db, actor=accounts.cli_actor()))
    fh = open(out_path, "w", newline="", encoding="utf-8") if out_path else sys.stdout  # noqa: SIM115
    try:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if out_path:
            fh.close()
    if out_path:
        out.print(f"{len(rows):,} entries written to {out_path}")
