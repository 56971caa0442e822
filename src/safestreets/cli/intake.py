"""``safestreets intake serve``: the public reporting form, its own process (and, in production, its own
host). It needs the team's public key file and a database URL; it never sees a private key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from safestreets.cli.common import WorkspaceOpt, err, named_workspace

intake_app = typer.Typer(help="The public reporting service (anonymous community intelligence).",
                         no_args_is_help=True)  # fmt: skip


@intake_app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (put TLS or an onion service in front).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each keeps its own flood counters).")] = 2,
    public_key: Annotated[Path | None, typer.Option(help="The team public key file (default: "
                          "<workspace>/intel/team.pub, as 'safestreets intel keygen' writes it).")] = None,
    database: Annotated[str | None, typer.Option(help="Database URL (default: SAFESTREETS_DATABASE_URL, then "
                        "the workspace's SQLite file).")] = None,
    report_days: Annotated[int, typer.Option(min=1, help="Days a report is kept unless kept with a reason.")] = 180,
    reply_days: Annotated[int, typer.Option(min=1, help="Days a staff reply waits for its reporter.")] = 30,
    per_client: Annotated[int, typer.Option(min=0, help="Submissions per connecting address in ten minutes, "
                          "counted in memory only (0: off, for an onion service).")] = 10,
    per_minute: Annotated[int, typer.Option(min=1, help="Submissions a minute across everyone.")] = 600,
    pick_map: Annotated[Path | None, typer.Option(help="An outline map from 'safestreets intel map' for a "
                        "no-script map pick (its .json sidecar beside it).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Run the anonymous reporting form: no cookies, no access log, times kept to the day."""
    import uvicorn

    from safestreets.config import resolve_workspace
    from safestreets.db import connect, database_url
    from safestreets.intel import keys
    from safestreets.intel.channel import IntakeSettings

    root = resolve_workspace(named_workspace(ctx, workspace)).root
    url = database or database_url(root)
    key = public_key or root / "intel" / "team.pub"
    fp = keys.fingerprint(keys.load_public(key))
    if pick_map is not None:
        from safestreets.intel.pickmap import PickMap

        PickMap.load(pick_map)  # a broken map fails here, not in every worker
    connect(url).dispose()  # migrate before the workers start
    settings = IntakeSettings(database_url=url, public_key=key, report_days=report_days, reply_days=reply_days,
                              per_client=per_client, per_minute=per_minute,
                              pick_map=pick_map.resolve() if pick_map else None)  # fmt: skip
    os.environ.update(settings.to_env())
    err.print(
        f"intake on http://{host}:{port}/ ({workers} workers), sealing to team key {fp}; Ctrl-C stops it"
    )
    uvicorn.run("safestreets.intake:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, server_header=False, date_header=False, proxy_headers=False,
                log_level="warning")  # fmt: skip
