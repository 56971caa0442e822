"""What every command shares: consoles, the workspace option and how it is opened, progress bars,
choice enums, and rendering a result as a table, CSV or JSON."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safestreets.api import Workspace
from safestreets.config import ENV_VAR

# Piped output is read by scripts and other people's terminals: never cut it at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 100_000)
err = Console(stderr=True, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar=ENV_VAR, help="Workspace folder (holds the DuckDB store)."),
]


class Fmt(StrEnum):
    """How a command prints its table."""

    table = "table"
    csv = "csv"
    json = "json"


FormatOpt = Annotated[
    Fmt, typer.Option("--format", case_sensitive=False, help="table (for people), csv or json (for scripts).")
]


def named_workspace(ctx: typer.Context, local: Path | None) -> Path | None:
    """The workspace the user named (option here, on the root command, or the environment), else None."""
    return local or (ctx.obj or {}).get("workspace")


def open_workspace(ctx: typer.Context, local: Path | None, *, load: bool = False) -> Workspace:
    """The workspace to work in. Only a command that loads data into a workspace the user named may
    create it; everything else needs an existing one (a typo must not leave a new folder behind)."""
    named = named_workspace(ctx, local)
    return Workspace(named, create=load and named is not None)


#: Set to 0 to run batch commands (ingest, forecast, backtest) at the normal priority.
BATCH_NICE_ENV = "SAFESTREETS_BATCH_NICE"


def batch_priority() -> None:
    """Lower this process's CPU priority for a long batch job (by 10, or ``$SAFESTREETS_BATCH_NICE``).

    On a shared machine the dashboard's requests then take the cores first while an ingest or a forecast
    runs beside it; with nothing else running, a lower priority costs the job nothing. Where priorities
    cannot be changed, the job runs as it is."""
    import os

    try:
        step = int(os.environ.get(BATCH_NICE_ENV, "10"))
    except ValueError:
        step = 10
    if step > 0 and hasattr(os, "nice"):
        with suppress(OSError):
            os.nice(step)


@contextmanager
def progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr, shown from the first update (so an early error stays one line)."""
    bar = Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=err, transient=False,
    )  # fmt: skip
    task = bar.add_task("", total=None)

    def update(what: str, done: int, total: int | None) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, description=what, completed=done, total=total)

    try:
        yield update
    except BaseException:
        bar.live.transient = True  # an error replaces the bar: the user sees one line
        raise
    finally:
        if bar.live.is_started:
            bar.stop()


@contextmanager
def steps(label: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar advanced one step per call, for jobs that count their own steps."""
    with progress(label) as update:
        done = [0]

        def step(what: str) -> None:
            done[0] += 1
            update(what, done[0], max(total, done[0]))

        yield step


def stage(label: str, total: int | None) -> Any:
    """The demo's stages, each with its own bar."""
    return progress(label)


def emit(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...],
    fmt: Fmt,
    *,
    title: str | None = None,
    cells: Callable[[dict[str, Any]], list[str]] | None = None,
    headers: tuple[str, ...] | None = None,
    right: tuple[str, ...] = (),
) -> None:
    """Print rows as a Rich table (``cells`` formats a row for people), CSV or JSON (raw values)."""
    if fmt is Fmt.json:
        out.print_json(json.dumps([{c: r.get(c) for c in columns} for r in rows], default=str))
        return
    if fmt is Fmt.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
        sys.stdout.flush()
        return
    names = headers or columns
    table = Table(title=title)
    for name in names:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for r in rows:
        table.add_row(*(cells(r) if cells else [_cell(r.get(c)) for c in columns]))
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def written(paths: list[Path], template: str = "written: {}") -> None:
    for p in paths:
        out.print(template.format(p), highlight=False)
