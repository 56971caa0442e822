"""The ``safestreets`` command: one verb, one call into the Python API (:mod:`safestreets.api`).

Errors are mapped here, in one place, for every command: a :class:`~safestreets.errors.SafestreetsError`
prints one line and exits 1; a usage error (unknown option, bad choice) exits 2 with Typer's message; any
other exception is a bug and exits 3 with a short hint (set SAFESTREETS_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import warnings
from typing import Annotated

import typer

from safestreets import __version__
from safestreets.cli import accountability, admin, anpr, data, deploy, forecasting, impact, intake, intel
from safestreets.cli.common import WorkspaceOpt, out
from safestreets.errors import SafestreetsError

app = typer.Typer(
    name="safestreets",
    help="Crime data for violence reduction: ingest, forecast, plan, account, evaluate, brief.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"safestreets {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = {"workspace": workspace}


app.command()(data.init)
app.command()(data.status)
app.command()(data.ingest)
app.add_typer(data.fetch_app, name="fetch")
app.add_typer(data.areas_app, name="areas")
app.add_typer(data.places_app, name="places")
app.command()(data.export)
app.command()(forecasting.forecast)
app.command()(forecasting.backtest)
app.command()(deploy.plan)
app.command()(deploy.hubs)
app.command()(deploy.hotspots)
app.command()(deploy.brief)
app.command()(deploy.demo)
app.command()(admin.serve)
app.add_typer(admin.users_app, name="users")
admin.audit_app.command("fairness")(impact.audit_fairness)
admin.audit_app.command("record")(impact.audit_record)
app.add_typer(admin.audit_app, name="audit")
app.add_typer(intake.intake_app, name="intake")
app.add_typer(intel.intel_app, name="intel")
app.add_typer(anpr.anpr_app, name="anpr")
app.add_typer(accountability.stopsearch_app, name="stopsearch")
app.add_typer(accountability.operation_app, name="operation")
app.add_typer(accountability.s60_app, name="s60")
app.add_typer(impact.evaluate_app, name="evaluate")

EXIT_USER, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3

_CHOICE = re.compile(r"'([^']*)' is not one of (.+?)\.?$")


def _suggest(message: str) -> str:
    """Typer's bad-choice message, with a "did you mean" where a choice is close to what was typed."""
    m = _CHOICE.search(message)
    if m is None:
        return ""
    choices = re.findall(r"'([^']*)'", m.group(2))
    close = difflib.get_close_matches(m.group(1).lower(), choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    sys.stderr.write(f"warning: {message}\n")


def main() -> None:
    """Entry point: every error becomes one line on stderr and an exit code."""
    debug = bool(os.environ.get("SAFESTREETS_DEBUG"))
    if not debug:
        # A deprecation the user can act on (an old model name) is one line, not Python's two.
        warnings.showwarning = _one_line_warning
    try:
        app(standalone_mode=False)
    except SafestreetsError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(EXIT_USER)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted: the file being loaded was rolled back; earlier files stay loaded\n")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: one line too, with a hint where one helps
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group command: its help is the answer
            exc.show()  # type: ignore[attr-defined]
            sys.exit(EXIT_USAGE)
        message = " ".join(exc.format_message().replace("Value error, ", "").split())
        hint = _suggest(message)
        command = getattr(getattr(exc, "ctx", None), "command_path", "safestreets")
        sys.stderr.write(f"error: {message}{' ' + hint if hint else ''} (see '{command} --help')\n")
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {first} (a bug, not your input: run again with "
            "SAFESTREETS_DEBUG=1 for the details to report)\n"
        )
        sys.exit(EXIT_INTERNAL)
