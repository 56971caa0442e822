"""Ingest benchmark: rows per second loading police.uk files into a fresh workspace.

Three inputs, each against the same files read by two baselines in the same run:

- (a) the real Met burglary street files (145 monthly .csv.gz),
- (b) the real Met stop-and-search files (85 monthly .csv.gz, 1,069,661 rows),
- (c) a synthetic national-scale archive (43 forces, about 10M street rows plus the outcomes and
  stop-and-search files the generator writes beside them), generated once into bench/.data/.

Baselines: DuckDB's bare ``read_csv`` materialised into a table in a fresh DuckDB file (all columns as
text, no checks), and pandas ``read_csv`` of every file with ``dtype=str`` then ``concat``.

    .venv/bin/python bench/ingest.py --quick          # smoke run on a subset, writes no docs
    .venv/bin/python bench/ingest.py --profile b,c    # the full run; replaces "## Ingest" in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy.stats import theilslopes

import safestreets.store.ingest as ingest_module
from _common import (
    DATA,
    ROOT,
    command_line,
    fmt_count,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    machine,
    machine_markdown,
    markdown_table,
    median,
    today,
    write_section,
)
from safestreets.config import Workspace
from safestreets.sources import policeuk
from safestreets.store import open_store
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.load import LoadOptions
from safestreets.synthetic import CityConfig, generate_city, write_archive_zip

SHARED = ROOT.parent / "shared" / "data"
KINDS = policeuk.KINDS  # street, outcomes, stop-and-search: the order rows are reported in
TOOLS = ("safestreets", "duckdb", "duckdb-count", "pandas")
# Per input: the most files any timed safestreets run sent by the general path (0: all direct).
GENERAL: dict[str, int] = {}
# The aims for (c).
AIM_ROWS_PER_S = 1_000_000
AIM_RATIO = 1.5

# 43 territorial forces like England and Wales; 24 months keep a force-month file near real sizes
# (about 10k street rows on average, against roughly 11k nationally), so per-file costs weigh as they
# would on the real bulk archive.
FULL_CITY = CityConfig(n_events=10_000_000, n_forces=43, months=24, seed=2024)
# The quick run keeps the same file sizes but only 3 months, so it is a smaller archive of the same shape.
QUICK_CITY = CityConfig(n_events=1_000_000, n_forces=43, months=3, seed=2024)

# A log file is not a terminal: give the wide results table room rather than Rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)


# --- inputs -------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    key: str  # a, b or c
    title: str
    files: dict[str, list[Path]]  # kind -> files, in name order
    about: str  # one line for the docs: what the files are
    repeats: int = 3

    @property
    def all_files(self) -> list[Path]:
        return [f for kind in KINDS for f in self.files.get(kind, [])]

    def bytes_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.all_files)


def by_kind(folder: Path) -> dict[str, list[Path]]:
    """Group police.uk files by the kind their name gives, as safestreets itself finds them."""
    grouped: dict[str, list[Path]] = {}
    for pf in policeuk.discover(folder):
        if pf.kind is None:
            raise SystemExit(f"{pf.source.label}: not a police.uk file name")
        grouped.setdefault(pf.kind, []).append(pf.source.path)
    return grouped


def real_dataset(key: str, quick: bool) -> Dataset:
    if key == "a":
        folder = SHARED / "police_uk" / "met_burglary_only" / "street"
        files = by_kind(folder)
        if quick:  # the latest 24 months: current file sizes
            files = {"street": files["street"][-24:]}
        return Dataset(
            key,
            "(a) Met burglary",
            files,
            f"`../shared/data/{folder.relative_to(SHARED)}/`: real Met street files, already "
            "filtered to burglary upstream, gzipped",
        )
    folder = SHARED / "police_uk" / "met_stop_and_search"
    files = by_kind(folder)
    if quick:
        files = {"stop-and-search": files["stop-and-search"][-12:]}
    return Dataset(
        key,
        "(b) Met stop-search",
        files,
        f"`../shared/data/{folder.relative_to(SHARED)}/`: real, unfiltered Met stop-and-search "
        "files, gzipped",
    )


def synthetic_dataset(config: CityConfig, repeats: int) -> Dataset:
    """The synthetic archive for ``config``, generated into bench/.data/ unless already there."""
    folder = DATA / f"synthetic-{config.n_events}-{config.n_forces}f-{config.months}m-s{config.seed}"
    marker = folder / "bench-config.json"
    wanted = json.loads(json.dumps(asdict(config)))  # tuples become lists, as they come back from JSON
    info = json.loads(marker.read_text()) if marker.exists() else None
    if info is None or info.get("config") != wanted:
        if folder.exists():
            shutil.rmtree(folder)  # a half-written or differently configured archive
        console.print(f"generating {config.n_events:,} synthetic street rows into {folder} ...")
        start = time.perf_counter()
        manifest = generate_city(folder, config)
        seconds = time.perf_counter() - start
        info = {
            "config": wanted,
            "rows": dict(manifest.rows),
            "seconds": round(seconds, 1),
            "generated": today(),
        }
        marker.write_text(json.dumps(info, indent=2))  # written last: its presence means complete
        console.print(f"generated in {seconds:.0f} s")
        note = f"generated for this run in {seconds:.0f} s"
    else:
        note = f"reused from bench/.data/ (generated on {info['generated']} in {info['seconds']:.0f} s)"
    files = by_kind(folder / "police_uk")
    about = (
        f"`bench/.data/{folder.name}/police_uk/`: `generate_city` with n_events={config.n_events:,}, "
        f"n_forces={config.n_forces}, months={config.months}, seed={config.seed}; uncompressed .csv, "
        f"one file per force, month and kind; {note}"
    )
    return Dataset("c", "(c) synthetic", files, about, repeats=repeats)


def warm(files: Sequence[Path]) -> None:
    """Read every file once so the first timed repeat does not pay for a cold disk."""
    for f in files:
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass


# --- one timed run per tool ---------------------------------------------------------------------------


@dataclass
class Run:
    rows: dict[str, int] = field(default_factory=dict)  # per kind
    seconds: dict[str, float] = field(default_factory=dict)  # per kind, excluding close/checkpoint
    total: float = 0.0  # the whole load, including closing (checkpointing) the database
    per_file: list[tuple[str, int, float]] = field(default_factory=list)  # safestreets: (kind, rows, s)
    general_files: int = 0  # safestreets: files that took the general path instead of the direct one


def link_files(ds: Dataset, folder: Path) -> Path:
    """A folder of links to exactly the dataset's files, so safestreets reads the same subset."""
    folder.mkdir()
    for f in ds.all_files:
        (folder / f.name).symlink_to(f)
    return folder


def run_safestreets(ds: Dataset, tmp: Path, profiler: cProfile.Profile | None = None) -> Run:
    source = link_files(ds, tmp / "files")
    con = open_store(Workspace(tmp / "workspace"))  # schema creation is not part of the load
    if profiler:
        profiler.enable()
    general = ingest_module._load_general
    seen_general: list[int] = []

    def count_general(con: object, files: list, *args: object) -> None:
        seen_general.append(len(files))
        general(con, files, *args)  # type: ignore[arg-type]

    ingest_module._load_general = count_general  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        results = ingest_policeuk(con, source, LoadOptions())
        con.close()
        end = time.perf_counter()
    finally:
        ingest_module._load_general = general  # type: ignore[assignment]
    if profiler:
        profiler.disable()
    # Files are stored in windows (direct path) or groups (general path) of several files and kinds,
    # so the time does not split by file or kind: only the whole load is timed.
    run = Run(total=end - start, general_files=sum(seen_general))
    for result in results:
        if result.rows_loaded != result.rows_read:
            raise SystemExit(f"{result.source}: read {result.rows_read} rows, loaded {result.rows_loaded}")
        run.rows[result.kind] = run.rows.get(result.kind, 0) + result.rows_read
    return run


def run_duckdb(ds: Dataset, tmp: Path) -> Run:
    run = Run()
    start = time.perf_counter()
    con = duckdb.connect(str(tmp / "bare.duckdb"))
    for kind, files in ds.files.items():
        table = "t_" + kind.replace("-", "_")
        began = time.perf_counter()
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv($files, all_varchar = true, header = true)",
            {"files": [str(f) for f in files]},
        )
        run.seconds[kind] = time.perf_counter() - began
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # from metadata: no scan
        run.rows[kind] = int(row[0]) if row else 0
    con.close()
    run.total = time.perf_counter() - start
    return run


def run_duckdb_count(ds: Dataset, tmp: Path) -> Run:
    """Parse only: ``count(*)`` over ``read_csv``, nothing stored (a floor for reading the text)."""
    run = Run()
    con = duckdb.connect()
    start = time.perf_counter()
    for kind, files in ds.files.items():
        began = time.perf_counter()
        row = con.execute(
            "SELECT count(*) FROM read_csv($files, all_varchar = true, header = true)",
            {"files": [str(f) for f in files]},
        ).fetchone()
        run.seconds[kind] = time.perf_counter() - began
        run.rows[kind] = int(row[0]) if row else 0
    run.total = time.perf_counter() - start
    con.close()
    return run


def run_pandas(ds: Dataset, tmp: Path) -> Run:
    run = Run()
    start = time.perf_counter()
    for kind, files in ds.files.items():
        began = time.perf_counter()
        frame = pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)
        run.seconds[kind] = time.perf_counter() - began
        run.rows[kind] = len(frame)
        del frame  # free one kind before reading the next: (c) takes several GB in memory
    run.total = time.perf_counter() - start
    return run


RUNNERS: dict[str, Callable[[Dataset, Path], Run]] = {
    "safestreets": run_safestreets,
    "duckdb": run_duckdb,
    "duckdb-count": run_duckdb_count,
    "pandas": run_pandas,
}


def measure(ds: Dataset) -> dict[str, list[Run]]:
    """``ds.repeats`` runs of every tool, interleaved so drift on the machine hits all tools alike."""
    runs: dict[str, list[Run]] = {tool: [] for tool in TOOLS}
    for i in range(ds.repeats):
        for tool in TOOLS:
            gc.collect()
            with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
                run = RUNNERS[tool](ds, Path(tmp))
            runs[tool].append(run)
            GENERAL[ds.key] = max(GENERAL.get(ds.key, 0), run.general_files)
            console.print(
                f"  {ds.key} repeat {i + 1}/{ds.repeats} {tool:<13} {run.total:8.2f} s  "
                f"{sum(run.rows.values()):>11,} rows"
                + (f"  ({run.general_files} files by the general path)" if run.general_files else "")
            )
    return runs


# --- (c) as the bulk archive zip ---------------------------------------------------------------------

ZIP_WAYS = ("zip, direct", "zip, general", "folder, direct")


def archive_of(ds: Dataset) -> Path:
    """(c) zipped as data.police.uk zips its bulk archive (deflated ``YYYY-MM/`` members), made once
    beside the files in bench/.data/."""
    root = ds.all_files[0].parent.parent.parent  # .../synthetic-.../police_uk/YYYY-MM/file.csv
    target = root / "archive.zip"
    if not target.exists():
        console.print(f"zipping {root / 'police_uk'} into {target} ...")
        partial = write_archive_zip(root, root / "archive.zip.partial")
        partial.rename(target)  # renamed last: its presence means complete
    return target


def run_zip_way(ds: Dataset, archive: Path, tmp: Path, way: str) -> float:
    con = open_store(Workspace(tmp / "workspace"))
    source = archive if way.startswith("zip") else link_files(ds, tmp / "files")
    start = time.perf_counter()
    results = ingest_policeuk(con, source, LoadOptions(), use_direct=way.endswith("direct"))
    con.close()
    seconds = time.perf_counter() - start
    if any(r.rows_loaded != r.rows_read for r in results):
        raise SystemExit(f"{way}: rows read and loaded disagree")
    return seconds


def measure_zip(ds: Dataset) -> dict[str, list[float]]:
    """Loads of (c) from its zip by the direct and the general path, and from the folder, interleaved."""
    archive = archive_of(ds)
    warm([archive])
    times: dict[str, list[float]] = {way: [] for way in ZIP_WAYS}
    for i in range(ds.repeats):
        for way in ZIP_WAYS:
            gc.collect()
            with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
                times[way].append(run_zip_way(ds, archive, Path(tmp), way))
            console.print(f"  zip repeat {i + 1}/{ds.repeats} {way:<15} {times[way][-1]:8.2f} s")
    return times


def zip_section(ds: Dataset, times: dict[str, list[float]], rows: int) -> list[str]:
    archive = archive_of(ds)
    base = median(times["folder, direct"])
    table = markdown_table(
        ["source, path", "N", "seconds", "rows/s", "x the folder's time"],
        [
            [way, str(len(t)), fmt_seconds(median(t)), fmt_rate(rows, median(t)), fmt_ratio(median(t), base)]
            for way, t in times.items()
        ],
        [False, True, True, True, True],
    )
    return [
        "",
        f"The bulk archive zip: (c) zipped as data.police.uk zips it (`{archive.name}`, "
        f"{archive.stat().st_size / 1e6:,.0f} MB, {rows:,} rows), loaded by safestreets from the zip "
        "by the direct path (each window's members written out as text for DuckDB while the window "
        "before loads), from the zip by the general path alone (`use_direct=False`: members read in "
        "place by pyarrow), and from the unzipped folder (as in the table above). Medians, interleaved:",
        "",
        table,
    ]


class _InlineExecutor:
    """A stand-in for ingest's thread pool that runs each task at once in the calling thread."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def shutdown(self, *args: object, **kwargs: object) -> None:
        return None

    def map(self, fn: Callable[..., object], items: Sequence[object]) -> Iterator[object]:
        return (fn(item) for item in items)

    def submit(self, fn: Callable[..., object], *args: object, **kwargs: object) -> Future[object]:
        future: Future[object] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to the caller through the future, as a pool would
            future.set_exception(err)
        return future


@contextmanager
def _inline_workers() -> Iterator[None]:
    saved = ingest_module.ThreadPoolExecutor
    ingest_module.ThreadPoolExecutor = _InlineExecutor  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        ingest_module.ThreadPoolExecutor = saved  # type: ignore[misc]


def profile(ds: Dataset, top: int = 5) -> list[tuple[str, int, float, float]]:
    """One extra, untimed safestreets load under cProfile: (function, calls, own s, cumulative s)."""
    profiler = cProfile.Profile()
    # cProfile sees one thread: the worker's batches are prepared inline here, so the profile holds
    # all of the load's work (its time is not comparable with the timed runs).
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, _inline_workers():
        run_safestreets(ds, Path(tmp), profiler)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        path = Path(filename)
        shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else filename
        if ".venv" in shown:
            shown = shown.split("site-packages/")[-1]
        rows.append((f"{shown}:{line}({name})", calls, own, cumulative))
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows[:top]


# --- summary ------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One row of the results table: a dataset and kind, the median seconds of each tool."""

    dataset: str
    kind: str
    rows: int
    seconds: dict[str, float]
    repeats: int
    rows_agree: bool
    spread: dict[str, tuple[float, float]]  # tool -> (fastest, slowest) seconds over the repeats


def summarise(ds: Dataset, runs: dict[str, list[Run]]) -> list[Line]:
    lines = []
    kinds = [k for k in KINDS if k in ds.files]
    for kind in [*kinds, "all"] if len(kinds) > 1 else kinds:
        seconds: dict[str, float] = {}
        spread: dict[str, tuple[float, float]] = {}
        counts: set[int] = set()
        for tool, tool_runs in runs.items():
            if kind == "all" or len(kinds) == 1:
                # The whole load, close included: what an analyst waits for.
                times = [r.total for r in tool_runs]
                counts |= {sum(r.rows.values()) for r in tool_runs}
            else:
                times = [r.seconds[kind] for r in tool_runs if kind in r.seconds]
                counts |= {r.rows[kind] for r in tool_runs}
            if times:
                seconds[tool], spread[tool] = median(times), (min(times), max(times))
        lines.append(Line(ds.title, kind, max(counts), seconds, ds.repeats, len(counts) == 1, spread))
    return lines


HEADERS = [
    "data",
    "kind",
    "rows",
    "N",
    "safestreets s",
    "safestreets rows/s",
    "DuckDB read_csv s",
    "DuckDB rows/s",
    "pandas s",
    "pandas rows/s",
    "safestreets / DuckDB",
    "DuckDB count(*) s",
]
RIGHT = [False, False, *([True] * 10)]


def cells(line: Line) -> list[str]:
    s: dict[str, float | None] = {tool: line.seconds.get(tool) for tool in TOOLS}
    return [
        line.dataset,
        line.kind,
        fmt_count(line.rows) + ("" if line.rows_agree else " (!)"),
        str(line.repeats),
        fmt_seconds(s["safestreets"]),
        fmt_rate(line.rows, s["safestreets"]),
        fmt_seconds(s["duckdb"]),
        fmt_rate(line.rows, s["duckdb"]),
        fmt_seconds(s["pandas"]),
        fmt_rate(line.rows, s["pandas"]),
        fmt_ratio(s["safestreets"], s["duckdb"]),
        fmt_seconds(s["duckdb-count"]),
    ]


def rich_table(
    title: str, headers: Sequence[str], right: Sequence[bool], rows: Sequence[Sequence[str]]
) -> Table:
    table = Table(title=title)
    for header, is_right in zip(headers, right, strict=True):
        table.add_column(header, justify="right" if is_right else "left")
    for row in rows:
        table.add_row(*row)
    return table


@dataclass
class FileCost:
    """safestreets' mean time per file for one kind, split into a fixed part, a per-row part and spikes.

    The split comes from a Theil-Sen line, seconds = fixed + rows / rate, through the per-file times. It
    is robust to the few files that pay for an automatic checkpoint or a first-use import; what those
    cost over the line is ``spikes_ms``.
    """

    dataset: str
    kind: str
    files: int
    mean_rows: float
    mean_ms: float
    fixed_ms: float | None  # None when times do not rise with rows (too few, or too alike, files)
    rate: float | None  # marginal rows/s

    @property
    def per_row_ms(self) -> float | None:
        return None if self.rate is None else self.mean_rows / self.rate * 1000

    @property
    def spikes_ms(self) -> float | None:
        if self.fixed_ms is None or self.per_row_ms is None:
            return None
        return self.mean_ms - self.fixed_ms - self.per_row_ms

    @property
    def fixed_share(self) -> float | None:
        return None if self.fixed_ms is None else self.fixed_ms / self.mean_ms


def file_costs(dataset: str, runs: Sequence[Run]) -> list[FileCost]:
    costs = []
    for kind in KINDS:
        points = [(rows, s) for run in runs for k, rows, s in run.per_file if k == kind]
        if not points:
            continue
        rows = np.array([p[0] for p in points], dtype=float)
        seconds = np.array([p[1] for p in points])
        fixed = rate = None
        if len(np.unique(rows)) >= 5:
            slope, intercept, _, _ = theilslopes(seconds, rows)
            if slope > 0 and intercept > 0:
                fixed, rate = float(intercept) * 1000, 1 / float(slope)
        files = len(points) // len(runs)
        costs.append(FileCost(dataset, kind, files, rows.mean(), seconds.mean() * 1000, fixed, rate))
    return costs


COST_HEADERS = [
    "data",
    "kind",
    "files",
    "rows/file",
    "ms/file",
    "fixed ms",
    "per-row ms",
    "spikes ms",
    "marginal rows/s",
    "fixed share",
]
COST_RIGHT = [False, False, *([True] * 8)]


def cost_cells(c: FileCost) -> list[str]:
    def ms(value: float | None) -> str:
        return "–" if value is None else f"{round(value):,}"  # round first: no "-0"

    return [
        c.dataset,
        c.kind,
        f"{c.files:,}",
        f"{c.mean_rows:,.0f}",
        ms(c.mean_ms),
        ms(c.fixed_ms),
        ms(c.per_row_ms),
        ms(c.spikes_ms),
        ms(c.rate),
        "–" if c.fixed_share is None else f"{c.fixed_share:.0%}",
    ]


def reading(lines: Sequence[Line], costs: Sequence[FileCost], cores: str) -> str:
    """The aims, met or not, in plain numbers (the ratio is safestreets' time over DuckDB's)."""
    out = []
    synthetic = [ln for ln in lines if ln.dataset.startswith("(c)")]
    c_all = next((ln for ln in synthetic if ln.kind == "all"), synthetic[0] if synthetic else None)
    if c_all is not None:
        rate = c_all.rows / c_all.seconds["safestreets"]
        verdict = "met" if rate >= AIM_ROWS_PER_S else "not met"
        out.append(
            f"- Aim: at least {AIM_ROWS_PER_S:,} rows/s on (c) with {cores} cores. **{verdict}**: "
            f"safestreets loads {rate:,.0f} rows/s over the whole archive, "
            f"{rate / AIM_ROWS_PER_S:.1%} of the aim"
            + (f" ({AIM_ROWS_PER_S / rate:.0f}x short)." if rate < AIM_ROWS_PER_S else ".")
        )
        duck = c_all.rows / c_all.seconds["duckdb"]
        out.append(
            f"  Bare DuckDB `read_csv` into a table manages {duck:,.0f} rows/s on the same files, and "
            f"`count(*)` over `read_csv` (parsing only) {c_all.rows / c_all.seconds['duckdb-count']:,.0f}"
            " rows/s, so on this machine the aim is "
            + ("above" if duck < AIM_ROWS_PER_S else "within")
            + " what bare DuckDB itself reaches when it stores the rows."
        )
    ratios = [
        (ln, ln.seconds["safestreets"] / ln.seconds["duckdb"])
        for ln in lines
        if ln.kind == "all" or not ln.dataset.startswith("(c)")
    ]
    if ratios:
        worst = max(r for _, r in ratios)
        verdict = "met" if worst <= AIM_RATIO else "not met"
        shown = "; ".join(f"{ln.dataset} {r:.2f}x" for ln, r in ratios)
        out.append(
            f"- Aim: within {AIM_RATIO}x of bare DuckDB `read_csv`. **{verdict}**: safestreets takes "
            f"{shown} as long as DuckDB (whole loads)"
            + (f", {worst / AIM_RATIO:.1f}x over the limit at worst." if worst > AIM_RATIO else ".")
        )
    shares = [(c, c.fixed_share) for c in costs if c.fixed_share is not None]
    if shares:
        per_dataset = Counter(c.dataset for c in costs)  # a one-kind dataset needs no kind named
        shown = "; ".join(
            f"{c.dataset if per_dataset[c.dataset] == 1 else f'{c.dataset} {c.kind}'} {share:.0%}"
            for c, share in shares
        )
        out.append(
            "- Where safestreets' time goes: a line through its per-file times (table below) puts this "
            f"share of each file's time in a fixed cost that does not depend on rows: {shown}. The rest is "
            "per-row work, at the marginal rates shown, and occasional spikes."
        )
    fixed = [c for c in costs if c.dataset.startswith("(c)") and c.fixed_ms is not None]
    if c_all is not None and fixed:
        fixed_s = sum(c.files * (c.fixed_ms or 0.0) for c in fixed) / 1000
        total = c_all.seconds["safestreets"]
        rest_rate = c_all.rows / (total - fixed_s)
        rest_ratio = (total - fixed_s) / c_all.seconds["duckdb"]
        met = [rest_rate >= AIM_ROWS_PER_S, rest_ratio <= AIM_RATIO]
        verdict = {0: "would still meet neither aim", 1: "would meet one aim", 2: "would meet both aims"}
        out.append(
            f"- On (c), the fixed per-file costs add up to about {fixed_s:.0f} s of safestreets' "
            f"{total:.0f} s ({fixed_s / total:.0%}). Without them it would load about {rest_rate:,.0f} "
            f"rows/s, {rest_ratio:.1f}x DuckDB's time: the per-row work alone {verdict[sum(met)]}."
        )
    c_pandas = c_all.rows / c_all.seconds["pandas"] if c_all is not None else None
    if c_pandas is not None:
        out.append(
            f"- For scale on (c): pandas `read_csv` (parsing into memory, nothing stored) reaches "
            f"{c_pandas:,.0f} rows/s, single-threaded."
        )
    return "\n".join(out)


def floor_reading(lines: Sequence[Line], hot: dict[str, list[tuple[str, int, float, float]]]) -> list[str]:
    """What the profiled load spent staging (read, type, check, key into temporary tables) and storing,
    each against bare DuckDB's whole load of the same files: why the ratio stays above the aim."""
    out = []
    for title, rows in hot.items():
        own = {name.rsplit("(", 1)[-1].rstrip(")"): seconds for name, _, seconds, _ in rows}
        # The whole load: a mixed input's 'all' row, else its one kind.
        ours = [ln for ln in lines if ln.dataset == title and "duckdb" in ln.seconds]
        line = next((ln for ln in ours if ln.kind == "all"), ours[0] if len(ours) == 1 else None)
        if line is None or "_stage" not in own or "_insert" not in own:
            continue
        duck = line.seconds["duckdb"]
        out.append(
            f"- In the profiled load of {title} below, staging alone (`_stage`: reading, typing, checking "
            f"and keying every row into temporary tables) took {own['_stage']:.2f} s, "
            f"{own['_stage'] / duck:.2f}x bare DuckDB's whole load ({duck:.2f} s), and storing the staged "
            f"rows (`_insert`) {own['_insert']:.2f} s more, {own['_insert'] / duck:.2f}x: together "
            f"{(own['_stage'] + own['_insert']) / duck:.2f}x before repeats, points and bookkeeping. "
            "Bare DuckDB stores untyped text once; safestreets types and checks every value before anything "
            "is stored, which is what lets a bad file leave the store untouched."
        )
    return ["", *out] if out else []


def spreads(lines: Sequence[Line]) -> list[str]:
    """Fastest to slowest repeat, so a reader can see how noisy the medians are."""
    names = {
        "safestreets": "safestreets",
        "duckdb": "DuckDB read_csv",
        "pandas": "pandas",
        "duckdb-count": "DuckDB count(*)",
    }
    shown = [
        f"- {ln.dataset} {ln.kind}: "
        + ", ".join(f"{names[t]} {fmt_seconds(lo)}–{fmt_seconds(hi)}" for t, (lo, hi) in ln.spread.items())
        for ln in lines
        if ln.repeats > 1
    ]
    return ["Fastest to slowest repeat, seconds:", "", *shown, ""] if shown else []


def docs_body(
    datasets: Sequence[Dataset],
    lines: Sequence[Line],
    costs: Sequence[FileCost],
    hot: dict[str, list[tuple[str, int, float, float]]],
    wall: float,
    zipped: list[str] | None = None,
) -> str:
    info = machine(("duckdb", "pyarrow", "pandas"))
    data = []
    for ds in datasets:
        counts = ", ".join(f"{len(v):,} {k} files" for k, v in ds.files.items())
        data.append(f"- {ds.title}: {ds.about}. {counts}, {ds.bytes_on_disk() / 1e6:,.0f} MB on disk.")
    parts = [
        f"Command: `{command_line()}`  ",
        f"Date: {today()}; the whole run took {wall / 60:.1f} min.",
        "",
        "Machine:",
        "",
        machine_markdown(("duckdb", "pyarrow", "pandas")),
        "",
        "Data:",
        "",
        *data,
        "",
        "Method: every run starts from a fresh temporary folder, files are read once beforehand so the "
        "page cache is warm, and the tools run interleaved within each repeat. Figures are medians of N "
        "repeats"
        + (
            " (N=1 for (c): one full load takes minutes)"
            if any(ds.key == "c" and ds.repeats == 1 for ds in datasets)
            else ""
        )
        + ".",
        "",
        "- safestreets: `ingest_policeuk(con, folder, LoadOptions())` into a fresh workspace "
        "(`open_store` first, untimed), timed to `con.close()`. It reads, checks, keys, projects and "
        "stores every row, and hashes every file (sha256 of its uncompressed bytes). The files here are "
        "named as in the bulk archive, so they take the direct path: windows of about 512 MB of text are "
        "read by DuckDB's `read_csv`, typed, checked and keyed in SQL into temporary tables, and stored "
        "in one transaction per window once every row has passed; the general path (pyarrow, file by "
        "file) would take any file that failed. Windows hold every kind, so the time does not split by "
        "kind: the `all` row (and a single-kind row) is the whole load, close included, and per-kind "
        "rows of a mixed load show '–' for safestreets. Files that took the general path in a timed "
        "run: " + ", ".join(f"({k}) {GENERAL.get(k, 0):,}" for k in (ds.key for ds in datasets)) + ".",
        "- DuckDB read_csv: `CREATE TABLE t AS SELECT * FROM read_csv([...files...], all_varchar=true, "
        "header=true)` in a fresh DuckDB file, one table per kind, timed from `connect` to `close`. "
        "No checks, no keys, no typing.",
        "- DuckDB count(*): `SELECT count(*) FROM read_csv(...)` in memory; parsing only, a floor.",
        "- pandas: `pd.concat([pd.read_csv(f, dtype=str) for f in files])` per kind (pandas "
        f"{info['pandas']}, C parser).",
        "- safestreets / DuckDB is safestreets' seconds over DuckDB read_csv's: 1.00x is parity, the aim is "
        f"at most {AIM_RATIO}x. A `(!)` after a row count means the tools disagreed on it.",
        "",
        markdown_table(HEADERS, [cells(line) for line in lines], RIGHT),
        "",
        *spreads(lines),
        "Reading:",
        "",
        reading(lines, costs, info["cores"]),
        *(zipped or []),
    ]
    parts += floor_reading(lines, hot)
    for title, rows in hot.items():
        parts += [
            "",
            f"Profile hot spots, one cProfile'd safestreets load of {title} with the files hashed inline "
            f"on one thread (own time, top {len(rows)}; a DuckDB or pyarrow call counts as own time of the "
            "Python function that makes it):",
            "",
            markdown_table(
                ["function", "calls", "own s", "cumulative s"],
                [[f"`{name}`", f"{calls:,}", f"{own:.2f}", f"{cum:.2f}"] for name, calls, own, cum in rows],
                [False, True, True, True],
            ),
        ]
    return "\n".join(parts)


# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a subset: 24 burglary months, 12 stop-and-search months, 1M synthetic rows",
    )
    parser.add_argument("--only", default="a,b,c", help="which inputs, e.g. a,b (default a,b,c)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats per tool (default 3; 1 for the full-size synthetic archive)",
    )
    parser.add_argument(
        "--zip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also load (c) from its bulk archive zip, by the direct and the general path (default: on)",
    )
    parser.add_argument("--profile", default="", help="inputs to profile once with cProfile, e.g. b")
    parser.add_argument(
        "--write-docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="replace the '## Ingest' section of docs/benchmarks.md (default: unless --quick)",
    )
    args = parser.parse_args(argv)
    args.only = [k.strip() for k in args.only.split(",") if k.strip()]
    args.profile = [k.strip() for k in args.profile.split(",") if k.strip()]
    if unknown := set(args.only + args.profile) - {"a", "b", "c"}:
        parser.error(f"unknown input(s): {', '.join(sorted(unknown))} (choose from a, b, c)")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.write_docs is None:
        args.write_docs = not args.quick
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    datasets = []
    for key in args.only:
        if key in ("a", "b"):
            ds = real_dataset(key, args.quick)
            ds.repeats = args.repeats or 3
        else:
            config = QUICK_CITY if args.quick else FULL_CITY
            ds = synthetic_dataset(config, args.repeats or (3 if args.quick else 1))
        datasets.append(ds)

    lines: list[Line] = []
    costs: list[FileCost] = []
    hot: dict[str, list[tuple[str, int, float, float]]] = {}
    zipped: list[str] = []
    for ds in datasets:
        console.rule(f"{ds.title}: {len(ds.all_files):,} files, {ds.repeats} repeat(s)")
        warm(ds.all_files)
        runs = measure(ds)
        lines += summarise(ds, runs)
        if ds.key == "c" and args.zip:
            console.rule(f"{ds.title} as the bulk archive zip")
            zipped = zip_section(ds, measure_zip(ds), lines[-1].rows)
            console.print("\n".join(zipped))
        if ds.key in args.profile:
            hot[ds.title] = profile(ds)
            for name, calls, own, cum in hot[ds.title]:
                console.print(f"  {own:7.2f} s own {cum:7.2f} s cum {calls:>8,} calls  {name}")

    console.print(
        rich_table("Ingest: median seconds and rows per second", HEADERS, RIGHT, [cells(ln) for ln in lines])
    )
    wall = time.perf_counter() - started
    body = docs_body(datasets, lines, costs, hot, wall, zipped)
    console.print(reading(lines, costs, machine()["cores"]))
    if args.write_docs:
        path = write_section("Ingest", body)
        console.print(f"wrote the '## Ingest' section of {path}")
    console.print(f"whole run: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
