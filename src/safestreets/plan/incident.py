"""Decision support after a serious incident: the risk around the scene and what past Section 60
searches nearby achieved.

``incident_context`` answers three questions an inspector weighing a Section 60 authorisation asks:

1. How risky is the area around the point? The forecast units within ``radius_m`` with their expected
   harm and city-wide rank, and the forecast harm inside the circle.
2. What has happened there lately? Violence and robbery within ``radius_m`` in the last 7 and 28 days
   (timestamped records) or the last 1 and 3 months (month-only data), up to the incident.
3. What did past Section 60 searches nearby achieve? police.uk files carry no authorisation id, so searches
   under section 60 within ``s60_radius_m`` in the last ``years_back`` years are grouped into
   authorisation-like *episodes*: same force, and each search within ``episode_gap_hours`` (48 h, the
   legal maximum of one authorisation) of the previous one. Per episode: start, end, searches, arrests,
   linked finds, positive outcomes, weapon finds and the weapon find rate; then totals, set against the
   ~1% weapon find rate the College of Policing reports for Section 60.

Everything is aggregated: no row describes a person or a single search. Every output carries
:data:`DECISION_SUPPORT` and the legal limits from :class:`Section60Limits`: this never authorises anything.

The place is checked before anything is counted: a point more than :data:`PLACE_MARGIN_M` outside the
loaded areas and data is refused (saying so when it looks like latitude and longitude swapped), since
counts around it would be zeros that mean nothing. :func:`parse_place` reads a place as typed (``lat,lon``
or ``x,y`` in metres). Where no stop-and-search data covers the years searched, the output says so rather
than reporting zero searches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import ParameterError
from safestreets.forecast.store import Surface
from safestreets.geo.project import WGS84, to_crs
from safestreets.plan.common import (
    VIOLENCE_TYPES,
    Window,
    base_provenance,
    circle_overlap,
    count_near,
    data_end,
    footer,
    ordinal,
    pick_source,
    risk_view,
    timestamped_source,
    to_datetime,
    units_within,
    with_metadata,
)
from safestreets.store import get_setting
from safestreets.vocab import NO_FURTHER_ACTION

DECISION_SUPPORT = (
    "Decision support only: this summarises recorded data to inform an officer's judgement. It is never an "
    "automatic authorisation of Section 60 or any other power; the authorising officer must hold a reasonable "
    "belief on the facts, record it and set the locality and period."
)
#: Weapons found in Section 60 searches, College of Policing (see docs/tactics.md).
COLLEGE_OF_POLICING_S60_FIND_RATE = 0.01
#: police.uk legislation text for Section 60 searches ("(section 60)" so that 60AA is not matched).
S60_PATTERN = "%(section 60)%"
#: Objects of search that make a linked find a weapon find (Section 60 searches are for weapons).
S60_WEAPON_OBJECTS: tuple[str, ...] = ("Offensive weapons", "Firearms", "Anything to threaten or harm anyone")
#: How far outside the loaded areas and data a place may lie (a scene just over the boundary, a rounded
#: coordinate) before it is refused as a mistake.
PLACE_MARGIN_M = 5000.0


@dataclass(frozen=True)
class Place:
    """A point in the workspace CRS (``x``, ``y``, metres) and in WGS84 (``lon``, ``lat``)."""

    x: float
    y: float
    lon: float
    lat: float


def parse_place(text: str, con: duckdb.DuckDBPyConnection) -> Place:
    """A place as typed: ``"lat,lon"`` in degrees (both within range) or ``"x,y"`` in metres of the
    workspace CRS, checked against the loaded areas and data as :func:`locate` does."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise ParameterError(
            f"a place is 'lat,lon' in degrees or 'x,y' in metres of the workspace CRS, not {text!r}"
        ) from None
    if abs(a) <= 90 and abs(b) <= 180:
        return locate(con, lat=a, lon=b, typed=text)
    return locate(con, x=a, y=b, typed=text)


def data_extent(con: duckdb.DuckDBPyConnection) -> tuple[float, float, float, float] | None:
    """The box (workspace CRS) around the loaded areas, located events and stop-and-search records; None
    when nothing located is loaded."""
    row = con.execute(
        "SELECT min(a), min(b), max(c), max(d) FROM ("
        "SELECT min(xmin) AS a, min(ymin) AS b, max(xmax) AS c, max(ymax) AS d FROM areas "
        "WHERE geometry IS NOT NULL "
        "UNION ALL SELECT min(x), min(y), max(x), max(y) FROM events "
        "UNION ALL SELECT min(x), min(y), max(x), max(y) FROM stop_searches)"
    ).fetchall()[0]
    if any(v is None for v in row):
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def _metres_outside(extent: tuple[float, float, float, float], x: float, y: float) -> float:
    """Distance from the box (0 inside; infinite for a point that does not project)."""
    if not (np.isfinite(x) and np.isfinite(y)):
        return float("inf")
    dx = max(extent[0] - x, 0.0, x - extent[2])
    dy = max(extent[1] - y, 0.0, y - extent[3])
    return float(np.hypot(dx, dy))


def locate(
    con: duckdb.DuckDBPyConnection,
    *,
    x: float | None = None,
    y: float | None = None,
    lon: float | None = None,
    lat: float | None = None,
    typed: str | None = None,
) -> Place:
    """The place given as ``x, y`` (workspace CRS) or ``lon, lat``, in both systems.

    Raises :class:`ParameterError` for a place more than :data:`PLACE_MARGIN_M` outside the loaded areas
    and data (nothing around it could be counted), saying so when the coordinates swapped would lie inside.
    ``typed`` is the text the user typed, quoted back in the message."""
    crs = get_setting(con, "crs")
    if x is not None and y is not None:
        place = _project(crs, x=float(x), y=float(y))
        swapped = _project(crs, x=float(y), y=float(x))
        what, fix = f"x {x:,.0f}, y {y:,.0f}", "x and y swapped (easting first)"
    elif lon is not None and lat is not None:
        place = _project(crs, lon=float(lon), lat=float(lat))
        swapped = _project(crs, lon=float(lat), lat=float(lon)) if abs(lon) <= 90 else None
        what, fix = f"latitude {lat:g}, longitude {lon:g}", "longitude and latitude swapped (latitude first)"
    else:
        raise ParameterError("give the place as x and y (workspace CRS) or as lon and lat")
    extent = data_extent(con)
    if extent is None:
        return place  # nothing loaded to check against
    off = _metres_outside(extent, place.x, place.y)
    if off <= PLACE_MARGIN_M:
        return place
    where = f"{typed!r} ({what})" if typed else what
    far = f"{off / 1000:,.0f} km" if np.isfinite(off) else "far"
    text = f"{where} is {far} outside the loaded areas and data"
    if swapped is not None and _metres_outside(extent, swapped.x, swapped.y) <= PLACE_MARGIN_M:
        a, b = (typed or "").split(",") if typed else ("", "")
        again = f": did you mean '{b.strip()},{a.strip()}'?" if typed else ""
        raise ParameterError(f"{text}; it looks like {fix}{again}")
    raise ParameterError(f"{text}: check the place (lat,lon in degrees, or x,y in metres of {crs})")


def _project(
    crs: str,
    *,
    x: float | None = None,
    y: float | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> Place:
    if x is not None and y is not None:
        lo, la = to_crs(np.array([x], float), np.array([y], float), src=crs, dst=WGS84)
        return Place(x, y, float(lo[0]), float(la[0]))
    assert lon is not None and lat is not None
    xs, ys = to_crs(np.array([lon], float), np.array([lat], float), src=WGS84, dst=crs)
    return Place(float(xs[0]), float(ys[0]), lon, lat)


@dataclass(frozen=True)
class Section60Limits:
    """Legal limits of a Section 60 authorisation (Criminal Justice and Public Order Act 1994 as relaxed in
    May 2022). Configuration, not code: the 2014 Best Use of Stop and Search scheme set stricter ones."""

    authorising_rank: str = "inspector"
    initial_hours: float = 24.0
    extending_rank: str = "superintendent"
    extension_hours: float = 24.0
    max_hours: float = 48.0

    def text(self) -> str:
        return (
            f"Section 60 limits as configured: an officer of {self.authorising_rank} rank or above may authorise "
            f"for up to {self.initial_hours:g} h; a {self.extending_rank} may extend by {self.extension_hours:g} h "
            f"({self.max_hours:g} h at most)."
        )


_EPISODE_SCHEMA = pa.schema([
    ("episode", pa.int64()), ("force", pa.string()), ("start", pa.timestamp("s")), ("end", pa.timestamp("s")),
    ("hours", pa.float64()), ("longer_than_max", pa.bool_()), ("searches", pa.int64()),
    ("arrests", pa.int64()), ("linked_finds", pa.int64()), ("positive_outcomes", pa.int64()),
    ("any_positive_outcome", pa.bool_()), ("find_recorded", pa.int64()), ("weapon_finds", pa.int64()),
    ("weapon_find_rate", pa.float64()), ("nearest_m", pa.float64()),
])  # fmt: skip


@dataclass
class IncidentContext:
    """Risk, recent violence and past Section 60 episodes around a point; aggregates only."""

    x: float
    y: float
    lon: float
    lat: float
    when: datetime
    units: pa.Table  # forecast units within the radius, riskiest first
    forecast_harm: float  # forecast harm inside the circle (area-weighted); NaN without a forecast
    forecast_harm_share: float  # of the whole surface's forecast harm
    recent: dict[str, int]  # window label -> violence and robbery within the radius
    episodes: pa.Table
    totals: dict[str, Any]
    comparison: str
    limits: Section60Limits
    statement: str = DECISION_SUPPORT
    notes: list[str] = field(default_factory=list)
    no_search_data: str | None = None  # what to say when no stop-and-search data covers the years searched
    # Section 60 authorisations from the register, active or recent near the incident (None: not consulted);
    # plain dicts handed down by the api (the register sits in a layer above this one).
    authorisations: list[dict[str, Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_table(self) -> pa.Table:
        """The Section 60 episodes, with the statement, limits, params and provenance in the metadata."""
        return self._meta(self.episodes)

    def units_table(self) -> pa.Table:
        return self._meta(self.units)

    def _meta(self, table: pa.Table) -> pa.Table:
        t = with_metadata(table, self.params, self.provenance)
        return t.replace_schema_metadata({
            **(t.schema.metadata or {}), b"statement": self.statement.encode(),
            b"limits": self.limits.text().encode(),
        })  # fmt: skip

    def lines(self) -> list[str]:
        p = self.params
        out = [
            f"Incident at {self.x:,.0f}, {self.y:,.0f} ({self.lat:.5f}, {self.lon:.5f}), {self.when:%Y-%m-%d %H:%M}",
            f"  {self.statement}",
            f"  {self.limits.text()}",
        ]
        if self.units.num_rows:
            best = self.units.to_pylist()[0]
            out.append(
                f"  forecast harm within {p['radius_m']:g} m: {self.forecast_harm:,.0f} "
                f"({self.forecast_harm_share:.1%} of the area's total); {self.units.num_rows} unit(s), riskiest "
                f"{best['unit_id']} ranked {ordinal(int(best['rank']))} of {p['units_total']:,}"
            )
        recent = ", ".join(f"{n:,} {label}" for label, n in self.recent.items())
        out.append(f"  violence and robbery within {p['radius_m']:g} m: {recent or 'no data'}")
        t = self.totals
        head = f"  past Section 60 searches within {p['s60_radius_m']:g} m, {p['years_back']} year(s): "
        if self.no_search_data:
            out.append(head + self.no_search_data)
        else:
            out.append(
                f"{head}{t['searches']:,} searches in {t['episodes']} episode(s); {t['arrests']:,} arrests, "
                f"{t['linked_finds']:,} linked finds, {t['positive_outcomes']:,} positive outcomes"
            )
        for e in self.episodes.to_pylist()[-5:]:
            rate = (
                "n/a"
                if e["weapon_find_rate"] is None or np.isnan(e["weapon_find_rate"])
                else (f"{e['weapon_find_rate']:.1%}")
            )
            end_fmt = "%H:%M" if e["end"].date() == e["start"].date() else "%Y-%m-%d %H:%M"
            out.append(
                f"    episode {e['episode']} ({e['force']}): {e['start']:%Y-%m-%d %H:%M} to {e['end']:{end_fmt}} "
                f"({e['hours']:.0f} h), {e['searches']} searches, {e['arrests']} arrests, "
                f"{e['weapon_finds']} weapon finds ({rate})"
                + (" [longer than the legal maximum]" if e["longer_than_max"] else "")
            )
        if self.episodes.num_rows > 5:
            out.append(f"    ... {self.episodes.num_rows - 5} earlier episode(s) in the table")
        out.append(f"  {self.comparison}")
        if self.authorisations is not None:
            if not self.authorisations:
                out.append("  Section 60 register: no authorisation active or recent near the incident")
            for a in self.authorisations:
                state = "active" if a["active"] else "ended"
                out.append(
                    f"  Section 60 register: authorisation {a['id']} {a.get('place') or ''} ({a['verdict']}) "
                    f"{a['starts_at'][:16]} to {a['final_end'][:16]}, {state}, {a['distance_m']:,} m away"
                )
        return out + footer(self.notes, self.provenance)


def incident_context(
    con: duckdb.DuckDBPyConnection,
    surface: Surface | None,
    *,
    x: float | None = None,
    y: float | None = None,
    lon: float | None = None,
    lat: float | None = None,
    when: Any,
    radius_m: float = 1000.0,
    s60_radius_m: float = 2000.0,
    years_back: int = 3,
    episode_gap_hours: float = 48.0,
    limits: Section60Limits | None = None,
    source: str | None = None,
    authorisations: list[dict[str, Any]] | None = None,
) -> IncidentContext:
    """The risk and Section 60 history around an incident at ``x, y`` (workspace CRS) or ``lon, lat``.

    ``when`` is the incident's local time (string, date or datetime); nothing after it is counted.
    ``surface`` gives the forecast (``None``: the latest stored run). Episodes follow the heuristic in the
    module docstring with ``episode_gap_hours``; ``limits`` are the legal limits to print (see
    :class:`Section60Limits`). ``source`` picks the events' source as in ``rank_hubs``.
    """
    limits = limits or Section60Limits()
    if radius_m <= 0 or s60_radius_m <= 0:
        raise ParameterError("radii must be positive")
    place = locate(con, x=x, y=y, lon=lon, lat=lat)
    x_v, y_v, lon_v, lat_v = place.x, place.y, place.lon, place.lat
    when_dt = to_datetime(when)
    params: dict[str, Any] = {
        "x": x_v, "y": y_v, "when": when_dt.isoformat(), "radius_m": radius_m, "s60_radius_m": s60_radius_m,
        "years_back": years_back, "episode_gap_hours": episode_gap_hours, "limits": asdict(limits),
        "units_total": 0,
    }  # fmt: skip
    notes: list[str] = []

    # 1. Forecast risk around the point.
    view = risk_view(con, surface)
    units = pa.table({"unit_id": pa.array([], pa.string()), "distance_m": pa.array([], pa.float64()),
                      "rank": pa.array([], pa.int64()), "expected_count": pa.array([], pa.float64()),
                      "expected_harm": pa.array([], pa.float64())})  # fmt: skip
    harm_in, share = float("nan"), float("nan")
    if view is not None:
        params["units_total"] = len(view)
        idx, dist = units_within(view, x_v, y_v, radius_m)
        order = np.lexsort((dist, view.rank[idx]))
        idx, dist = idx[order], dist[order]
        units = pa.table({
            "unit_id": pa.array(view.ids[idx].astype(str), pa.string()), "distance_m": pa.array(dist),
            "rank": pa.array(view.rank[idx], pa.int64()), "expected_count": pa.array(view.expected_count[idx]),
            "expected_harm": pa.array(view.expected_harm[idx]),
        })  # fmt: skip
        _, ui, frac = circle_overlap(view, np.array([x_v]), np.array([y_v]), radius_m)
        harm_in = float((frac * view.expected_harm[ui]).sum())
        total = float(view.expected_harm.sum())
        share = harm_in / total if total > 0 else float("nan")
        if view.meta.get("window") and to_datetime(view.meta["window"][1]) < when_dt:
            notes.append(f"the forecast covers {view.meta['window'][0][:10]} to {view.meta['window'][1][:10]}, "
                         "before the incident: rerun it for the current period")  # fmt: skip
    else:
        notes.append("no forecast in the store: run 'safestreets forecast' for the risk around the point")

    # 2. Recent violence around the point.
    src = pick_source(con, source)
    timed = timestamped_source(con, src)
    windows = _recent_windows(con, timed or src, when_dt, timed is not None)
    recent: dict[str, int] = {}
    for w in windows:
        n = count_near(
            con, "events", np.array([x_v]), np.array([y_v]), radius_m,
            f"source = ? AND crime_type IN ({','.join('?' for _ in VIOLENCE_TYPES)}) AND {w.sql}",
            [timed or src, *VIOLENCE_TYPES, *w.params],
        )  # fmt: skip
        recent[w.label] = int(n[0])
    if windows and windows[-1].end < when_dt - timedelta(days=1):
        notes.append(
            f"the events end {windows[-1].end:%Y-%m-%d}, before the incident: recent counts stop there"
        )

    # 3. Past Section 60 episodes nearby.
    since = (
        when_dt.replace(year=when_dt.year - years_back)
        if not (when_dt.month == 2 and when_dt.day == 29)
        else when_dt - timedelta(days=365 * years_back)
    )
    episodes, unlocated, untimed = section60_episodes(
        con, x_v, y_v, s60_radius_m, since, when_dt, gap_hours=episode_gap_hours, max_hours=limits.max_hours
    )
    totals = _totals(episodes)
    searches_note = _searches_cover(con, since, when_dt, notes)
    comparison = compare_find_rate(totals, searched=searches_note is None)
    if unlocated:
        notes.append(f"{unlocated:,} Section 60 searches in the period have no location and cannot be placed")
    if untimed:
        notes.append(
            f"{untimed:,} located Section 60 searches nearby have no time and are left out of episodes"
        )
    if (
        int(np.sum(episodes.column("longer_than_max").to_numpy(zero_copy_only=False)))
        if episodes.num_rows
        else 0
    ):
        notes.append(
            f"some episodes run longer than {limits.max_hours:g} h: probably consecutive or neighbouring "
            "authorisations that the heuristic cannot tell apart"
        )
    provenance = base_provenance(con, src, view, {f"recent_{i}": w for i, w in enumerate(windows)})
    provenance["section60"] = {"since": since.isoformat(), "until": when_dt.isoformat(), "pattern": S60_PATTERN,
                               "episode_gap_hours": episode_gap_hours}  # fmt: skip
    provenance["statement"] = DECISION_SUPPORT
    provenance["limits"] = asdict(limits)
    return IncidentContext(
        x=x_v, y=y_v, lon=lon_v, lat=lat_v, when=when_dt, units=units, forecast_harm=harm_in,
        forecast_harm_share=share, recent=recent, episodes=episodes, totals=totals, comparison=comparison,
        limits=limits, notes=notes, params=params, provenance=provenance, no_search_data=searches_note,
        authorisations=authorisations,
    )  # fmt: skip


def _searches_cover(
    con: duckdb.DuckDBPyConnection, since: datetime, until: datetime, notes: list[str]
) -> str | None:
    """None when stop-and-search data covers ``[since, until)``; else what to say instead of zero searches.
    Data covering only part of the period adds a note."""
    first, last = con.execute(
        "SELECT min(coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP)), "
        "max(coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP)) FROM stop_searches "
        "WHERE coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) >= ? "
        "AND coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) < ?",
        [since, until],
    ).fetchall()[0]
    period = f"{since:%Y-%m-%d} to {until:%Y-%m-%d}"
    if first is None:
        return f"no stop-and-search data covers {period}"
    if first > since + timedelta(days=31) or last < until - timedelta(days=31):
        notes.append(f"stop-and-search data covers only {first:%Y-%m} to {last:%Y-%m} of {period}: "
                     "Section 60 searches outside it are not counted")  # fmt: skip
    return None


def _recent_windows(con: duckdb.DuckDBPyConnection, source: str, when: datetime, timed: bool) -> list[Window]:
    """7 and 28 days before the incident (timed data), else the last 1 and 3 whole months; both stop at the
    end of the data if that comes first."""
    end, month_only = data_end(con, source)
    end = min(end, when)
    if timed and not month_only:
        stamp = f"{end:%Y-%m-%d %H:%M}"
        return [
            Window(end - timedelta(days=d), end, False, f"in the {d} days before {stamp}") for d in (7, 28)
        ]
    first = datetime(end.year, end.month, 1)  # whole months only: the incident's month is not complete
    out = []
    for m in (1, 3):
        k = first.year * 12 + first.month - 1 - m
        start = datetime(k // 12, k % 12 + 1, 1)
        out.append(Window(start, first, True, f"in the {m} month{'s' if m > 1 else ''} from {start:%Y-%m}"))
    return out


def section60_episodes(
    con: duckdb.DuckDBPyConnection,
    x: float,
    y: float,
    radius_m: float,
    since: datetime,
    until: datetime,
    *,
    gap_hours: float = 48.0,
    max_hours: float = 48.0,
) -> tuple[pa.Table, int, int]:
    """Section 60 searches within ``radius_m`` of a point in ``[since, until)``, grouped into episodes.

    An episode is a run of one force's searches in which each comes within ``gap_hours`` of the one before.
    Returns the episodes (oldest first), the number of Section 60 searches in the period without a location,
    and the number of located ones nearby without a time.
    """
    r2 = float(radius_m) ** 2
    base = (
        "legislation LIKE ? AND coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) >= ? "
        "AND coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) < ?"
    )
    near = "x IS NOT NULL AND y IS NOT NULL AND (x - ?) * (x - ?) + (y - ?) * (y - ?) <= ?"
    args = [S60_PATTERN, since, until]
    near_args = [x, x, y, y, r2]
    unlocated, untimed = con.execute(
        f"SELECT count(*) FILTER (WHERE x IS NULL OR y IS NULL), "
        f"count(*) FILTER (WHERE occurred_at IS NULL AND {near}) FROM stop_searches WHERE {base}",
        [*near_args, *args],
    ).fetchall()[0]
    weapons = ",".join("?" for _ in S60_WEAPON_OBJECTS)
    rows = con.execute(
        f"""
        WITH s AS (
            SELECT force, occurred_at::TIMESTAMP AS t, outcome, outcome_linked, object_of_search,
                   sqrt((x - ?) * (x - ?) + (y - ?) * (y - ?)) AS d
            FROM stop_searches WHERE {base} AND occurred_at IS NOT NULL AND {near}
        ), g AS (
            SELECT *, CASE WHEN lag(t) OVER w IS NULL
                            OR epoch(t) - epoch(lag(t) OVER w) > ? * 3600 THEN 1 ELSE 0 END AS new_episode
            FROM s WINDOW w AS (PARTITION BY force ORDER BY t)
        ), e AS (
            SELECT *, sum(new_episode) OVER (PARTITION BY force ORDER BY t ROWS UNBOUNDED PRECEDING) AS k FROM g
        )
        SELECT force, min(t), max(t), count(*),
               count(*) FILTER (WHERE outcome = 'Arrest'),
               count(*) FILTER (WHERE outcome_linked),
               count(*) FILTER (WHERE outcome IS NOT NULL AND outcome <> ?),
               count(*) FILTER (WHERE outcome_linked IS NOT NULL),
               count(*) FILTER (WHERE outcome_linked AND (object_of_search IS NULL OR object_of_search IN ({weapons}))),
               min(d)
        FROM e GROUP BY force, k ORDER BY min(t), force
        """,
        [x, x, y, y, *args, *near_args, gap_hours, NO_FURTHER_ACTION, *S60_WEAPON_OBJECTS],
    ).fetchall()
    recs = []
    for i, (force, start, end, n, arrests, linked, positive, recorded, wfinds, dmin) in enumerate(rows, 1):
        hours = (end - start).total_seconds() / 3600
        recs.append({
            "episode": i, "force": force, "start": start, "end": end, "hours": hours,
            "longer_than_max": hours > max_hours, "searches": n, "arrests": arrests, "linked_finds": linked,
            "positive_outcomes": positive, "any_positive_outcome": positive > 0, "find_recorded": recorded,
            "weapon_finds": wfinds, "weapon_find_rate": wfinds / recorded if recorded else float("nan"),
            "nearest_m": float(dmin),
        })  # fmt: skip
    return pa.Table.from_pylist(recs, schema=_EPISODE_SCHEMA), int(unlocated), int(untimed)


def _totals(episodes: pa.Table) -> dict[str, Any]:
    def total(col: str) -> int:
        return int(sum(episodes.column(col).to_pylist())) if episodes.num_rows else 0

    recorded = total("find_recorded")
    finds = total("weapon_finds")
    return {
        "episodes": episodes.num_rows, "searches": total("searches"), "arrests": total("arrests"),
        "linked_finds": total("linked_finds"), "positive_outcomes": total("positive_outcomes"),
        "find_recorded": recorded, "weapon_finds": finds,
        "weapon_find_rate": finds / recorded if recorded else float("nan"),
        "episodes_with_positive_outcome": int(sum(episodes.column("any_positive_outcome").to_pylist()))
        if episodes.num_rows else 0,
    }  # fmt: skip


def compare_find_rate(totals: dict[str, Any], *, min_searches: int = 100, searched: bool = True) -> str:
    """One sentence setting the local weapon find rate against the College of Policing's ~1%.
    ``searched=False``: no stop-and-search data covers the period, so zero searches mean nothing."""
    ref = f"{COLLEGE_OF_POLICING_S60_FIND_RATE:.0%}"
    recorded, finds = totals["find_recorded"], totals["weapon_finds"]
    if not searched:
        return f"no stop-and-search data for the period: no find rate to set against the ~{ref} College of Policing rate"
    if not totals["searches"]:
        return (
            f"no past Section 60 searches recorded nearby to set against the ~{ref} College of Policing rate"
        )
    if not recorded:
        return "no nearby Section 60 search records whether the item was found: no find rate to compare"
    rate = finds / recorded
    head = f"weapon find rate nearby {rate:.1%} ({finds:,} of {recorded:,} searches with the find recorded)"
    if recorded < min_searches:
        return f"{head}: too few searches to compare with the ~{ref} the College of Policing reports for Section 60"
    ratio = rate / COLLEGE_OF_POLICING_S60_FIND_RATE
    word = "below" if ratio < 2 / 3 else "above" if ratio > 1.5 else "about the same as"
    return f"{head}: {word} the ~{ref} the College of Policing reports for Section 60 searches"
