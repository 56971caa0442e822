"""What the tactics in this package share: places, event sources, time windows, counts near points, the
risk surface they read, provenance and the closing lines of their text.

:mod:`safestreets.plan.hubs`, :mod:`safestreets.plan.sweeps` and :mod:`safestreets.plan.incident` are built
on these.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely
from scipy.spatial import cKDTree

from safestreets import __version__
from safestreets.errors import NoDataError
from safestreets.forecast.data import choose_source
from safestreets.forecast.history import as_time
from safestreets.forecast.store import Surface, latest_run, read_surface
from safestreets.forecast.targets import TARGETS
from safestreets.vocab import NO_FURTHER_ACTION

VIOLENCE_TYPES: tuple[str, ...] = TARGETS["violence"]  # Violence and sexual offences, Robbery
WEAPON_CRIME = "Possession of weapons"
#: Objects of search that make a stop-and-search a search for weapons.
WEAPON_OBJECTS: tuple[str, ...] = ("Offensive weapons", "Firearms")


def footer(notes: list[str], provenance: dict[str, Any]) -> list[str]:
    """The closing lines every tactic's ``lines()`` ends with: its notes, then the data it rests on."""
    return [*(f"  note: {n}" for n in notes), "  data: " + provenance.get("summary", "")]


def combine(components: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of the components scaled to 0..1 by their maximum; all-NaN components drop out."""
    n = len(next(iter(components.values())))
    total = np.zeros(n)
    wsum = 0.0
    for name, values in components.items():
        wk = float(weights.get(name, 0.0))
        v = np.asarray(values, dtype="float64")
        if wk == 0 or not np.isfinite(v).any():
            continue
        top = np.nanmax(v)
        total += wk * (np.nan_to_num(v) / top if top > 0 else np.zeros(n))
        wsum += wk
    return total / wsum if wsum > 0 else total


def ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def load_places(con: duckdb.DuckDBPyConnection, kinds: Sequence[str]) -> dict[str, np.ndarray]:
    """Located places of ``kinds`` as arrays (id, name, kind, x, y, lon, lat), in a stable order."""
    kinds = list(kinds)
    if not kinds:
        data: dict[str, Any] = {}
    else:
        data = con.execute(
            "SELECT place_id AS id, coalesce(name, place_id) AS name, kind, x, y, lon, lat FROM places "
            f"WHERE kind IN ({marks(kinds)}) AND x IS NOT NULL AND y IS NOT NULL ORDER BY kind, name, place_id",
            kinds,
        ).fetchnumpy()
    out = {k: np.asarray(data.get(k, []), dtype=object if k in ("id", "name", "kind") else "float64")
           for k in ("id", "name", "kind", "x", "y", "lon", "lat")}  # fmt: skip
    out["name_sort"] = np.arange(len(out["id"]))
    return out


def place_kinds(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT DISTINCT kind FROM places ORDER BY 1").fetchall()]


def missing_places_note(kinds: Sequence[str], what: str) -> str:
    wanted = " or ".join(repr(k) for k in kinds)
    return (
        f"no places of kind {wanted} are loaded, so there is nothing to rank for {what}: load them with "
        f"'safestreets places load FILE --kind {kinds[0] if kinds else 'KIND'}'"
    )


def pick_source(con: duckdb.DuckDBPyConnection, source: str | None) -> str:
    """The events' source: the one given, else a timestamped one (times give weeks and busiest hours), else
    the published data. Sources overlap (the same crimes), so only one is ever counted."""
    if source is not None:
        return source
    try:
        return choose_source(con, need_timestamps=True)
    except NoDataError:
        return choose_source(con)


def timestamped_source(con: duckdb.DuckDBPyConnection, preferred: str) -> str | None:
    """``preferred`` if its events carry times, else any fully timestamped source, else None."""
    rows = con.execute(
        "SELECT source, bool_and(occurred_at IS NOT NULL) FROM events WHERE x IS NOT NULL GROUP BY source"
    ).fetchall()
    timed = {str(s) for s, ok in rows if ok}
    if preferred in timed:
        return preferred
    return sorted(timed)[0] if timed else None


@dataclass(frozen=True)
class Window:
    """A time window ``[start, end)`` in local wall-clock time; month-only windows hold whole months."""

    start: datetime
    end: datetime
    month_only: bool
    label: str

    @property
    def sql(self) -> str:
        return (
            "coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) >= ? AND "
            "coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) < ?"
        )

    @property
    def params(self) -> list[datetime]:
        return [self.start, self.end]

    def describe(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "month_only": self.month_only,
                "label": self.label}  # fmt: skip

    @property
    def span(self) -> str:
        """The window as first and last month (month-only) or day, e.g. "2023-01 to 2023-12"."""
        if self.month_only:
            return f"{self.start:%Y-%m} to {_month_add(self.end, -1):%Y-%m}"
        return f"{self.start:%Y-%m-%d} to {(self.end - timedelta(seconds=1)):%Y-%m-%d}"


def searches_cover(con: duckdb.DuckDBPyConnection, window: Window) -> bool:
    """Whether any stop-and-search record (of any place or kind) falls in the window. Without one, a count
    of zero searches says nothing about searching, only that no such data is loaded."""
    return bool(
        con.execute(
            f"SELECT EXISTS (SELECT 1 FROM stop_searches WHERE {window.sql})", window.params
        ).fetchall()[0][0]
    )


def no_searches_note(window: Window) -> str:
    return (
        f"no stop-and-search data covers {window.span}: weapon searches are left out, not counted as none "
        "(load the force's stop-and-search files)"
    )


def to_datetime(value: Any) -> datetime:
    return as_time(value).astype(datetime)  # type: ignore[no-any-return]


def _month_add(d: datetime, months: int) -> datetime:
    k = d.year * 12 + d.month - 1 + months
    return datetime(k // 12, k % 12 + 1, 1)


def data_end(con: duckdb.DuckDBPyConnection, source: str) -> tuple[datetime, bool]:
    """The end of a source's data (exclusive) and whether it is month-only."""
    row = con.execute(
        "SELECT max(month), max(occurred_at::TIMESTAMP), bool_or(occurred_at IS NULL) FROM events "
        "WHERE source = ?",
        [source],
    ).fetchall()[0]
    if row[0] is None:
        raise NoDataError(
            f"no events from source {source!r} in the store: check 'safestreets status' for what is loaded"
        )
    month_only = bool(row[2])
    if month_only or row[1] is None:
        return _month_add(datetime(row[0].year, row[0].month, 1), 1), True
    last = row[1]
    return datetime(last.year, last.month, last.day) + timedelta(days=1), False


def _clamped_end(con: duckdb.DuckDBPyConnection, source: str, until: Any) -> tuple[datetime, bool]:
    end, month_only = data_end(con, source)
    if until is not None:
        end = min(end, to_datetime(until))
    if month_only:  # a partial month cannot be cut from month-only data: stop at its start
        end = datetime(end.year, end.month, 1)
    return end, month_only


def recent_window(con: duckdb.DuckDBPyConnection, source: str, until: Any, *, weeks_back: int) -> Window:
    """The last ``weeks_back`` weeks of timestamped data, or the last three months of month-only data."""
    end, month_only = _clamped_end(con, source, until)
    if month_only:
        return months_window(con, source, until, months=3)
    start = end - timedelta(weeks=weeks_back)
    return Window(start, end, False, f"in the {weeks_back} weeks to {(end - timedelta(days=1)):%Y-%m-%d}")


def weeks_window(con: duckdb.DuckDBPyConnection, source: str, until: Any, *, weeks: int) -> Window:
    end, _ = _clamped_end(con, source, until)
    return Window(end - timedelta(weeks=weeks), end, False, f"in the {weeks} weeks to {end:%Y-%m-%d}")


def days_window(con: duckdb.DuckDBPyConnection, source: str, until: Any, *, days: int) -> Window:
    end, _ = _clamped_end(con, source, until)
    return Window(end - timedelta(days=days), end, False,
                  f"in the {days} days to {(end - timedelta(seconds=1)):%Y-%m-%d %H:%M}")  # fmt: skip


def months_window(con: duckdb.DuckDBPyConnection, source: str, until: Any, *, months: int) -> Window:
    end, month_only = _clamped_end(con, source, until)
    if month_only:
        start = _month_add(end, -months)
        last = _month_add(end, -1)
        span = f"{start:%Y-%m}" if months == 1 else f"{start:%Y-%m} to {last:%Y-%m}"
        return Window(start, end, True, f"in the {months} month{'s' if months != 1 else ''} {span}")
    start = end - timedelta(days=round(months * 365.25 / 12))
    return Window(start, end, False, f"in the {months} months to {(end - timedelta(days=1)):%Y-%m-%d}")


def marks(items: Sequence[Any]) -> str:
    return ",".join("?" for _ in items)


def events_filter(source: str, types: Sequence[str], window: Window) -> tuple[str, list[Any]]:
    return (
        f"source = ? AND crime_type IN ({marks(types)}) AND {window.sql}",
        [source, *types, *window.params],
    )


#: A stop-and-search that found something or led somewhere: a linked find, or any outcome but NFA.
HIT_SQL = f"(outcome_linked OR (outcome IS NOT NULL AND outcome <> '{NO_FURTHER_ACTION}'))"


def weapon_search_filter(window: Window, objects: Sequence[str]) -> tuple[str, list[Any]]:
    return f"object_of_search IN ({marks(objects)}) AND {window.sql}", [*objects, *window.params]


def near_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    px: np.ndarray,
    py: np.ndarray,
    radius: float,
    where: str,
    params: list[Any],
    *,
    select: str = "",
    group: str = "",
    aggregate: str = "count(*)",
) -> list[tuple[Any, ...]]:
    """``(point index, *group keys, aggregate)`` over the rows of ``table`` within ``radius`` metres of
    each point (x/y in the workspace CRS), filtered by ``where``. A box join first, then the circle."""
    name = f"_ss_pts_{uuid.uuid4().hex[:8]}"
    pts = pa.table({"i": pa.array(np.arange(len(px)), pa.int64()), "px": pa.array(px, pa.float64()),
                    "py": pa.array(py, pa.float64())})  # fmt: skip
    con.register(name, pts)
    try:
        extra = f", {select}" if select else ""
        keys = f", {group}" if group else ""
        sql = (
            f"WITH r AS (SELECT *{extra} FROM {table} WHERE x IS NOT NULL AND y IS NOT NULL AND ({where})) "
            f"SELECT p.i{keys}, {aggregate} FROM {name} p JOIN r "
            "ON r.x BETWEEN p.px - ? AND p.px + ? AND r.y BETWEEN p.py - ? AND p.py + ? "
            "AND (r.x - p.px) * (r.x - p.px) + (r.y - p.py) * (r.y - p.py) <= ? "
            f"GROUP BY p.i{keys}"
        )
        r = float(radius)
        return con.execute(sql, [*params, r, r, r, r, r * r]).fetchall()
    finally:
        con.unregister(name)


def count_near(
    con: duckdb.DuckDBPyConnection,
    table: str,
    px: np.ndarray,
    py: np.ndarray,
    radius: float,
    where: str,
    params: list[Any],
) -> np.ndarray:
    """How many rows of ``table`` matching ``where`` lie within ``radius`` of each point."""
    out = np.zeros(len(px), dtype="int64")
    if len(px):
        for i, c in near_rows(con, table, px, py, radius, where, params):
            out[int(i)] = int(c)
    return out


@dataclass
class RiskView:
    """What the planning functions need from a risk surface, whether in memory or stored."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    area: np.ndarray
    geometry: np.ndarray | None  # shapely geometries in the workspace CRS
    expected_count: np.ndarray
    expected_harm: np.ndarray
    rank: np.ndarray  # 1 = riskiest, as the surface ranks (density of its rank_by)
    target: str
    meta: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def tree(self) -> shapely.STRtree:
        if "tree" not in self.cache:
            self.cache["tree"] = shapely.STRtree(self.geometry)
        return self.cache["tree"]


def risk_view(con: duckdb.DuckDBPyConnection, surface: Surface | None) -> RiskView | None:
    """A view of ``surface``, or of the latest stored forecast run when it is None (None if there is none)."""
    if surface is not None:
        u = surface.units
        data = surface.meta.get("data", {})
        return RiskView(
            ids=np.asarray(u.ids).astype(str), x=np.asarray(u.x, float), y=np.asarray(u.y, float),
            area=np.asarray(u.area, float), geometry=np.asarray(u.geometry, dtype=object),
            expected_count=np.asarray(surface.expected_count, float),
            expected_harm=np.asarray(surface.expected_harm, float), rank=surface.ranks(),
            target=str(data.get("target", {}).get("name", "violence")),
            # A surface read from the store keeps its run id, so results made from it can name the run.
            meta={"run_id": surface.run_id, "model": surface.meta.get("model"), "window": surface.meta.get("window"),
                  "rank_by": surface.rank_by, "units": u.kind, "data": data},
        )  # fmt: skip
    run_id = latest_run(con)
    if run_id is None:
        return None
    stored = read_surface(con, run_id)
    prov = stored.provenance
    data = prov.get("data", {})
    return RiskView(
        ids=stored.ids.astype(str), x=stored.x, y=stored.y, area=stored.area_m2, geometry=stored.geometry,
        expected_count=stored.expected_count, expected_harm=stored.expected_harm, rank=stored.ranks(),
        target=str(data.get("target", {}).get("name", "violence")),
        meta={"run_id": run_id, "model": prov.get("model"), "window": [str(w) for w in stored.window],
              "rank_by": prov.get("rank_by"), "units": prov.get("units", {}).get("kind"), "data": data},
    )  # fmt: skip


def circle_overlap(
    view: RiskView, px: np.ndarray, py: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point index, unit index, share of the unit's area inside the circle) for every overlapping pair.

    Area-weighted where the units have geometry; otherwise a unit counts whole when its point is inside.
    """
    px = np.asarray(px, float)
    py = np.asarray(py, float)
    if not len(px) or not len(view):
        empty = np.array([], dtype="int64")
        return empty, empty, np.array([], dtype="float64")
    if view.geometry is not None:
        circles = shapely.buffer(shapely.points(px, py), radius, quad_segs=16)
        pi, ui = view.tree().query(circles, predicate="intersects")
        unit_area = shapely.area(view.geometry[ui])
        inside = shapely.area(shapely.intersection(view.geometry[ui], circles[pi]))
        frac = np.divide(inside, unit_area, out=np.zeros(len(ui)), where=unit_area > 0)
        return pi.astype("int64"), ui.astype("int64"), np.clip(frac, 0.0, 1.0)
    tree = cKDTree(np.column_stack([view.x, view.y]))
    hits = tree.query_ball_point(np.column_stack([px, py]), radius)
    pi = np.concatenate([np.full(len(h), i, dtype="int64") for i, h in enumerate(hits)])
    ui = np.concatenate([np.asarray(h, dtype="int64") for h in hits])
    return pi, ui, np.ones(len(ui))


def units_within(view: RiskView, x: float, y: float, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of units within ``radius`` of a point (any part, where there is geometry) and their
    centre distances."""
    if view.geometry is not None:
        idx = np.sort(view.tree().query(shapely.Point(x, y), predicate="dwithin", distance=radius))
    else:
        idx = np.flatnonzero(np.hypot(view.x - x, view.y - y) <= radius)
    return idx.astype("int64"), np.hypot(view.x[idx] - x, view.y[idx] - y)


def base_provenance(
    con: duckdb.DuckDBPyConnection, source: str, view: RiskView | None, windows: Mapping[str, Window]
) -> dict[str, Any]:
    """What made a result: the events' source and months, the windows, the forecast run, the version."""
    row = con.execute(
        "SELECT strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m'), count(*) FROM events "
        "WHERE source = ?",
        [source],
    ).fetchall()[0]
    forecast = None
    if view is not None:
        forecast = {k: view.meta.get(k) for k in ("run_id", "model", "window", "rank_by", "units")}
        forecast["target"] = view.target
    summary = f"{source} events {row[0]}..{row[1]}"
    if forecast is not None:
        run = f"run {forecast['run_id']}, " if forecast["run_id"] is not None else ""
        window = (forecast["window"] or ["?"])[0]
        summary += (
            f"; forecast {run}{forecast['model']}, {view.target if view else ''} from {str(window)[:10]}"
        )
    return {
        "source": source, "data_months": [row[0], row[1]], "events": int(row[2]),
        "windows": {k: w.describe() for k, w in windows.items()}, "forecast": forecast,
        "made_at": datetime.now().isoformat(timespec="seconds"), "software": f"safestreets {__version__}",
        "summary": summary,
    }  # fmt: skip


def with_metadata(table: pa.Table, params: Mapping[str, Any], provenance: Mapping[str, Any]) -> pa.Table:
    meta = {b"params": json.dumps(params, default=str).encode(),
            b"provenance": json.dumps(provenance, default=str).encode()}  # fmt: skip
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
