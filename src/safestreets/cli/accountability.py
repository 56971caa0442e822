"""Accountability commands: stop and search (``stopsearch``), operations (``operation``) and Section 60
(``s60``). Each parses, calls the API once, renders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safestreets.accountability.searchreport import MEASURE_HEADERS, measure_row, pct
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
        emit(rows, tuple(report.analysis.breakdown.column_names), fmt)
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
