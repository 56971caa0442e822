"""The one object of the Python API: a workspace, with a method per job.

The CLI builds one and calls one method per command; the web app does the same per request; a notebook
uses it directly::

    from safestreets import Workspace

    ws = Workspace.init("my-workspace")
    ws.ingest("data/police_uk/city_of_london", months="2023-01:2023-06")
    ws.forecast(target="violence", horizon="1m").to_pandas()

Arguments take the forms users type (``"2023-01:2023-06"``, ``"1m"``, ``"violence"``); results are typed
objects (:mod:`safestreets.api.results`) with ``to_arrow()``, ``to_pandas()`` and ``to_geopandas()``.

Why one module of some 600 lines: it is the API's index, one short method per job that delegates to the
module doing the work (``api/*.py``); the larger groups (``ws.anpr``) already live in their own object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from safestreets import config
from safestreets.api import data, deploy, forecasting
from safestreets.api.results import (
    BacktestReport,
    BriefResult,
    ExportResult,
    ForecastResult,
    HotspotsResult,
    HubsResult,
    IngestReport,
    Listing,
    LoadReport,
    PlanResult,
    StatusReport,
)
from safestreets.errors import WorkspaceError
from safestreets.store import get_setting, open_store, set_setting

Progress = Callable[[str, int, int], None]
Step = Callable[[str], None]


class Workspace:
    """A workspace folder: its DuckDB store, its settings and its outputs.

    ``Workspace(path)`` opens an existing workspace (``path`` defaults to ``SAFESTREETS_WORKSPACE``, then
    ``./safestreets-workspace``); ``create=True`` or :meth:`init` makes one. The store connection opens
    on first use and closes with :meth:`close` or at the end of a ``with`` block.
    """

    def __init__(
        self, path: str | Path | None = None, *, create: bool = False, read_only: bool = False
    ) -> None:
        self.paths = path if isinstance(path, config.Workspace) else config.resolve_workspace(path)
        self.read_only = read_only
        if not self.paths.db_path.exists() and not create:
            raise WorkspaceError(
                f"no workspace at {self.paths.root}: run 'safestreets init' there, or name one with "
                f"--workspace (or {config.ENV_VAR})"
            )
        self._create = create
        self._con: duckdb.DuckDBPyConnection | None = None
        self._db: Any = None
        #: For a :meth:`snapshot`: which snapshot of the store it reads (changes when the store does).
        self.snapshot_id: str | None = None
        self._view: Any = None

    @classmethod
    def snapshot(cls, path: str | Path | config.Workspace | None = None) -> Workspace:
        """The workspace as it was at its newest snapshot: read-only, and neither waiting for nor
        blocking a command writing the store. A server's requests share one connection per process
        (each its own cursor on it, opened on first use); :meth:`close` ends only this view.
        See :mod:`safestreets.store.reader`."""
        found = cls._snapshot(path, wait=True)
        assert found is not None
        return found

    @classmethod
    def snapshot_ready(cls, path: str | Path | config.Workspace | None = None) -> Workspace | None:
        """:meth:`snapshot` if it needs no refreshing now (never waits: safe on an event loop), else
        None: then call :meth:`snapshot` in a thread (it may copy the store)."""
        return cls._snapshot(path, wait=False)

    @classmethod
    def _snapshot(cls, path: str | Path | config.Workspace | None, *, wait: bool) -> Workspace | None:
        from safestreets.store.reader import shared_reader

        ws = cls(path, read_only=True)
        reader = shared_reader(ws.paths)
        view = reader.snapshot() if wait else reader.current()
        if view is None:
            return None
        ws._view, ws.snapshot_id = view, view.ident
        return ws

    @classmethod
    def init(
        cls,
        path: str | Path | None = None,
        *,
        crs: str = config.DEFAULT_CRS,
        timezone: str = "Europe/London",
    ) -> Workspace:
        """Create a workspace (or repair the settings of an existing one): CRS in metres, time zone."""
        config.check_crs(crs)
        config.check_timezone(timezone)
        ws = cls(path, create=True)
        con = open_store(ws.paths, create=True, repair=True)
        try:
            loaded = con.execute("SELECT count(*) FROM batches").fetchall()[0][0]
            if loaded and crs != get_setting(con, "crs"):
                raise WorkspaceError(
                    f"the store already holds data in {get_setting(con, 'crs')}: start a new workspace to use {crs}"
                )
            set_setting(con, "crs", crs)
            set_setting(con, "timezone", timezone)
        finally:
            con.close()
        return ws

    # --- the store ---------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.paths.root

    @property
    def outputs(self) -> Path:
        self.paths.outputs.mkdir(parents=True, exist_ok=True)
        return self.paths.outputs

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The store connection (opened, and migrated, on first use)."""
        if self._con is None:
            if self._view is not None:  # a cursor on the process's snapshot connection
                self._con = self._view.cursor()
            elif self.read_only:  # a snapshot: never waits for, nor blocks, a process writing the store
                from safestreets.store.reader import open_reader

                self._con = open_reader(self.paths)
            else:
                self._con = open_store(self.paths, create=self._create)
        return self._con

    @property
    def crs(self) -> str:
        return get_setting(self.con, "crs")

    @property
    def timezone(self) -> str:
        return get_setting(self.con, "timezone")

    @property
    def db(self) -> Any:
        """The operational database (accounts, audit trail, registers): ``SAFESTREETS_DATABASE_URL`` or the
        workspace's SQLite file, migrated on first use."""
        if self._db is None:
            from safestreets.api.accounts import open_database

            self._db = open_database(self.root)
        return self._db

    def close(self) -> None:
        if self._con is not None:
            self._con.close()  # for a snapshot, only this view's cursor: the connection stays shared
            self._con = None
        if self._db is not None:
            self._db.dispose()
            self._db = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # --- data --------------------------------------------------------------------------------------

    def ingest(
        self,
        path: str | Path,
        *,
        kind: str | None = None,
        mapping: str | Path | None = None,
        forces: Iterable[str] | None = None,
        months: str | None = None,
        skip_bad_rows: bool = False,
        assume_force: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Load police.uk files (a file, a folder, the bulk archive zip) or a force's records
        (``mapping``); each file all or nothing, re-runs add nothing twice."""
        return data.ingest(self.con, path, kind=kind, mapping=mapping, forces=forces, months=months,
                           skip_bad_rows=skip_bad_rows, assume_force=assume_force, progress=progress)  # fmt: skip

    def fetch_crimes(self, *, area: str, months: str, force: str, base_url: str | None = None,
                     max_attempts: int = 6, progress: Progress | None = None) -> IngestReport:  # fmt: skip
        """Street-level crimes for an area from the data.police.uk API, through the files' validation."""
        return data.fetch_crimes(self.con, area=area, months=months, force=force, base_url=base_url,
                                 max_attempts=max_attempts, progress=progress)  # fmt: skip

    def fetch_stops(self, *, months: str, force: str, base_url: str | None = None, max_attempts: int = 6,
                    progress: Progress | None = None) -> IngestReport:  # fmt: skip
        """A force's stop and search records from the data.police.uk API."""
        return data.fetch_stops(self.con, months=months, force=force, base_url=base_url,
                                max_attempts=max_attempts, progress=progress)  # fmt: skip

    def fetch_neighbourhoods(self, *, force: str, base_url: str | None = None, max_attempts: int = 6,
                             progress: Progress | None = None) -> LoadReport:  # fmt: skip
        """A force's neighbourhood boundaries from the API, loaded as areas of kind ``neighbourhood``."""
        return data.fetch_neighbourhood_boundaries(self.con, force=force, base_url=base_url,
                                                   max_attempts=max_attempts, progress=progress)  # fmt: skip

    def load_areas(self, path: str | Path, *, kind: str | None = None, code_field: str | None = None,
                   name_field: str | None = None, parent_field: str | None = None,
                   population_field: str | None = None, layer: str | None = None) -> LoadReport:  # fmt: skip
        """Load boundaries (LSOAs, wards, boroughs) or a borough -> BCU lookup CSV."""
        return data.load_areas(self.con, path, kind=kind, code_field=code_field, name_field=name_field,
                               parent_field=parent_field, population_field=population_field, layer=layer)  # fmt: skip

    def load_places(
        self, path: str | Path, *, kind: str | None = None, name_field: str | None = None
    ) -> LoadReport:
        """Load places such as stations, night-time economy venues, open spaces."""
        return data.load_places(self.con, path, kind=kind, name_field=name_field)

    def areas(self) -> Listing:
        """Area kinds in the store with their counts."""
        return data.area_kinds(self.con)

    def status(self) -> StatusReport:
        """What the store holds: tables, months, forces, gaps, areas, places, rejected rows."""
        return data.status(self.con, self.paths.db_path)

    def export(self, out: str | Path, *, table: str = "events", fmt: str | None = None, months: str | None = None,
               force: str | None = None, types: Iterable[str] | None = None,
               source: str | None = None) -> ExportResult:  # fmt: skip
        """Write a table for GIS or analysis (.csv, .parquet, .geojson, .gpkg) with provenance."""
        return data.export(self.con, out, table=table, fmt=fmt, months=months, force=force, types=types,
                           source=source)  # fmt: skip

    # --- forecasting -------------------------------------------------------------------------------

    def forecast(self, *, target: str = "violence", horizon: str = "1m", model: str = "auto", units: str = "grid",
                 cell_size: float = 250.0, study_area: str = "auto", rank_by: str = "harm",
                 harm_scheme: str = "cchi", harm_table: str | Path | None = None, source: str | None = None,
                 force: str | None = None, until: str | None = None, include_police_found: bool = False,
                 out: list[Path] | None = None, jobs: int = 2, auto_origins: int = 6,
                 progress: Step | None = None, interval_level: float | None = 0.8) -> ForecastResult:  # fmt: skip
        """Forecast where harm will concentrate next: a stored risk surface, written as GIS files, with
        predictive intervals at ``interval_level`` (None: none)."""
        return forecasting.forecast(
            self.con, self.outputs, target=target, horizon=horizon, model=model, units=units,
            cell_size=cell_size, study_area=study_area, rank_by=rank_by, harm_scheme=harm_scheme,
            harm_table=harm_table, source=source, force=force, until=until,
            include_police_found=include_police_found, out=out, jobs=jobs, auto_origins=auto_origins,
            progress=progress, interval_level=interval_level,
        )  # fmt: skip

    def backtest(self, *, models: str = "all", origins: int = 12, horizon: str = "1m", target: str = "violence",
                 units: str = "grid", cell_size: float = 250.0, study_area: str = "auto", coverages: str = "1,5,10",
                 rank_by: str = "count", source: str | None = None, force: str | None = None,
                 include_police_found: bool = False, out_dir: Path | None = None, jobs: int = 2,
                 progress: Step | None = None, by_shift: bool = False,
                 intervals: bool = False) -> BacktestReport:  # fmt: skip
        """Rolling-origin backtest: hit rate, PAI, PEI, harm captured and stability per model; with
        ``by_shift`` hit rates per shift (timestamped data), with ``intervals`` interval coverage."""
        return forecasting.backtest(
            self.con, self.outputs, models=models, origins=origins, horizon=horizon, target=target,
            units=units, cell_size=cell_size, study_area=study_area, coverages=coverages, rank_by=rank_by,
            source=source, force=force, include_police_found=include_police_found, out_dir=out_dir,
            jobs=jobs, progress=progress, by_shift=by_shift, intervals=intervals,
        )  # fmt: skip

    # --- deployment --------------------------------------------------------------------------------

    def plan(self, *, resources: str | Path | None = None, teams: int = 2, week: str | date | None = None,
             forecast_run: int | None = None, solver: str = "auto", cards: bool = True, seed: int | None = None,
             **rules: Any) -> PlanResult:  # fmt: skip
        """A week of hot spot patrols from a stored forecast. ``rules``: visit_minutes, min_gap,
        patrol_radius, min_bcu_share, cap_share, cap_weeks, effect, decay, gap, time_limit."""
        return deploy.plan(self.con, self.outputs, resources=resources, teams=teams, week=week,
                           forecast_run=forecast_run, solver=solver, cards=cards, seed=seed, **rules)  # fmt: skip

    def hubs(self, *, budget: int = 5, catchment: float = 400.0, kinds: str = "station", sweeps: int = 5,
             incident: str | None = None, when: str | None = None, out: Path | None = None) -> HubsResult:  # fmt: skip
        """Knife arches and drug dogs at hubs, weapons sweeps, and support after a serious incident."""
        return deploy.hubs(self.con, self.outputs, budget=budget, catchment=catchment, kinds=kinds, sweeps=sweeps,
                           incident=incident, when=when, out=out,
                           db=self._registers() if incident is not None else None,
                           limits=self._s60_limits() if incident is not None else None)  # fmt: skip

    def hotspots(self, *, forecast_run: int | None = None, periods: int = 12, top: int = 15,
                 out: list[Path] | None = None, progress: Step | None = None) -> HotspotsResult:  # fmt: skip
        """Emerging, persistent and diminishing hot spots on a stored forecast's units."""
        return deploy.hotspots(self.con, self.outputs, forecast_run=forecast_run, periods=periods, top=top,
                               out=out, progress=progress)  # fmt: skip

    def brief(self, *, week: str | date | None = None, forecast_run: int | None = None, plan_id: int | None = None,
              hubs_budget: int | None = None, pdf: bool = True, out_dir: Path | None = None,
              progress: Step | None = None) -> BriefResult:  # fmt: skip
        """The weekly tactical assessment (HTML and PDF) from what the store holds (the forecast's backtest,
        the hot spots and hub ranking stored for it; what is missing is computed and said so)."""
        from safestreets.api.intel import brief_counts

        return deploy.brief(self.con, self.outputs, week=week, forecast_run=forecast_run, plan_id=plan_id,
                            hubs_budget=hubs_budget, pdf=pdf, out_dir=out_dir, progress=progress,
                            community=brief_counts(self.root), db=self._registers())  # fmt: skip

    @property
    def anpr(self) -> Any:
        """ANPR reads, hotlists, alerts, access and retention (:class:`safestreets.api.anpr.Anpr`)."""
        from safestreets.api.anpr import Anpr

        return Anpr(self)

    # --- community intelligence (staff side) -------------------------------------------------------

    def intel_keygen(self, passphrase: str, *, strength: str = "moderate", actor: str) -> Any:
        """A team key pair for the reporting channel (private half under ``passphrase``)."""
        from safestreets.api import intel

        return intel.keygen(self.db, self.root, passphrase, strength=strength, actor=actor)

    def intel_rotate(self, old_passphrase: str, new_passphrase: str, *, strength: str = "moderate",
                     actor: str) -> Any:  # fmt: skip
        """A new team key, every stored report re-sealed to it (then give the intake the new public key)."""
        from safestreets.api import intel

        return intel.rotate(
            self.db, self.root, old_passphrase, new_passphrase, strength=strength, actor=actor
        )

    def intel_unlock(self, passphrase: str) -> Any:
        """The team private key, for the calls below that decrypt (never stored)."""
        from safestreets.api import intel

        return intel.unlock(self.root, passphrase)

    def intel_reports(self, *, status: str | None = None, actor: str) -> list[dict[str, Any]]:
        """Reports' metadata (never contents), threats to life first."""
        from safestreets.api import intel

        return intel.list_reports(self.db, status=status, actor=actor)

    def intel_show(self, key: Any, report: str, *, actor: str) -> Any:
        """Decrypt one report (audited) with a suggested triage."""
        from safestreets.api import intel

        return intel.show(self.db, key, report, actor=actor)

    def intel_triage(self, key: Any, report: str, *, actor: str, **choices: Any) -> dict[str, Any]:
        """Category, urgency, coarse place (``category``, ``urgency``, ``threat_to_life``, ``area``)."""
        from safestreets.api import intel

        areas = intel.lsoa_areas(self.con, self.crs) if self.paths.db_path.exists() else None
        return intel.triage_report(self.db, key, report, areas=areas, actor=actor, **choices)

    def intel_grade(self, report: str, source_eval: str, intel_assessment: str, handling_code: str,
                    conditions: str | None = None, *, actor: str) -> dict[str, Any]:  # fmt: skip
        """Grade a report with the 3x5x2 system."""
        from safestreets.api import intel

        return intel.grade(
            self.db, report, source_eval, intel_assessment, handling_code, conditions, actor=actor
        )

    def intel_redact(self, key: Any, report: str, *, extra: list[str] | None = None, text: str | None = None,
                     actor: str) -> str:  # fmt: skip
        """Store the text fit to share (identifying details replaced)."""
        from safestreets.api import intel

        return intel.redact(self.db, self.root, key, report, extra=extra, text=text, actor=actor)

    def intel_reply(self, report: str, text: str, *, actor: str) -> None:
        """A question to the reporter, sealed to their codename's key."""
        from safestreets.api import intel

        intel.reply(self.db, report, text, actor=actor)

    def intel_keep(self, report: str, reason: str | None, *, actor: str) -> dict[str, Any]:
        """Keep a report past retention with a recorded reason (``None`` releases it)."""
        from safestreets.api import intel

        return intel.keep(self.db, report, reason, actor=actor)

    def intel_export(self, key: Any, report: str, out: Path | None = None, *, actor: str) -> Path:
        """A graded, redacted report as JSON for a force's intelligence system."""
        from safestreets.api import intel

        return intel.export(
            self.db, key, report, out or self.outputs / "intel" / f"{report}.json", actor=actor
        )

    def intel_purge(self, *, on: date | None = None, dry_run: bool = False, actor: str) -> Any:
        """Delete expired reports (keys first, then rows) and expired replies."""
        from safestreets.api import intel

        return intel.purge(self.db, on=on, dry_run=dry_run, actor=actor)

    def intel_counts(self, *, since: date | None = None, actor: str) -> list[dict[str, Any]]:
        """Reports per area and week (small counts suppressed), never contents."""
        from safestreets.api import intel

        return intel.counts(self.db, since=since, actor=actor)

    def intel_pick_map(self, out: Path, *, kind: str | None = None) -> Any:
        """The outline map (SVG and JSON sidecar) the intake's no-script map pick serves."""
        from safestreets.api import intel

        return intel.pick_map(self.con, self.crs, out, kind=kind)

    # --- accountability: stop and search ----------------------------------------------------------

    def load_population(self, path: str | Path) -> Any:
        """Load a Census 2021 TS021 ethnic group table (by local authority or MSOA), matched to the loaded
        boroughs: the denominators of disproportionality."""
        from safestreets.api import stopsearch

        return stopsearch.load_population(self.con, path)

    def stopsearch_report(self, *, force: str | None = None, months: str | None = None,
                          legislation: str | None = None, basis: str = "self", level: str | None = None,
                          boroughs: list[str] | None = None, out_dir: Path | None = None,
                          write: bool = True) -> Any:  # fmt: skip
        """Stop and search: volumes, positive outcome, linked find and arrest rates with intervals, by
        legislation, object, age, gender, ethnicity, borough, BCU and month, trends, and disproportionality
        against the loaded census populations (``api.stopsearch.StopSearchReport``)."""
        from safestreets.api import stopsearch

        return stopsearch.stopsearch_report(
            self.con, self.outputs if write and not self.read_only else None, force=force, months=months,
            legislation=legislation, basis=basis, level=level, boroughs=boroughs, out_dir=out_dir, write=write,
        )  # fmt: skip

    # --- accountability: operations ---------------------------------------------------------------

    def _s60_limits(self) -> Any:
        """The Section 60 limits configured for this workspace (``safestreets.toml``), else the law's."""
        from safestreets.api.s60 import limits

        return limits(self.root)

    def _registers(self) -> Any:
        """The operational database for reading the registers into a briefing or the incident support, or None
        when it cannot be opened (those outputs then say the registers were not consulted)."""
        from safestreets.db import DatabaseError

        try:
            return self.db
        except DatabaseError:
            return None

    def _actor(self, actor: str | None) -> str:
        from safestreets.api.accounts import cli_actor

        return actor or cli_actor()

    def operation_add(self, *, name: str, start: str | date, end: str | date, areas: list[str], tactics: list[str],
                      plan_id: int | None = None, notes: str = "", actor: str | None = None) -> Any:  # fmt: skip
        """Record an operation: name, dates, areas (BCUs, boroughs or WKT polygons), tactics, the plan it
        followed (``accountability.operations.Operation``)."""
        from safestreets.api import operations

        return operations.add_operation(self.db, self.con, name=name, start=start, end=end, areas=areas,
                                        tactics=tactics, plan_id=plan_id, notes=notes, actor=self._actor(actor))  # fmt: skip

    def operation_edit(self, op: str | int, *, actor: str | None = None, **changes: Any) -> Any:
        """A new version of an operation (earlier versions are kept)."""
        from safestreets.api import operations

        found = operations.operation(self.db, op)
        return operations.edit_operation(self.db, self.con, found.id, actor=self._actor(actor), **changes)

    def operations(self) -> list[Any]:
        from safestreets.api import operations

        return operations.list_operations(self.db)

    def operation(self, op: str | int) -> Any:
        from safestreets.api import operations

        return operations.operation(self.db, op)

    def operation_history(self, op: str | int) -> list[Any]:
        from safestreets.api import operations

        return operations.operation_history(self.db, op)

    def operation_tallies_add(self, op: str | int | None = None, *, rows: list[dict[str, Any]] | None = None,
                              csv: str | Path | None = None, actor: str | None = None, source: str = "api") -> list[Any]:  # fmt: skip
        """Tallies for an operation, typed (``rows``) or from a CSV; all rows checked, all stored or none."""
        from safestreets.api import operations

        return operations.add_tallies(
            self.db, self.con, op, rows=rows, csv=csv, actor=self._actor(actor), source=source
        )

    def operation_tally_correct(
        self, tally_id: int, changes: dict[str, Any], *, actor: str | None = None
    ) -> Any:
        from safestreets.api import operations

        return operations.correct_tally(self.db, tally_id, changes, actor=self._actor(actor))

    def operation_tallies(self, op: str | int, *, history: bool = False) -> list[Any]:
        from safestreets.api import operations

        return operations.tallies(self.db, op, history=history)

    def operation_report(self, op: str | int) -> Any:
        """The results summary: headline, totals, per day, BCU and tactic, and the plan delivered."""
        from safestreets.api import operations

        return operations.operation_report(self.db, self.con, op)

    # --- accountability: Section 60 ---------------------------------------------------------------

    def s60_add(self, *, starts_at: str | Any, ends_at: str | Any, authorised_by: str, rank: str, grounds: str,
                place: str = "", lon: float | None = None, lat: float | None = None, radius_m: float | None = None,
                polygon_wkt: str | None = None, incident: str = "", reference: str = "",
                extensions: list[str] | None = None, flag: bool = False, actor: str | None = None) -> Any:  # fmt: skip
        """Record a Section 60 authorisation, checked against the configured limits: a breach is refused
        (nothing stored), or stored flagged with ``flag=True``."""
        from safestreets.api import s60

        return s60.add_authorisation(
            self.db, self.con, self.root, starts_at=starts_at, ends_at=ends_at, authorised_by=authorised_by,
            rank=rank, grounds=grounds, place=place, lon=lon, lat=lat, radius_m=radius_m, polygon_wkt=polygon_wkt,
            incident=incident, reference=reference, extensions=extensions or (), flag=flag, actor=self._actor(actor),
        )  # fmt: skip

    def s60_extend(
        self, auth_id: int, extension: str, *, flag: bool = False, actor: str | None = None
    ) -> Any:
        """Extend an authorisation: ``UNTIL,RANK[,BY]``."""
        from safestreets.api import s60

        return s60.extend_authorisation(
            self.db, self.root, auth_id, extension, actor=self._actor(actor), flag=flag
        )

    def s60_list(self) -> list[Any]:
        from safestreets.api import s60

        return s60.list_authorisations(self.db)

    def s60_report(self, auth_id: int | None = None) -> list[Any]:
        """Each authorisation with its linked searches: searches, finds, arrests, who was searched."""
        from safestreets.api import s60

        return s60.s60_report(self.db, self.con, auth_id)

    # --- impact: did it work, near repeats, who bore the cost (api/impact.py, api/fairness.py) ----------

    def evaluate_impact(self, *, start: str, end: str, area: Any = None, members: Iterable[str] | None = None,
                        **options: Any) -> Any:  # fmt: skip
        """Effect of an intervention (an area or unit ids, months ``[start, end)``) by every method, with
        the WDQ for its buffer. ``options``: target, units, cell_size, study_area, buffer_m, control, k,
        model, measure, source, force, level, label, save."""
        from safestreets.api import impact

        return impact.evaluate_impact(self.con, start=start, end=end, area=area, members=members, **options)

    def evaluate_operation(self, operation_id: int, **options: Any) -> Any:
        """Effect of a recorded operation (needs the operations register; see api/impact.py)."""
        from safestreets.api import impact

        return impact.evaluate_operation(self, operation_id, **options)

    def near_repeat(self, **options: Any) -> Any:
        """The Knox test on timestamped events and the patrol advice it supports. ``options``: target,
        since, until, source, force, distances, days, permutations, seed, min_ratio, alpha, save."""
        from safestreets.api import impact

        return impact.near_repeat(self.con, **options)

    def near_repeat_advice(self) -> dict[str, Any] | None:
        """The latest stored near-repeat advice (``None`` before any Knox test)."""
        from safestreets.api import impact

        return impact.latest_advice(self.con)

    def fairness(self, **options: Any) -> Any:
        """Fairness audit of a plan or forecast, with stop and search. ``options``: plan_id, forecast_run,
        areas, population, months, coverage, threshold, save. Section 60 hours from the register too."""
        from safestreets.api import fairness

        options.setdefault("db", self._registers())
        return fairness.fairness(self.con, **options)

    def feedback_simulation(self, **options: Any) -> list[dict[str, Any]]:
        """The feedback-loop simulation with reported and with police-found targets."""
        from safestreets.api import fairness

        return fairness.feedback_simulation(**options)

    def audit_record(self, *, out_dir: Path | None = None, **options: Any) -> Any:
        """The ATRS record and DPIA inputs (JSON and Markdown). ``options``: organisation, team,
        contact_email, senior_owner, retention_months, phase, region."""
        from safestreets.api import transparency

        return transparency.write_record(self.con, self.outputs, out_dir=out_dir, **options)

    def impact_results(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Stored evaluations, Knox tables and fairness audits, newest first."""
        from safestreets.store.impact import list_impact

        return list_impact(self.con, kind)

    def impact_result(self, kind: str | None, result_id: int | None = None) -> dict[str, Any] | None:
        """One stored impact result (the latest of its kind without an id)."""
        from safestreets.store.impact import read_impact

        return read_impact(self.con, kind, result_id)
