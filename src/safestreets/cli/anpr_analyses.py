"""``safestreets anpr analyse journeys|flows|county-lines|co-travel`` and ``safestreets anpr synth``.

Each command parses, calls ``ws.anpr.analyse`` once (a purpose for every query of reads, the window
checked against the reach and logged), and renders. Vehicles are shown as their pseudonyms; nothing here
reveals a plate. ``cli/anpr.py`` mounts these under the ``anpr`` group.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow.parquet as pq
import typer

from safestreets.anpr.analyses import AnalysisResult, CoTravelParams, CountyLinesParams
from safestreets.api import anpr_analyses as api
from safestreets.api.accounts import cli_actor
from safestreets.cli.common import Fmt, FormatOpt, WorkspaceOpt, emit, open_workspace, out, written

analyses_app = typer.Typer(help="ANPR analyses: journeys, flows between areas, county-lines indicators, "
                           "co-travel. DuckDB by default; --engine spark --master URL for a cluster.",
                           no_args_is_help=True)  # fmt: skip


class EngineChoice(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOpt = Annotated[EngineChoice, typer.Option("--engine", case_sensitive=False,
                                                 help="Where the analysis runs.")]  # fmt: skip
MasterOpt = Annotated[str, typer.Option("--master", help="Spark master: local[2], spark://host:7077, or a "
                                        "Spark Connect URL sc://host:15002.")]  # fmt: skip
GapOpt = Annotated[float, typer.Option("--gap-minutes", help="A gap longer than this between two reads "
                                       "of a vehicle ends a trip.")]  # fmt: skip
LimitOpt = Annotated[int, typer.Option("--limit", help="Rows to print (0: all).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Also write the whole result (.parquet or .csv).")]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Why you are querying reads (written to the audit "
                                         "trail).")]  # fmt: skip
SinceOpt = Annotated[str | None, typer.Option("--since", help="Reads from (YYYY-MM-DD, or 30d ago; default: "
                                              "the reach, 90 days). Further back needs an authorisation.")]  # fmt: skip
UntilOpt = Annotated[str | None, typer.Option("--until", help="Reads before (default: now).")]


def _analyse(ctx: typer.Context, workspace: Path | None, kind: str, purpose: str, since: str | None,
             until: str | None, **options: Any) -> AnalysisResult:  # fmt: skip
    from safestreets.cli.anpr import when  # lazily: cli/anpr.py mounts this module

    with open_workspace(ctx, workspace) as ws:
        return ws.anpr.analyse(kind, actor=cli_actor(), purpose=purpose, since=when(since, "--since"),
                               until=when(until, "--until"), **options)  # fmt: skip


def _render(result: AnalysisResult, fmt: Fmt, limit: int, save: Path | None, title: str,
            evidence: bool = False) -> None:
    table = result.to_arrow()
    if save is not None:
        _save(table, save)
        written([save])
    shown = table if limit <= 0 else table.slice(0, limit)
    rows: list[dict[str, Any]] = shown.to_pylist()
    emit(rows, tuple(table.column_names), fmt, title=f"{title} ({result.engine}, {result.seconds:.1f} s, "
         f"{table.num_rows:,} rows)")  # fmt: skip
    if evidence and result.evidence is not None:
        ev = result.evidence if limit <= 0 else result.evidence.slice(0, limit * 10)
        emit(ev.to_pylist(), tuple(ev.column_names), fmt, title="evidence")


def _save(table: Any, path: Path) -> None:
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)


@analyses_app.command("journeys")
def journeys(ctx: typer.Context, purpose: PurposeOpt, since: SinceOpt = None, until: UntilOpt = None,
             gap_minutes: GapOpt = 30.0, engine: EngineOpt = EngineChoice.duckdb,
             master: MasterOpt = "local[2]", limit: LimitOpt = 50, save: OutOpt = None,
             fmt: FormatOpt = Fmt.table, workspace: WorkspaceOpt = None) -> None:  # fmt: skip
    """Reads chained into trips, with origin and destination cameras and areas."""
    result = _analyse(ctx, workspace, "journeys", purpose, since, until, gap_minutes=gap_minutes,
                      engine=engine.value, master=master)  # fmt: skip
    _render(result, fmt, limit, save, "journeys")


@analyses_app.command("flows")
def flows(ctx: typer.Context, purpose: PurposeOpt, since: SinceOpt = None, until: UntilOpt = None,
          gap_minutes: GapOpt = 30.0, engine: EngineOpt = EngineChoice.duckdb,
          master: MasterOpt = "local[2]", limit: LimitOpt = 50, save: OutOpt = None,
          fmt: FormatOpt = Fmt.table, workspace: WorkspaceOpt = None) -> None:  # fmt: skip
    """Trips between areas (origin-destination)."""
    result = _analyse(ctx, workspace, "flows", purpose, since, until, gap_minutes=gap_minutes, engine=engine.value,
                      master=master)  # fmt: skip
    _render(result, fmt, limit, save, "flows")


@analyses_app.command("county-lines")
def county_lines(
    ctx: typer.Context,
    purpose: PurposeOpt,
    since: SinceOpt = None,
    until: UntilOpt = None,
    metro: Annotated[str | None, typer.Option("--metro", help="Area codes that make up the metro area, "
                                              "comma separated (default: the anpr_metro_areas setting).")] = None,
    max_dwell: Annotated[float, typer.Option("--max-dwell", help="Longest stop (minutes) that counts as "
                                             "short.")] = 120.0,
    threshold: Annotated[float, typer.Option("--threshold", help="Score (0-100) to flag at.")] = 60.0,
    all_rows: Annotated[bool, typer.Option("--all", help="Every scored vehicle, not only flagged ones.")] = False,
    engine: EngineOpt = EngineChoice.duckdb, master: MasterOpt = "local[2]", limit: LimitOpt = 50,
    save: OutOpt = None, fmt: FormatOpt = Fmt.table, workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Vehicles making repeated short-dwell return trips out of the metro area at unusual hours: the
    features, the score and the trips behind it (vehicles and patterns, never people)."""
    params = CountyLinesParams(max_dwell_min=max_dwell, threshold=threshold)
    result = _analyse(ctx, workspace, "county-lines", purpose, since, until, metro_areas=metro, params=params,
                      engine=engine.value, master=master)  # fmt: skip
    if not all_rows:
        result.table = result.flagged()
    _render(result, fmt, limit, save, "county-lines indicators", evidence=True)


@analyses_app.command("co-travel")
def co_travel(
    ctx: typer.Context,
    purpose: PurposeOpt,
    since: SinceOpt = None,
    until: UntilOpt = None,
    window: Annotated[int, typer.Option("--window", help="Seconds apart at one camera that count as "
                                        "together.")] = 30,
    min_days: Annotated[int, typer.Option("--min-days", help="Days together before a pair is tested.")] = 4,
    fdr: Annotated[float, typer.Option("--fdr", help="False discovery rate over the pairs tested.")] = 0.01,
    all_rows: Annotated[bool, typer.Option("--all", help="Every pair tested, not only flagged ones.")] = False,
    engine: EngineOpt = EngineChoice.duckdb, master: MasterOpt = "local[2]", limit: LimitOpt = 50,
    save: OutOpt = None, fmt: FormatOpt = Fmt.table, workspace: WorkspaceOpt = None,
) -> None:  # fmt: skip
    """Pairs of vehicles seen at the same cameras within seconds, on more days than chance explains."""
    params = CoTravelParams(window_s=window, min_days=min_days, fdr=fdr)
    result = _analyse(ctx, workspace, "co-travel", purpose, since, until, params=params, evidence=False,
                      engine=engine.value, master=master)  # fmt: skip
    if not all_rows:
        result.table = result.flagged()
    _render(result, fmt, limit, save, "co-travel")


def synth(
    reads: Annotated[int, typer.Option("--reads", help="About this many reads.")] = 100_000,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write (reads/*.parquet, cameras.csv, "
                                          "ground_truth.json).")] = Path("anpr-synthetic"),
    days: Annotated[int, typer.Option("--days", help="Days of traffic.")] = 28,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:  # fmt: skip
    """Write synthetic ANPR reads and cameras with planted county-lines vehicles and co-travelling groups."""
    made = api.synth_anpr(out_dir, reads=reads, days=days, seed=seed)
    out.print(f"{made.reads:,} reads in {made.chunks} chunks, {made.cameras} cameras, {made.vehicles:,} "
              f"regular vehicles", highlight=False)  # fmt: skip
    written([made.out_dir / "reads", made.cameras_csv, made.ground_truth])
