"""Forecasting benchmark: hit rate, PAI and PEI of every model, the baselines and ``auto``, with timings.

Four inputs, each loaded once into its own workspace store under bench/.data/ (``--rebuild`` loads again):

- (a) the real Met burglary street files (145 months), London boroughs and BCUs, monthly horizon;
- (b) the real City of London street files (all crime, a gap 2020-12..2022-06), violence, monthly, on
  250 m and on 100 m cells (the City is about 3 km²);
- (c) timestamped real records, weekly horizon: Vancouver thefts 2020 and Cincinnati burglary 2016-2018,
  loaded as a force's own records through the mappings in bench/mappings/;
- (d) the synthetic city sized so the target (all publicly reported crime) has about 1M events, monthly;
  with the wall time of a 12-origin backtest of every model and of one ETAS fit on the whole history.

Every model in the registry is backtested at the same rolling origins (fit on the events before the
origin, scored on the window after it). ``auto`` is judged by a nested backtest: at each origin it chooses
a model exactly as ``auto.choose`` does, from the origins just before (on data before the origin only),
and is scored by what the chosen model forecast at that origin.

    .venv/bin/python bench/forecast.py --quick     # smoke run: 2 origins, coarser (a), smaller city; no docs
    .venv/bin/python bench/forecast.py             # the full run; replaces "## Forecasting" in docs/benchmarks.md
    .venv/bin/python bench/forecast.py --only a,d --skip ensemble --probe-skipped   # without the costliest model
    .venv/bin/python bench/forecast.py --single    # one auto forecast against one backtest origin (## One forecast)

``--single`` times one ``forecast --model auto`` on (a) and Vancouver, quiet and beside a busy process,
next to one backtest origin of all its candidates (bench/_single.py; ``--src`` times another source tree).

Figures per input are also kept in bench/.data/forecast-results/, so rerunning some inputs (``--only``)
rewrites the docs section with the others' last figures.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from _common import (
    DATA,
    ROOT,
    command_line,
    fmt_seconds,
    machine_markdown,
    markdown_table,
    median,
    today,
    usable_cores,
    write_section,
)
from safestreets.api.demo import load_city_areas_and_places
from safestreets.config import Workspace
from safestreets.errors import SafestreetsError
from safestreets.evaluate.auto import choose
from safestreets.evaluate.backtest import backtest, default_origins, summarise
from safestreets.forecast import BASELINES, MODELS, REFERENCE, make_model
from safestreets.forecast.base import Forecaster
from safestreets.forecast.data import load_history, load_units
from safestreets.forecast.history import History, Horizon
from safestreets.forecast.targets import parse_target
from safestreets.geo.units import Units
from safestreets.sources.boundaries import read_areas, read_bcu_lookup
from safestreets.sources.places import read_places
from safestreets.store import get_setting, open_store, set_setting
from safestreets.store.areas import load_areas
from safestreets.store.batches import sha256_file
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.places import load_places
from safestreets.store.records import ingest_force_records
from safestreets.synthetic import TYPE_SHARES, CityConfig, generate_city

SHARED = ROOT.parent / "shared" / "data"
MAPPINGS = Path(__file__).resolve().parent / "mappings"
RESULTS = DATA / "forecast-results"  # one JSON per input, so the docs keep inputs not rerun this time
TITLE = "Forecasting"

COVERAGES = (0.01, 0.05, 0.10)
# auto's own settings, read from choose() itself so the nested backtest cannot drift from it.
_CHOOSE = inspect.signature(choose).parameters
AUTO_ORIGINS: int = _CHOOSE["origins"].default
AUTO_COVERAGES: tuple[float, ...] = tuple(_CHOOSE["coverages"].default)
RATIO_COVERAGES = (0.01, 0.05)
# The aims for (d), in seconds of wall time on this machine's cores.
AIM_BACKTEST_S = 60.0
AIM_ETAS_S = 60.0
AIM_BACKTEST_ORIGINS = 12

# (d): the synthetic city's public crime is TYPE_SHARES without ASB and police-found types, and 1.5% of
# rows have no location; n_events is sized so that the located target comes to about 1M events.
PUBLIC_SHARE = (
    1 - sum(TYPE_SHARES[t] for t in ("Anti-social behaviour", "Drugs", "Possession of weapons")) / 100
)
TARGET_EVENTS = 1_000_000
FULL_CITY = CityConfig(n_events=int(round(TARGET_EVENTS / PUBLIC_SHARE / 0.985, -4)), months=36, seed=11)
QUICK_CITY = CityConfig(n_events=150_000, months=24, seed=11)

console = Console(width=None if sys.stdout.isatty() else 200)


# --- inputs -------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    key: str  # a, b, c-vancouver, c-cincinnati, d
    title: str
    target: str  # a target name or a list of police.uk types (parse_target)
    horizon: str
    cell: float
    study: str  # load_units' study area
    origins: int  # outer origins in a full run
    settings: dict[str, str]  # workspace settings set before anything loads
    inputs: list[Path]  # files read, for the docs and the store's fingerprint
    load: Callable[[duckdb.DuckDBPyConnection], list[str]]  # fills the store; returns notes for the docs
    about: str  # one line for the docs: what the data are
    notes: list[str] = field(default_factory=list)  # caveats for the docs, fixed in advance
    config: dict[str, Any] = field(default_factory=dict)  # anything else that shapes the store
    store: str = ""  # the store's name under bench/.data/ (default: the key); variants share one

    def __post_init__(self) -> None:
        self.store = self.store or self.key


def _load_boundaries(con: duckdb.DuckDBPyConnection, *, bcus: bool) -> list[str]:
    """The 33 London boroughs (kind borough) and, with ``bcus``, the Met's borough -> BCU lookup."""
    crs = get_setting(con, "crs")
    notes = []
    path = SHARED / "boundaries" / "london_boroughs_lad22_gen20.geojson"
    areas = read_areas(path, crs=crs, kind="borough")
    load_areas(con, areas, source=str(path), sha256=sha256_file(path), params={"kind": "borough"})
    notes.append(f"{areas.num_rows} boroughs from `../shared/data/{path.relative_to(SHARED)}`")
    if bcus:
        lookup = SHARED / "london" / "borough_to_met_bcu_lookup.csv"
        try:
            table = read_bcu_lookup(lookup)
        except SafestreetsError as err:  # the brief: skip BCUs rather than fail if the format does not fit
            notes.append(f"BCU lookup skipped: {err}")
        else:
            load_areas(con, table, source=str(lookup), sha256=sha256_file(lookup), params={})
            bcu_count = len(set(table.column("bcu_code").to_pylist()))
            notes.append(
                f"BCUs from `../shared/data/{lookup.relative_to(SHARED)}` ({table.num_rows} boroughs in {bcu_count} "
                "BCUs; the City has none)"
            )
    return notes


def _load_stations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tube and rail stations: the distance-to-station covariate that models such as gbm may use."""
    crs = get_setting(con, "crs")
    out = []
    for name in ("tube_stations.csv", "naptan_rail_stations_greater_london.csv"):
        path = SHARED / "transport" / name
        table = read_places(path, crs=crs, kind="station")
        load_places(con, table, source=str(path), sha256=sha256_file(path), params={"kind": "station"})
        out.append(f"{table.num_rows} from `{name}`")
    return ["stations (covariate): " + ", ".join(out)]


def _ingest_street(con: duckdb.DuckDBPyConnection, folder: Path, files: Sequence[Path]) -> list[str]:
    results = ingest_policeuk(con, folder, kind="street")
    rows = sum(r.rows_read for r in results)
    return [f"{len(files)} street files, {rows:,} rows read"]


def met_burglary(cell: float) -> Dataset:
    folder = SHARED / "police_uk" / "met_burglary_only" / "street"
    files = sorted(folder.glob("*-street.csv*"))

    def load(con: duckdb.DuckDBPyConnection) -> list[str]:
        return [*_load_boundaries(con, bcus=True), *_load_stations(con), *_ingest_street(con, folder, files)]

    return Dataset(
        "a", "(a) Met burglary", "burglary", "1m", cell, "borough", 24, {}, files, load,
        f"`../shared/data/{folder.relative_to(SHARED)}/`: real Met street files, already filtered to "
        "burglary upstream",
    )  # fmt: skip


def city_of_london(cell: float) -> Dataset:
    folder = SHARED / "police_uk" / "city_of_london"
    files = sorted(folder.glob("*-street.csv*"))

    def load(con: duckdb.DuckDBPyConnection) -> list[str]:
        # Boroughs only: the City is not a Met BCU, so the units' command unit is the borough itself.
        return [*_load_boundaries(con, bcus=False), *_load_stations(con), *_ingest_street(con, folder, files)]

    notes = [
        "The files cover 2018-04..2020-11 and 2022-07..2023-12. The outer origins are the last 12 months "
        f"(2023-01..2023-12) so that auto's {AUTO_ORIGINS} inner origins (2022-07..2022-12) also fall in the "
        "later block. Every model is fitted across the 19-month gap: at the first inner origins the models "
        "with a short look-back see few or no events (at 2022-07, last-period's last month, prospective's 8 weeks "
        "and kde's 12 months are all empty), which weighs on auto's first choices.",
    ]
    if cell == 250.0:
        notes.append(
            "The City is about 3 km², so at 250 m 1% of the area is less than one cell and HR 1% scores "
            "only the top cell; the same data at 100 m (next) gives 1% and 5% more cells to rank."
        )
    return Dataset(
        "b" if cell == 250.0 else f"b-{cell:g}m", f"(b) City of London violence, {cell:g} m", "violence", "1m",
        cell, "borough:E09000001", 12, {}, files, load,
        f"`../shared/data/{folder.relative_to(SHARED)}/*-street.csv.gz`: real City of London Police street "
        "files, all crime types", notes=notes, store="b",
    )  # fmt: skip


def force_records(city: str) -> Dataset:
    if city == "vancouver":
        path = SHARED / "other_cities" / "vancouver_thefts_2020.csv.gz"
        settings = {"crs": "EPSG:32610", "timezone": "America/Vancouver"}
        target, title = "other-theft,vehicle-crime,bicycle-theft", "(c) Vancouver thefts"
        about = (
            f"`../shared/data/{path.relative_to(SHARED)}`: Vancouver Police thefts 2020, local time to the "
            "minute; types mapped to police.uk's Other theft, Vehicle crime and Bicycle theft (the target "
            "is all three)"
        )
    else:
        path = SHARED / "other_cities" / "cincinnati_burglary_2016_2018.csv.gz"
        settings = {"crs": "EPSG:32616", "timezone": "America/New_York"}
        target, title = "burglary", "(c) Cincinnati burglary"
        about = (
            f"`../shared/data/{path.relative_to(SHARED)}`: Cincinnati burglary and aggravated burglary "
            "2016-2018 (both mapped to Burglary), local date-times"
        )
    mapping = MAPPINGS / f"{city}.toml"

    def load(con: duckdb.DuckDBPyConnection) -> list[str]:
        result = ingest_force_records(con, path, mapping)
        return [
            f"mapping `bench/mappings/{mapping.name}`; {result.rows_read:,} rows read, "
            f"{result.rows_loaded:,} loaded; workspace CRS {settings['crs']}, time zone {settings['timezone']}"
        ]

    return Dataset(
        f"c-{city}", title, target, "1w", 250.0, "hull", 12, settings, [path, mapping], load, about,
        notes=[
            "No boundaries: the study area is the convex hull of the events (with half a cell of margin).",
            "`default_origins` treats the last day of the data as possibly partial, so `choose`, given the "
            "data before an origin, backtests at origins one day earlier than the outer ones (a day before "
            "each week boundary): auto's inner origins here are mostly extra origins of their own.",
        ],
    )  # fmt: skip


def synthetic(config: CityConfig) -> Dataset:
    city = DATA / f"forecast-city-{config.n_events}-{config.months}m-s{config.seed}"

    def load(con: duckdb.DuckDBPyConnection) -> list[str]:
        start = time.perf_counter()
        if city.exists():
            shutil.rmtree(city)
        manifest = generate_city(city, config)
        generated = time.perf_counter() - start
        load_city_areas_and_places(con, city)
        results = ingest_policeuk(con, city / "police_uk", kind="street")
        rows = sum(r.rows_read for r in results)
        # The force's own records are the same crimes with times: forecasts from police.uk files ignore
        # them (one source at a time), and the timestamped ETAS fit below uses them.
        timed = 0
        for records in sorted((city / "force_records").glob("*-records.csv")):
            mapping = records.with_name(records.name.replace("-records.csv", "-mapping.toml"))
            timed += ingest_force_records(con, records, mapping).rows_loaded
        return [
            f"generated in {generated:.0f} s ({manifest.rows.get('street', rows):,} street rows, "
            f"{len(manifest.months)} months {manifest.months[0]}..{manifest.months[-1]}); loaded as the demo "
            f"does: boroughs, LSOAs (population), BCUs, places, {rows:,} street rows and {timed:,} "
            "timestamped force records"
        ]

    return Dataset(
        "d", "(d) synthetic city", "public", "1m", 250.0, "borough", 12, {}, [], load,
        f"`generate_city` with n_events={config.n_events:,}, months={config.months}, seed={config.seed}, "
        f"in `bench/.data/{city.name}/`; target `public` (every publicly reported type: not ASB, Drugs "
        "or Possession of weapons)",
        config={"city": asdict(config), "force_records": True},
    )  # fmt: skip


def datasets(keys: Sequence[str], quick: bool) -> list[Dataset]:
    out = []
    for key in keys:
        if key == "a":
            # The quick run's 500 m cells make gbm and ensemble (which scale with the units) 4x cheaper.
            out.append(met_burglary(500.0 if quick else 250.0))
        elif key == "b":
            out += [city_of_london(250.0), city_of_london(100.0)]
        elif key == "c":
            out += [force_records("vancouver"), force_records("cincinnati")]
        else:
            out.append(synthetic(QUICK_CITY if quick else FULL_CITY))
    return out


# --- stores -------------------------------------------------------------------------------------------


def _fingerprint(ds: Dataset) -> dict[str, Any]:
    files = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in ds.inputs]
    return json.loads(json.dumps({"files": files, "settings": ds.settings, **ds.config}))


def store_for(ds: Dataset, rebuild: bool) -> tuple[Workspace, dict[str, Any]]:
    """The input's workspace, loaded unless an identical load is already there."""
    name = ds.store if ds.key != "d" else f"d-{ds.config['city']['n_events']}-{ds.config['city']['months']}m"
    ws = Workspace(DATA / f"forecast-store-{name}")
    marker = ws.root / "bench-store.json"
    wanted = _fingerprint(ds)
    info = json.loads(marker.read_text()) if marker.exists() else None
    if not rebuild and info is not None and info.get("fingerprint") == wanted:
        console.print(f"{ds.title}: reusing the store in {ws.root} (loaded {info['loaded']})")
        return ws, info
    if ws.root.exists():
        shutil.rmtree(ws.root)  # half-built, stale or asked for: start clean
    console.print(f"{ds.title}: loading into {ws.root} ...")
    start = time.perf_counter()
    con = open_store(ws)
    for key, value in ds.settings.items():
        set_setting(con, key, value)
    con.close()
    con = open_store(ws)  # the session time zone is set from the settings when the store opens
    try:
        notes = ds.load(con)
        events = con.execute("SELECT count(*), count(x) FROM events").fetchone()
    finally:
        con.close()
    seconds = time.perf_counter() - start
    assert events is not None
    info = {
        "fingerprint": wanted,
        "notes": notes,
        "events": int(events[0]),
        "located": int(events[1]),
        "seconds": round(seconds, 1),
        "loaded": today(),
    }
    marker.write_text(json.dumps(info, indent=2))  # written last: its presence means the load finished
    console.print(f"  loaded in {seconds:.0f} s: {'; '.join(notes)}")
    return ws, info


def timed_history(ds: Dataset, ws: Workspace) -> History:
    """The target from the store's timestamped source (a force's own records)."""
    con = open_store(ws, read_only=True)
    try:
        return load_history(con, parse_target(ds.target), need_timestamps=True, with_context=False)
    finally:
        con.close()


def inputs_for(ds: Dataset, ws: Workspace) -> tuple[History, Units]:
    con = open_store(ws, read_only=True)
    try:
        horizon = Horizon.parse(ds.horizon)
        history = load_history(con, parse_target(ds.target), need_timestamps=horizon.unit == "D")
        units = load_units(con, "grid", cell_size=ds.cell, study=ds.study, history=history)
    finally:
        con.close()
    return history, units


# --- backtests ----------------------------------------------------------------------------------------


@dataclass
class Plan:
    """The outer origins (where every model and auto are scored) and, per outer origin, the inner
    origins auto.choose would backtest over on the data before it."""

    outer: list[np.datetime64]
    inner: dict[np.datetime64, list[np.datetime64]]

    @property
    def extra(self) -> list[np.datetime64]:
        """Inner origins that are not outer ones: backtested only for auto."""
        seen = set(self.outer)
        return sorted({o for inner in self.inner.values() for o in inner if o not in seen})


def plan(history: History, horizon: Horizon, count: int) -> Plan:
    outer = default_origins(history, horizon, count)
    # choose() picks its origins with default_origins on the history it is given: the data before the
    # origin. For weekly horizons these are not the outer origins shifted, so they are computed, not assumed.
    inner = {o: default_origins(history.before(o), horizon, AUTO_ORIGINS) for o in outer}
    return Plan(outer, inner)


@dataclass
class Runs:
    metrics: pa.Table  # city-wide rows of every backtest task
    outer: pa.Table  # those at the outer origins
    walls: dict[str, float]  # per model: its backtest at every origin (outer and auto's extra ones)
    models: list[str]  # those that ran
    errors: dict[str, str]


def _backtest(
    models: dict[str, Forecaster],
    history: History,
    units: Units,
    origins: Sequence[np.datetime64],
    horizon: Horizon,
    jobs: int,
    label: str,
) -> pa.Table:
    total = len(models) * len(origins)
    with Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("", total=total)
        result = backtest(
            models, history, units, origins=list(origins), horizons=[horizon], coverages=COVERAGES,
            by_bcu=False, n_jobs=jobs, progress=lambda what: bar.update(task, description=what, advance=1),
        )  # fmt: skip
    return result.metrics.filter(pc.equal(result.metrics["scope"], "city"))


def _where(err: BaseException) -> str:
    """The error and the innermost project frame it came from (a worker's traceback arrives as text)."""
    text = str(err.__cause__) if err.__cause__ is not None else "".join(traceback.format_exception(err))
    frames = [
        ln.strip() for ln in text.splitlines() if ln.strip().startswith('File "') and "safestreets" in ln
    ]
    where = ""
    if frames:
        path, _, rest = frames[-1][len('File "') :].partition('", line ')
        shown = Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path
        where = f" at {shown}:{rest.split(',')[0]}"
    return f"{type(err).__name__}: {err}{where}"


def run_models(
    names: Sequence[str], history: History, units: Units, p: Plan, horizon: Horizon, jobs: int
) -> Runs:
    """Each model backtested on its own at every origin (outer and auto's), so a model that fails (one
    still being written) costs only its own run; it is reported and left out of every figure."""
    errors: dict[str, str] = {}
    walls: dict[str, float] = {}
    tables = []
    origins = sorted({*p.outer, *p.extra})
    for name in names:
        try:
            model = make_model(name)
        except Exception as err:  # an unfinished module: report it and carry on with the rest
            errors[name] = f"import: {_where(err)}"
            console.print(f"[red]{name} does not import[/]: {errors[name]}")
            continue
        start = time.perf_counter()
        try:
            tables.append(_backtest({name: model}, history, units, origins, horizon, jobs, name))
        except Exception as err:
            errors[name] = _where(err)
            console.print(f"[red]{name} failed[/]: {errors[name]}")
            continue
        walls[name] = time.perf_counter() - start
        console.print(f"  {name}: {len(origins)} origins in {walls[name]:.0f} s")
    if not tables:
        raise SystemExit("no model ran: " + "; ".join(f"{m}: {e}" for m, e in errors.items()))
    metrics = pa.concat_tables(tables)
    outer_times = pa.array([o.astype("datetime64[s]").item() for o in p.outer])
    outer = metrics.filter(pc.is_in(metrics["origin"], outer_times.cast(metrics.schema.field("origin").type)))
    return Runs(metrics, outer, walls, list(walls), errors)


def time_joint(
    names: Sequence[str],
    history: History,
    units: Units,
    outer: Sequence[np.datetime64],
    horizon: Horizon,
    jobs: int,
) -> float:
    """Wall time of one backtest of all these models together at the outer origins: the (d) aim."""
    models = {n: make_model(n) for n in names}
    start = time.perf_counter()
    _backtest(models, history, units, outer, horizon, jobs, "joint backtest (timed)")
    return time.perf_counter() - start


# --- auto, judged by a nested backtest ----------------------------------------------------------------


@dataclass
class Cell:
    """One model's city-wide score at one origin."""

    hit_rate: dict[float, float]
    pai: dict[float, float]
    pei: dict[float, float]
    seconds: float  # fit + predict
    ceiling: dict[float, float] = field(default_factory=dict)  # the noise ceiling at that origin
    oracle: dict[float, float] = field(default_factory=dict)


def cells(metrics: pa.Table) -> dict[tuple[str, np.datetime64], Cell]:
    data = metrics.to_pydict()
    out: dict[tuple[str, np.datetime64], Cell] = {}
    for i, (model, origin) in enumerate(zip(data["model"], data["origin"], strict=True)):
        key = (model, np.datetime64(origin, "s"))
        cell = out.setdefault(key, Cell({}, {}, {}, data["fit_seconds"][i] + data["predict_seconds"][i]))
        cov = round(float(data["coverage"][i]), 4)
        cell.hit_rate[cov] = float(data["hit_rate"][i])
        cell.pai[cov] = float(data["pai"][i])
        cell.pei[cov] = float(data["pei"][i])
        if "ceiling_hit_rate" in data:
            cell.ceiling[cov] = float(data["ceiling_hit_rate"][i])
            cell.oracle[cov] = float(data["oracle_hit_rate"][i])
    return out


@dataclass
class AutoPick:
    origin: np.datetime64
    chosen: str
    scores: dict[str, float]
    seconds: float  # what choose() + the final fit would take, one process: every inner task + the pick


def nested_auto(
    scores: dict[tuple[str, np.datetime64], Cell], names: Sequence[str], p: Plan
) -> list[AutoPick]:
    """At each outer origin, the model auto.choose would pick: the highest mean city-wide hit rate at
    AUTO_COVERAGES over the inner origins (NaN origins, windows without events, left out as summarise
    does), ties to the earlier model in the registry.

    A model fitted at an inner origin sees the same events whether the history was cut at the outer
    origin or not (fit cuts at the inner origin), so the inner scores are the backtest's own.
    """
    picks = []
    for origin in p.outer:
        inner = p.inner[origin]
        mean: dict[str, float] = {}
        seconds = 0.0
        for name in names:
            per_cov = []
            for cov in AUTO_COVERAGES:
                v = np.array([scores[(name, o)].hit_rate[round(cov, 4)] for o in inner], dtype="float64")
                v = v[np.isfinite(v)]
                per_cov.append(float(v.mean()) if len(v) else np.nan)
            mean[name] = float(np.nanmean(per_cov))
            seconds += sum(scores[(name, o)].seconds for o in inner)
        ranked = sorted(mean, key=lambda m: (-mean[m], names.index(m)))
        best = ranked[0]
        picks.append(AutoPick(origin, best, mean, seconds + scores[(best, origin)].seconds))
    return picks


def check_auto(
    history: History,
    units: Units,
    horizon: Horizon,
    names: Sequence[str],
    picks: Sequence[AutoPick],
    count: int,
    jobs: int,
) -> list[str]:
    """Run auto.choose itself at the last ``count`` outer origins and compare with the nested picks."""
    out = []
    for pick in picks[-count:] if count else []:
        start = time.perf_counter()
        choice = choose(history.before(pick.origin), units, horizon, candidates=list(names), n_jobs=jobs)
        seconds = time.perf_counter() - start
        same = choice.name == pick.chosen
        worst = max(abs(choice.scores[m] - pick.scores[m]) for m in names)
        out.append(
            f"{str(pick.origin)[:10]}: auto.choose picked {choice.name} in {seconds:.0f} s (n_jobs={jobs}), "
            f"the nested backtest {pick.chosen}: "
            + ("same" if same else "DIFFERENT")
            + f"; largest score difference {worst:.2g}"
        )
        console.print(("[green]" if same else "[red]") + out[-1])
    return out


# --- figures ------------------------------------------------------------------------------------------


@dataclass
class Row:
    model: str
    hit_rate: dict[str, float]  # coverage as text ("0.01") -> mean over the outer origins
    pai: dict[str, float]
    pei: dict[str, float]
    seconds: float  # median fit + predict per origin
    origins: int
    ceiling: dict[str, float] = field(default_factory=dict)  # mean noise ceiling over the same origins
    oracle: dict[str, float] = field(default_factory=dict)


def rows_for(scores: dict[tuple[str, np.datetime64], Cell], names: Sequence[str], outer: Sequence[np.datetime64],
             picks: Sequence[AutoPick]) -> list[Row]:  # fmt: skip
    """Mean HR, PAI, PEI over the outer origins per model (summarise's figures) and auto's from its picks."""
    auto_cells = {p.origin: scores[(p.chosen, p.origin)] for p in picks}
    per_model: dict[str, list[Cell]] = {n: [scores[(n, o)] for o in outer] for n in names}
    per_model["auto"] = [auto_cells[o] for o in outer]
    auto_seconds = {p.origin: p.seconds for p in picks}
    out = []
    for name, cs in per_model.items():
        seconds = [auto_seconds[o] for o in outer] if name == "auto" else [c.seconds for c in cs]

        def mean(attr: str, cov: float, cs: list[Cell] = cs) -> float:
            v = np.array([getattr(c, attr)[round(cov, 4)] for c in cs], dtype="float64")
            v = v[np.isfinite(v)]
            return float(v.mean()) if len(v) else float("nan")

        out.append(Row(
            name,
            {str(c): mean("hit_rate", c) for c in COVERAGES},
            {str(c): mean("pai", c) for c in COVERAGES},
            {str(c): mean("pei", c) for c in COVERAGES},
            median(seconds), len(cs),
            {str(c): mean("ceiling", c) for c in COVERAGES if cs and cs[0].ceiling},
            {str(c): mean("oracle", c) for c in COVERAGES if cs and cs[0].oracle},
        ))  # fmt: skip
    return out


def ratios(
    scores: dict[tuple[str, np.datetime64], Cell],
    names: Sequence[str],
    outer: Sequence[np.datetime64],
    picks: Sequence[AutoPick],
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """auto's mean HR over the historical average's (the reference every ratio is quoted against) per
    coverage, with a bootstrap interval: origins resampled together. Without histavg (left out of a run),
    over the best baseline's, chosen again in each resample."""
    baselines = [REFERENCE] if REFERENCE in names else [b for b in BASELINES if b in names]
    chosen = {p.origin: p.chosen for p in picks}
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {}
    for cov in RATIO_COVERAGES:
        auto = np.array([scores[(chosen[o], o)].hit_rate[cov] for o in outer])
        base = np.array([[scores[(b, o)].hit_rate[cov] for o in outer] for b in baselines])
        ok = np.isfinite(auto) & np.isfinite(base).all(axis=0)
        auto, base = auto[ok], base[:, ok]
        if not len(auto) or not len(baselines):
            continue
        means = base.mean(axis=1)
        best = int(np.argmax(means))
        ratio = auto.mean() / means[best] if means[best] > 0 else float("nan")
        idx = rng.integers(0, len(auto), size=(n_boot, len(auto)))
        boot_base = base[:, idx].mean(axis=2).max(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = auto[idx].mean(axis=1) / boot_base
        boot = boot[np.isfinite(boot)]
        out[str(cov)] = {
            "ratio": float(ratio),
            "baseline": baselines[best],
            "auto": float(auto.mean()),
            "baseline_hr": float(means[best]),
            "lo": float(np.quantile(boot, 0.025)) if len(boot) else None,
            "hi": float(np.quantile(boot, 0.975)) if len(boot) else None,
            "wins": int((auto > base[best]).sum()),
            "losses": int((auto < base[best]).sum()),
            "origins": len(auto),
        }
    return out


def describe_history(history: History, units: Units, store: dict[str, Any]) -> dict[str, Any]:
    months = history.t.astype("datetime64[M]")
    located = units.locate(history.x, history.y) >= 0
    return {
        "store_events": store["events"],
        "store_located": store["located"],
        "target_events": len(history),
        "in_area": int(located.sum()),
        "first": str(months[0]),
        "last": str(months[-1]),
        "months": len(np.unique(months)),
        "resolution": history.resolution,
        "source": history.meta.get("source"),
        "target": history.meta.get("target", {}).get("name"),
        "units": len(units),
        "area_km2": round(units.total_area / 1e6, 1),
        "bcus": len({b for b in units.bcu.tolist() if b}),
        "study_area": units.meta.get("study_area"),
    }


# --- one input, end to end ----------------------------------------------------------------------------


def run_dataset(ds: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    ws, store = store_for(ds, args.rebuild)
    history, units = inputs_for(ds, ws)
    horizon = Horizon.parse(ds.horizon)
    p = plan(history, horizon, args.origins or ds.origins)
    data = describe_history(history, units, store)
    console.print(
        f"{ds.title}: {data['target_events']:,} {data['target']} events ({data['first']}..{data['last']}), "
        f"{data['units']:,} units of {ds.cell:g} m; {len(p.outer)} origins {str(p.outer[0])[:10]}.."
        f"{str(p.outer[-1])[:10]} + {len(p.extra)} more for auto"
    )
    # auto is scored by the nested backtest below, never as a candidate of itself.
    names = [n for n in MODELS if n in args.models and n not in args.skip and n != "auto"]
    runs = run_models(names, history, units, p, horizon, args.jobs)
    scores = cells(runs.metrics)
    picks = nested_auto(scores, runs.models, p)
    checks = check_auto(history, units, horizon, runs.models, picks, args.check_auto, args.jobs)
    result: dict[str, Any] = {
        "key": ds.key,
        "title": ds.title,
        "about": ds.about,
        "notes": ds.notes,
        "store_notes": store["notes"],
        "store_seconds": store["seconds"],
        "data": data,
        "horizon": str(horizon),
        "cell": ds.cell,
        "jobs": args.jobs,
        "origins": [str(o)[:10] for o in p.outer],
        "extra_origins": [str(o)[:10] for o in p.extra],
        "rows": [asdict(r) for r in rows_for(scores, runs.models, p.outer, picks)],
        "ratios": ratios(scores, runs.models, p.outer, picks),
        "picks": [{"origin": str(k.origin)[:10], "chosen": k.chosen} for k in picks],
        "checks": checks,
        "errors": runs.errors,
        "skipped": [n for n in MODELS if n not in names],
        "walls": runs.walls,
        "command": command_line(),
        "date": today(),
        "quick": args.quick,
    }
    if ds.key == "d":
        console.print(f"timing one backtest of {', '.join(runs.models)} at the {len(p.outer)} origins ...")
        result["joint_wall"] = time_joint(runs.models, history, units, p.outer, horizon, args.jobs)
        console.print(f"  {result['joint_wall']:.0f} s")
    if ds.key == "d":
        # Both of ETAS's forms on the same crimes: the monthly one the backtest uses (police.uk files) and
        # the continuous-time one (Mohler et al.) on the city's timestamped force records.
        result["etas"] = [time_etas(history), time_etas(timed_history(ds, ws))]
    if args.probe_skipped:
        result["probes"] = probe(history, units, horizon, p.outer[-1], [m for m in args.skip if m in MODELS])
    # The table's means are computed here from the per-origin scores; summarise() must agree with them.
    check = summarise(runs.outer, n_boot=10).to_pydict()
    for row in result["rows"]:
        for model, cov, hr in zip(check["model"], check["coverage"], check["hit_rate"], strict=True):
            if model == row["model"] and not np.isclose(hr, row["hit_rate"][str(cov)], equal_nan=True):
                console.print(
                    f"[red]summarise disagrees for {model} at {cov}: {hr} vs {row['hit_rate'][str(cov)]}[/]"
                )
    result["seconds"] = time.perf_counter() - started
    result["load"] = [load_start, os.getloadavg()[0]]
    return result


def time_etas(history: History) -> dict[str, Any]:
    """ETAS alone, fitted on the whole history (every event before its end), in this process."""
    end = history.end
    assert end is not None
    model = make_model("etas")
    console.print(f"timing one ETAS fit on {len(history):,} events ({history.resolution}) ...")
    try:
        start = time.perf_counter()
        model.fit(history, end)
        fit = time.perf_counter() - start
    except Exception as err:
        console.print(f"[red]the ETAS fit failed[/]: {_where(err)}")
        return {"error": _where(err), "events": len(history), "resolution": history.resolution}
    fitted = {k: v for k, v in vars(model).items() if k.endswith("_") and isinstance(v, int | float)}
    console.print(f"  ETAS fit {fit:.1f} s {fitted}")
    return {"fit_seconds": fit, "events": len(history), "resolution": history.resolution, "fitted": fitted}


def probe(history: History, units: Units, horizon: Horizon, origin: np.datetime64, names: Sequence[str]
          ) -> dict[str, dict[str, float]]:  # fmt: skip
    """One fit and forecast of each left-out model at the last origin, in this process with one thread
    (as a backtest worker runs), so the docs can say what leaving it out saved."""
    from threadpoolctl import threadpool_limits

    out = {}
    for name in names:
        console.print(f"probing {name} once at {str(origin)[:10]} ...")
        with threadpool_limits(1):
            wall, cpu = time.perf_counter(), time.process_time()
            make_model(name).fit(history, origin).predict(units, origin, horizon.add(origin))
            out[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        console.print(f"  {name}: {out[name]['wall']:.0f} s wall, {out[name]['cpu']:.0f} s CPU")
    return out


def _threads_after_models() -> dict[str, int]:
    for name in MODELS:
        make_model(name)  # loads every model's libraries, as unpickling the backtest's tasks does
    from threadpoolctl import threadpool_info

    from safestreets.evaluate import backtest as bt

    out = {}
    limits = getattr(bt, "task_limits", None)  # what a task runs under
    with limits() if limits is not None else contextlib.nullcontext():
        for lib in threadpool_info():
            package = lib["filepath"].split("site-packages/")[-1].split("/")[0].removesuffix(".libs")
            out[f"{lib['internal_api']} ({package})"] = lib["num_threads"]
    return out


def worker_threads() -> dict[str, int]:
    """Threads per native library in a backtest worker once the models are loaded. The backtest means
    each worker to run one thread; a library loaded after that limit is set does not follow it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from safestreets.evaluate import backtest as bt

    ctx = multiprocessing.get_context("spawn")
    init = getattr(bt, "_init", None)
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=init,
                             initargs=(None, None, {}, True) if init else ()) as pool:  # fmt: skip
        return pool.submit(_threads_after_models).result()


def threads_text() -> str:
    threads = worker_threads()
    shown = ", ".join(f"{lib} {n}" for lib, n in sorted(threads.items()))
    over = sorted(lib for lib, n in threads.items() if n > 1)
    if not over:
        return f"threads per worker: {shown}"
    return (
        f"threads per worker once the models are loaded: {shown}. The backtest sets its one-thread limit "
        f"before the models' libraries load, so {' and '.join(over)} {'does' if len(over) == 1 else 'do'} not "
        "follow it, and with two workers "
        "gbm and ensemble (scikit-learn) ran more threads than there are cores"
    )


# --- output -------------------------------------------------------------------------------------------

HEADERS = [
    "model",
    "HR 1%",
    "HR 5%",
    "HR 10%",
    "PAI 1%",
    "PAI 5%",
    "PEI 1%",
    "PEI 5%",
    "HR 1% / histavg",
    "HR 5% / histavg",
    "of ceiling 1%",
    "of ceiling 5%",
    "fit+predict s (median)",
]
RIGHT = [False, *([True] * 12)]


def _pct(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.1%}"


def _num(v: float, digits: int = 2) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _ratio(v: float | None, ref: float | None) -> float:
    if v is None or ref is None or not (np.isfinite(v) and np.isfinite(ref)) or ref <= 0:
        return float("nan")
    return v / ref


def _vs(v: float | None, ref: float | None) -> str:
    """A ratio to the historical average, "parity" within 2% (below what these origins tell apart)."""
    r = _ratio(v, ref)
    if not np.isfinite(r):
        return "–"
    return f"{r:.2f}x" + (" (parity)" if abs(r - 1) <= 0.02 else "")


def reference_rows(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The historical average's and the ceiling's and oracle's mean HR per coverage (any model's rows
    carry the ceiling: it is the same at each origin for every model)."""
    rows = {r["model"]: r for r in result["rows"]}
    some = next((r for r in result["rows"] if r.get("ceiling")), None)
    return {
        "histavg": rows[REFERENCE]["hit_rate"] if REFERENCE in rows else {},
        "ceiling": some["ceiling"] if some else {},
        "oracle": some["oracle"] if some else {},
    }


def table_cells(result: dict[str, Any]) -> list[list[str]]:
    ref = reference_rows(result)
    out = []
    for r in result["rows"]:
        name = r["model"] + (" (baseline)" if r["model"] in BASELINES else "")
        if r["model"] == "auto":
            name = "**auto** (nested)"
        hr = r["hit_rate"]
        out.append([
            name, _pct(hr["0.01"]), _pct(hr["0.05"]), _pct(hr["0.1"]),
            _num(r["pai"]["0.01"], 1), _num(r["pai"]["0.05"], 1), _num(r["pei"]["0.01"]), _num(r["pei"]["0.05"]),
            _vs(hr["0.01"], ref["histavg"].get("0.01")), _vs(hr["0.05"], ref["histavg"].get("0.05")),
            _pct(_ratio(hr["0.01"], ref["ceiling"].get("0.01"))), _pct(_ratio(hr["0.05"], ref["ceiling"].get("0.05"))),
            fmt_seconds(r["seconds"]),
        ])  # fmt: skip
    for label, key in (("*noise ceiling* (clairvoyant stationary)", "ceiling"), ("*oracle* (the window's own counts)", "oracle")):
        hr = ref[key]
        if hr:
            out.append([label, _pct(hr.get("0.01")), _pct(hr.get("0.05")), _pct(hr.get("0.1")), *(["–"] * 4),
                        _vs(hr.get("0.01"), ref["histavg"].get("0.01")), _vs(hr.get("0.05"), ref["histavg"].get("0.05")),
                        "–", "–", "–"])  # fmt: skip
    return out


def ratio_text(result: dict[str, Any]) -> list[str]:
    out = []
    for cov, r in result["ratios"].items():
        cov_text = f"{float(cov):.0%}"
        interval = f", 95% interval {r['lo']:.2f}–{r['hi']:.2f}" if r["lo"] is not None else ""
        verdict = "parity" if abs(r["ratio"] - 1) <= 0.02 else ("above 1" if r["ratio"] > 1 else "below 1")
        out.append(
            f"HR {cov_text}: auto {r['auto']:.1%} / {r['baseline']} {r['baseline_hr']:.1%} = "
            f"**{r['ratio']:.2f}x** ({verdict}{interval}; auto higher at {r['wins']} of {r['origins']} "
            f"origins, lower at {r['losses']})"
        )
    return out


def picks_text(result: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for pick in result["picks"]:
        counts[pick["chosen"]] = counts.get(pick["chosen"], 0) + 1
    return ", ".join(f"{m} {n}x" for m, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def rich_table(result: dict[str, Any]) -> Table:
    d = result["data"]
    table = Table(title=f"{result['title']}: {d['target_events']:,} events, {d['units']:,} units, "
                        f"{len(result['origins'])} origins, horizon {result['horizon']}")  # fmt: skip
    for header, right in zip(HEADERS, RIGHT, strict=True):
        table.add_column(header, justify="right" if right else "left")
    for row in table_cells(result):
        table.add_row(*[c.replace("**", "") for c in row])
    return table


def best_text(result: dict[str, Any]) -> str:
    rows = [r for r in result["rows"] if r["model"] != "auto"]
    parts = []
    for cov in ("0.01", "0.05"):
        finite = [r for r in rows if np.isfinite(r["hit_rate"][cov])]
        if finite:
            top = max(finite, key=lambda r: r["hit_rate"][cov])
            parts.append(f"{float(cov):.0%}: {top['model']} ({top['hit_rate'][cov]:.1%})")
    return "best single model at " + ", at ".join(parts)


def dataset_markdown(result: dict[str, Any]) -> str:
    d = result["data"]
    n_all = len(result["origins"]) + len(result["extra_origins"])
    lines = [
        f"### {result['title']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}; this input took {result['seconds'] / 60:.1f} min, with the 1-minute load "
        f"average at {result['load'][0]:.1f} when it started and {result['load'][1]:.1f} when it ended.",
        "",
        f"- Data: {result['about']}. Store: " + "; ".join(result["store_notes"]) + ".",
        f"- Target: {d['target']}, source `{d['source']}` ({d['resolution']} resolution): "
        f"{d['target_events']:,} located events, {d['in_area']:,} inside the study area, {d['months']} months "
        f"{d['first']}..{d['last']} (the store holds {d['store_events']:,} events in all).",
        f"- Units: {d['units']:,} grid cells of {result['cell']:g} m over {d['area_km2']:g} km² "
        f"({d['study_area']}); 1% of the area is {d['units'] / 100:,.1f} cells' worth.",
        f"- Origins: {len(result['origins'])}, {result['origins'][0]}..{result['origins'][-1]}, horizon "
        f"{result['horizon']}; auto's inner backtests add {len(result['extra_origins'])} earlier origins.",
        *[f"- {note}" for note in result["notes"]],
        "",
        markdown_table(HEADERS, table_cells(result), RIGHT),
        "",
        "auto against the historical average (the reference baseline):",
        "",
        *[f"- {t}" for t in ratio_text(result)],
        f"- auto chose: {picks_text(result)}; {best_text(result)}.",
        f"- Wall time, each model backtested on its own at all {n_all} origins with n_jobs={result['jobs']}: "
        + ", ".join(f"{m} {fmt_seconds(w)} s" for m, w in result.get("walls", {}).items())
        + ".",
    ]
    lines += [f"- Checked against `auto.choose` itself: {c}." for c in result["checks"]]
    lines += [f"- **{m} did not run**: {e}" for m, e in result["errors"].items()]
    probes = result.get("probes", {})
    for name in result.get("skipped", []):
        if name not in probes:
            lines.append(
                f"- **{name} was left out** of this input's backtest (so auto chose among the others)."
            )
    for name, t in probes.items():
        lines.append(
            f"- **{name} was left out** of this input's backtest for time (so auto chose among the others): "
            f"one fit and forecast at the last origin takes {t['wall']:.0f} s ({t['cpu']:.0f} s CPU, one "
            f"thread), against a median of {max(r['seconds'] for r in result['rows'] if r['model'] != 'auto'):.0f} s "
            "for the slowest model that ran."
        )
    return "\n".join(lines)


def aims_markdown(result: dict[str, Any]) -> list[str]:
    out = []
    n = len(result["origins"])
    wall = result["joint_wall"]
    verdict = "met" if wall < AIM_BACKTEST_S else "not met"
    caveat = "" if n == AIM_BACKTEST_ORIGINS else f" (this run used {n} origins, not {AIM_BACKTEST_ORIGINS})"
    if result.get("skipped") or result["errors"]:
        left = sorted({*result.get("skipped", []), *result["errors"]})
        caveat += f" ({', '.join(left)} left out)"
    out.append(
        f"- Aim: a {AIM_BACKTEST_ORIGINS}-origin backtest of every model on about 1M events in under "
        f"{AIM_BACKTEST_S:.0f} s with n_jobs={result['jobs']}. **{verdict}**: {wall:.0f} s for "
        f"{len(result['walls'])} models{caveat} on {result['data']['target_events']:,} events, "
        f"{wall / AIM_BACKTEST_S:.1f}x the limit."
    )
    for e in result.get("earlier_joint", []):
        out.append(
            f"  Earlier run ({e['date']}, `{e['command']}`, {e['models']} models): {e['wall']:.0f} s, with the "
            f"1-minute load average at {e['load'][0]:.1f} when that input started and {e['load'][1]:.1f} when "
            "it ended."
        )
    forms = {"month": "monthly form, the police.uk files (as in the backtest)",
             "timestamp": "continuous-time form, the same city's timestamped force records"}  # fmt: skip
    for etas in result.get("etas", []):
        form = forms[etas["resolution"]]
        if "error" in etas:
            out.append(f"- Aim: one ETAS fit on about 1M events in under {AIM_ETAS_S:.0f} s, {form}: "
                       f"**not measured**, the fit failed on {etas['events']:,} events: {etas['error']}.")  # fmt: skip
            continue
        verdict = "met" if etas["fit_seconds"] < AIM_ETAS_S else "not met"
        fitted = etas["fitted"]
        out.append(
            f"- Aim: one ETAS fit on about 1M events in under {AIM_ETAS_S:.0f} s, {form}. **{verdict}**: "
            f"{etas['fit_seconds']:.1f} s on {etas['events']:,} events, one process"
            + (
                f" ({fitted['n_iter_']} EM iterations, converged: {fitted.get('converged_')})"
                if "n_iter_" in fitted
                else ""
            )
            + "."
        )
    return out


def reading(results: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for r in results:
        bits = [f"{float(c):.0%} {v['ratio']:.2f}x" for c, v in r["ratios"].items()]
        beat = [v["ratio"] > 1.02 for v in r["ratios"].values()]
        level = [abs(v["ratio"] - 1) <= 0.02 for v in r["ratios"].values()]
        if level and all(level):
            verdict = "is at parity with"
        else:
            verdict = "beats" if beat and all(beat) else ("mixed against" if any(beat) else "does not beat")
        lo = [v["lo"] for v in r["ratios"].values() if v["lo"] is not None]
        hi = [v["hi"] for v in r["ratios"].values() if v["hi"] is not None]
        sure = ""
        if lo and hi:
            if all(x > 1 for x in lo):
                sure = "; the intervals exclude parity"
            elif all(x < 1 for x in hi):
                sure = "; the intervals exclude parity, on the wrong side"
            else:
                sure = "; the intervals include parity"
        ref = reference_rows(r)
        auto = next((row["hit_rate"] for row in r["rows"] if row["model"] == "auto"), {})
        ceil = ", ".join(f"{float(c):.0%} {_pct(_ratio(auto.get(c), ref['ceiling'].get(c)))}"
                         for c in ("0.01", "0.05") if ref["ceiling"])  # fmt: skip
        out.append(
            f"- {r['title']}: auto {verdict} the historical average ({', '.join(bits)}){sure}; {best_text(r)}"
            + (f"; auto reaches {ceil} of the noise ceiling" if ceil else "") + "."
        )
    return out


def docs_body(results: Sequence[dict[str, Any]]) -> str:
    parts = [
        "Each input below names the command that produced its figures and when; rerunning some inputs "
        "(`--only`) replaces only theirs. The machine is shared with other work, so times are noisy: each "
        "input gives the load average it ran under.",
        "",
        "Machine:",
        "",
        machine_markdown(("numpy", "scipy", "scikit-learn", "duckdb")),
        "",
        "Method:",
        "",
        "- Each input is loaded once into its own workspace store under `bench/.data/` (the normal "
        "`ingest` and `areas` paths), then read with `load_history` and `load_units` as `safestreets "
        "forecast` reads it.",
        "- Every registered model is backtested with `evaluate.backtest.backtest` at rolling origins (one "
        "backtest per model, so a model that fails costs only its own figures): fitted "
        "on the events before the origin, scored on the next window. Figures are city-wide means over the "
        "origins (as `summarise` gives them; windows without events are left out); HR is the share of the "
        "window's events in the top-ranked cells covering 1%, 5% or 10% of the area, PAI is HR over the "
        "area share, PEI is HR over the best HR possible at that coverage.",
        f"- auto is judged by a nested backtest: at each origin it picks the model `auto.choose` would pick "
        f"(highest mean HR at {' and '.join(f'{c:.0%}' for c in AUTO_COVERAGES)} over the {AUTO_ORIGINS} "
        "origins before it, computed on the data before the origin), and scores what that model forecast. "
        "This is what backtesting `safestreets.evaluate.auto.Auto` gives (it calls `choose` at each fit), "
        "computed without refitting: a model fitted at an inner origin sees the same events whether the "
        "history was cut at the outer origin or not, so the inner scores are the outer backtest's own. "
        "`auto.choose` itself was run at the last origin of each input to check the pick.",
        "- Times: fit+predict per origin, median over the origins, measured inside the backtest's worker "
        f"processes (n_jobs=2 on 2 cores; {threads_text()}). Forecasts are shared within a backtest "
        "(`safestreets.forecast.shared`), so a task's time is what it computed itself: the ensemble's "
        "backtest, run alone, fits each member once per origin (and at the periods it replays before the "
        "first), and its median is mostly one origin's worth of member fits. For auto it is the sum over "
        "its inner backtest (every model at every inner origin) plus the chosen model's fit and forecast: "
        "what `auto` costs with n_jobs=1.",
        "- Every ratio is quoted against the historical average (`histavg`: each cell's mean count per period "
        "over a window of 6 to 36 months or all the data, chosen by an inner backtest on the data before the "
        "origin), the honest baseline: a plain long-run count. Within 2% either side a ratio is reported as "
        "parity. `last-period` (last period's count, formerly `naive`) is kept as a weaker baseline. auto / "
        "histavg: auto's mean HR over histavg's at that coverage; the 95% interval resamples origins (2,000 "
        "times).",
        "- The noise ceiling: at each origin, the HR of a clairvoyant stationary forecast (each cell's count "
        "over all the data but the scored window, so it has seen the future but not that window's noise), "
        "mean over the origins; 'of ceiling' is a model's HR over it, what is achievable here (a model can "
        "pass 100% where the data drift). The oracle ranks by the window's own counts (PEI's denominator). "
        "Where the span is long and crime drifts (Met burglary: twelve years), the whole-span mean is itself "
        "blurred by the drift and sits below the historical average's chosen window, so shares above 100% "
        "there say the data are not stationary, not that a model passed what is achievable.",
        "",
    ]
    for r in results:
        parts += [dataset_markdown(r), ""]
        if r["key"] == "d":
            parts += ["Timing aims (d):", "", *aims_markdown(r), ""]
    parts += ["Reading:", "", *reading(results)]
    return "\n".join(parts)


# --- main ---------------------------------------------------------------------------------------------

KEYS = ("a", "b", "c", "d")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 origins per input, 500 m cells for (a), a 150k-event city, no auto.choose check: "
                             "a smoke run (writes no docs)")  # fmt: skip
    parser.add_argument("--only", default=",".join(KEYS), help="which inputs, e.g. a,b (default a,b,c,d)")
    parser.add_argument("--origins", type=int, default=None,
                        help="outer origins per input (default: a 24, b, c and d 12; 2 with --quick)")  # fmt: skip
    parser.add_argument(
        "--models", default="", help="only these registry models, e.g. histavg,kde (default all)"
    )
    parser.add_argument("--skip", default="", help="registry models to leave out, e.g. ensemble")
    parser.add_argument("--jobs", type=int, default=min(2, usable_cores()), help="backtest worker processes")
    parser.add_argument("--check-auto", type=int, default=None,
                        help="run auto.choose itself at the last N origins to check the nested picks "
                             "(default 1; 0 with --quick)")  # fmt: skip
    parser.add_argument(
        "--probe-skipped",
        action="store_true",
        help="time one fit and forecast of each --skip model at the last origin",
    )
    parser.add_argument("--rebuild", action="store_true", help="load the stores again from the files")
    parser.add_argument(
        "--docs-only",
        action="store_true",
        help="run nothing: rewrite the docs section from the figures kept in bench/.data/",
    )
    parser.add_argument("--single", action="store_true",
                        help="time one forecast --model auto, quiet and beside a busy process, against one "
                             "backtest origin of all its candidates (replaces '## One forecast')")  # fmt: skip
    parser.add_argument("--single-inputs", default="a,c-vancouver",
                        help="--single: the inputs (a, b, b-100m, c-vancouver, c-cincinnati, d)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="--single: timed runs per figure (medians)")
    parser.add_argument("--src", default=str(ROOT / "src"),
                        help="--single: the source tree to time (e.g. an export of an earlier commit)")  # fmt: skip
    parser.add_argument("--label", default="after", help="--single: the name its figures are kept under")
    parser.add_argument("--note", default="", help="--single: a line for the docs about this label's source")
    parser.add_argument("--timeout", type=float, default=600.0, help="--single: seconds before a run is cut")
    parser.add_argument("--write-docs", action=argparse.BooleanOptionalAction, default=None,
                        help=f"replace the '## {TITLE}' section of docs/benchmarks.md (default: unless --quick)")  # fmt: skip
    args = parser.parse_args(argv)
    args.only = [k.strip() for k in args.only.split(",") if k.strip()]
    if unknown := set(args.only) - set(KEYS):
        parser.error(f"unknown input(s): {', '.join(sorted(unknown))} (choose from {', '.join(KEYS)})")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()] or list(MODELS)
    args.skip = [m.strip() for m in args.skip.split(",") if m.strip()]
    if unknown := set(args.models + args.skip) - set(MODELS):
        parser.error(f"unknown model(s): {', '.join(sorted(unknown))} (choose from {', '.join(MODELS)})")
    if args.quick and args.origins is None:
        args.origins = 2
    if args.check_auto is None:
        args.check_auto = 0 if args.quick else 1
    if args.origins is not None and args.origins < 1:
        parser.error("--origins must be at least 1")
    if args.write_docs is None:
        args.write_docs = not args.quick
    return args


def single(args: argparse.Namespace) -> None:
    """``--single``: one auto forecast against one backtest origin (bench/_single.py)."""
    import _single

    wanted = [k.strip() for k in args.single_inputs.split(",") if k.strip()]
    known = {d.key: d for d in datasets(KEYS, quick=False)}
    if unknown := set(wanted) - set(known):
        raise SystemExit(f"unknown input(s) {', '.join(sorted(unknown))}: choose from {', '.join(known)}")
    if not args.docs_only:
        _single.run([known[k] for k in wanted], store_for, args, console)
    if args.write_docs or args.docs_only:
        console.print(f"wrote the '## {_single.TITLE}' section of {_single.write_docs()}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # a long run logged to a file shows its progress
    if args.single:
        single(args)
        return
    started = time.perf_counter()
    results = []
    for ds in [] if args.docs_only else datasets(args.only, args.quick):
        console.rule(ds.title)
        result = run_dataset(ds, args)
        console.print(rich_table(result))
        for line in ratio_text(result):
            console.print("  auto / histavg, " + line.replace("**", ""))
        console.print(f"  auto chose: {picks_text(result)}")
        if ds.key == "d":
            for line in aims_markdown(result):
                console.print("  " + line.replace("**", ""))
        console.print(f"  {result['title']} took {result['seconds'] / 60:.1f} min")
        results.append(result)
        if not args.quick:
            RESULTS.mkdir(parents=True, exist_ok=True)
            path = RESULTS / f"{ds.key}.json"
            if "joint_wall" in result and path.exists():
                # The machine is shared: earlier timings of the aim stay on record beside this one.
                before = json.loads(path.read_text())
                if "joint_wall" in before:
                    earlier = [*before.get("earlier_joint", []), {
                        "date": before["date"], "command": before["command"], "wall": before["joint_wall"],
                        "load": before["load"], "models": len(before["walls"]),
                    }]  # fmt: skip
                    result["earlier_joint"] = earlier[-3:]
            path.write_text(json.dumps(result, indent=1, default=str))
    wall = time.perf_counter() - started
    if args.write_docs or args.docs_only:
        # Inputs not run this time keep their last full-run figures, each saying when it ran.
        current = {r["key"]: r for r in results}
        shown = []
        for key in (d.key for d in datasets(KEYS, quick=False)):
            if key in current:
                shown.append(current[key])
            elif (RESULTS / f"{key}.json").exists():
                shown.append(json.loads((RESULTS / f"{key}.json").read_text()))
        body = docs_body(shown)
        path = write_section(TITLE, body)
        console.print(f"wrote the '## {TITLE}' section of {path}")
    console.print(f"whole run: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
