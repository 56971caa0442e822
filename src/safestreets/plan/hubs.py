"""Transport hubs for knife arches and drug dogs: which stations, on which days and at what times.

``rank_hubs`` scores every place of the given kinds (stations by default) on what surrounds it within a
catchment (400 m by default):

- the forecast harm of the risk surface inside the catchment (each unit's expected harm times the share of
  its area inside the circle);
- recent violence and robbery recorded there (the last ``weeks_back`` weeks of timestamped records, or the
  last three months of month-only data);
- stop-and-search for weapons with a linked find or a positive outcome (police-found: it follows where
  officers search, so it carries a small weight and a label);
- Possession of weapons crimes (police-found: context only, weight 0 unless the caller gives one).

Each component is divided by its largest value over the hubs (0..1) and the score is the weighted mean of
the components that have data. The week's deployments are the best hub x time-slot pairs: a hub's score
times the share of its violence that falls in the slot (its own hour-of-day and day-of-week profile,
shrunk toward the city-wide one), so a dominant hub can take several slots.

The helpers below the main function (risk views, windows, counts near points) are shared with
:mod:`safestreets.plan.sweeps` and :mod:`safestreets.plan.incident`.
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
from safestreets.errors import SafestreetsError
from safestreets.forecast.data import choose_source
from safestreets.forecast.history import as_time
from safestreets.forecast.store import Surface, latest_run
from safestreets.forecast.targets import TARGETS
from safestreets.vocab import NO_FURTHER_ACTION

VIOLENCE_TYPES: tuple[str, ...] = TARGETS["violence"]  # Violence and sexual offences, Robbery
WEAPON_CRIME = "Possession of weapons"
#: Objects of search that make a stop-and-search a search for weapons.
WEAPON_OBJECTS: tuple[str, ...] = ("Offensive weapons", "Firearms")
POLICE_FOUND_NOTE = (
    "police-found: stop-and-search results and Possession of weapons crimes follow where officers look, "
    "not only where weapons are, so they are context with little or no weight in the score"
)

#: Score weights. Police-found signals carry little or no weight by default (see the module docstring).
DEFAULT_HUB_WEIGHTS: dict[str, float] = {
    "forecast_harm": 0.5,
    "recent_violence": 0.35,
    "weapon_search_hits": 0.15,
    "possession_of_weapons": 0.0,
}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Pseudo-events of the city-wide time profile added to each hub's own (a hub with 3 crimes has no profile).
PROFILE_PRIOR_EVENTS = 14.0
#: Fewer timed crimes than this near a hub, and its reasons quote the city-wide busiest times instead.
MIN_PROFILE_EVENTS = 5


# ---------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------


@dataclass
class HubRanking:
    """Hubs scored and the week's deployments (hub x day x time slot), with reasons in plain text."""

    hubs: pa.Table  # one row per hub, best first
    deployments: pa.Table  # one row per chosen deployment, best first
    reasons: dict[str, list[str]]  # place_id -> the hub's reasons
    notes: list[str]
    params: dict[str, Any]
    provenance: dict[str, Any]

    def to_table(self) -> pa.Table:
        """The deployments, with params and provenance in the schema metadata."""
        return with_metadata(self.deployments, self.params, self.provenance)

    def hubs_table(self) -> pa.Table:
        return with_metadata(self.hubs, self.params, self.provenance)

    def lines(self) -> list[str]:
        p = self.params
        n_hubs = self.hubs.num_rows
        kinds = "/".join(p["kinds"])
        out = [
            f"Transport hubs: {self.deployments.num_rows} deployment(s) for the week from {n_hubs} "
            f"{kinds} place(s), catchment {p['catchment_m']:g} m",
            "  score = "
            + " + ".join(f"{w:g} x {k.replace('_', ' ')}" for k, w in p["weights"].items() if w)
            + " (each scaled 0..1 over the hubs)",
        ]
        first: dict[str, int] = {}
        for row in self.deployments.to_pylist():
            when = f"{row['day']} {row['start']}-{row['end']}" if row["day"] else "any time"
            if row["place_id"] in first:  # the hub's reasons are already printed: only the slot's
                out.append(
                    f"  {row['deployment']}. {row['name']} again, {when}: "
                    + row["reasons"].split("; ")[-1].split(": ", 1)[-1]
                )
                continue
            first[row["place_id"]] = row["deployment"]
            out.append(
                f"  {row['deployment']}. {row['name']} ({row['kind']}), {when}: score {row['hub_score']:.2f}"
            )
            out.extend(f"       {r}" for r in row["reasons"].split("; "))
        return out + footer(self.notes, self.provenance)


def footer(notes: list[str], provenance: dict[str, Any]) -> list[str]:
    """The closing lines every tactic's ``lines()`` ends with: its notes, then the data it rests on."""
    return [*(f"  note: {n}" for n in notes), "  data: " + provenance.get("summary", "")]


# ---------------------------------------------------------------------------------------------------------
# rank_hubs
# ---------------------------------------------------------------------------------------------------------


def rank_hubs(
    con: duckdb.DuckDBPyConnection,
    surface: Surface | None,
    *,
    kinds: Sequence[str] = ("station",),
    catchment_m: float = 400.0,
    budget: int = 5,
    weeks_back: int = 12,
    until: Any = None,
    signal_months: int = 12,
    profile_weeks: int = 52,
    slot_hours: int = 6,
    day_start_hour: int = 2,
    max_per_hub: int | None = None,
    weights: Mapping[str, float] | None = None,
    source: str | None = None,
) -> HubRanking:
    """Score the places of ``kinds`` and choose the week's ``budget`` best hub x time-slot deployments.

    ``surface`` is the risk surface to read forecast harm from; ``None`` uses the latest stored run (and
    without one the forecast component drops out, with a note). ``until`` ends the data windows (default:
    the end of the data). Weapon signals count over the last ``signal_months`` months; time profiles over
    the last ``profile_weeks`` weeks of timestamped records. Slots are ``slot_hours`` long and a day's
    slots start at ``day_start_hour`` (so a 20:00-02:00 slot belongs to the evening it starts on).
    ``max_per_hub`` caps the deployments one hub can take (default: no cap). ``weights`` override
    :data:`DEFAULT_HUB_WEIGHTS`; ``source`` chooses the events' source (default: a timestamped source
    if one is loaded, else the published data).
    """
    if budget < 0:
        raise ValueError(f"budget must be 0 or more, not {budget}")
    if catchment_m <= 0:
        raise ValueError(f"catchment must be positive, not {catchment_m}")
    if slot_hours <= 0 or 24 % slot_hours:
        raise ValueError(f"slot_hours must divide 24, not {slot_hours}")
    w = dict(DEFAULT_HUB_WEIGHTS)
    for k, v in (weights or {}).items():
        if k not in w:
            raise ValueError(f"unknown weight {k!r}: use {', '.join(w)}")
        if v < 0:
            raise ValueError(f"weight {k!r} must not be negative")
        w[k] = float(v)
    kinds = tuple(kinds)
    params: dict[str, Any] = {
        "kinds": list(kinds), "catchment_m": catchment_m, "budget": budget, "weeks_back": weeks_back,
        "until": None if until is None else str(until), "signal_months": signal_months,
        "profile_weeks": profile_weeks, "slot_hours": slot_hours, "day_start_hour": day_start_hour,
        "max_per_hub": max_per_hub, "weights": w,
    }  # fmt: skip
    places = load_places(con, kinds)
    notes: list[str] = []
    src = pick_source(con, source)
    recent = recent_window(con, src, until, weeks_back=weeks_back)
    signals = months_window(con, src, until, months=signal_months)
    view = risk_view(con, surface)
    provenance = base_provenance(con, src, view, {"recent": recent, "signals": signals})
    if not len(places["id"]):
        notes.append(missing_places_note(kinds, "transport-hub tactics"))
        return HubRanking(_empty_hubs(), _empty_deployments(), {}, notes, params, provenance)

    n = len(places["id"])
    px, py = places["x"], places["y"]
    # Forecast harm in the catchment (area-weighted), and its rank among the hubs.
    if view is not None:
        pi, ui, frac = circle_overlap(view, px, py, catchment_m)
        harm = np.bincount(pi, weights=frac * view.expected_harm[ui], minlength=n)
    else:
        harm = np.full(n, np.nan)
        notes.append(
            "no forecast in the store: the score leaves out forecast harm (run safestreets forecast)"
        )

    vio = count_near(con, "events", px, py, catchment_m, *_events_filter(src, VIOLENCE_TYPES, recent))
    pow_ = count_near(con, "events", px, py, catchment_m, *_events_filter(src, (WEAPON_CRIME,), signals))
    ws_where, ws_params = _weapon_search_filter(signals, WEAPON_OBJECTS)
    ws_all = count_near(con, "stop_searches", px, py, catchment_m, ws_where, ws_params)
    ws_hits = count_near(con, "stop_searches", px, py, catchment_m, ws_where + " AND " + HIT_SQL, ws_params)
    searched = searches_cover(con, signals)
    if not searched:
        notes.append(no_searches_note(signals))

    comps = {
        "forecast_harm": harm,
        "recent_violence": vio.astype(float),
        # no data is not zero hits: the component drops out of the score, as forecast harm does
        "weapon_search_hits": ws_hits.astype(float) if searched else np.full(n, np.nan),
        "possession_of_weapons": pow_.astype(float),
    }
    score = combine(comps, w)
    order = np.lexsort((places["name_sort"], -score))
    hub_rank = np.empty(n, dtype="int64")
    hub_rank[order] = np.arange(1, n + 1)
    harm_rank = _rank_desc(np.nan_to_num(harm, nan=-1.0))

    # Time profiles: share of each hub's violence per (day, slot), from timestamped records only.
    timed = timestamped_source(con, src)
    if timed is not None:
        prof_window = weeks_window(con, timed, until, weeks=profile_weeks)
        counts, city = slot_profile(con, timed, px, py, catchment_m, prof_window, slot_hours, day_start_hour)
        prof_n = counts.sum(axis=(1, 2))
        city_share = city
        share = (counts + PROFILE_PRIOR_EVENTS * city[None]) / (prof_n + PROFILE_PRIOR_EVENTS)[:, None, None]
        provenance["profile"] = {"source": timed, **prof_window.describe()}
    else:
        share = None
        prof_n = np.zeros(n)
        notes.append(
            "the events carry no times (month-only data): deployments are per hub, not per day and time; "
            "load a force's own timestamped records to get busiest times"
        )

    notes.append(POLICE_FOUND_NOTE)
    label = "/".join(kinds)
    reasons: dict[str, list[str]] = {}
    busiest: list[str] = []
    for i in range(n):
        r = []
        if view is not None:
            r.append(
                f"forecast {view.target} harm in {catchment_m:g} m: {harm[i]:,.0f} "
                f"({ordinal(int(harm_rank[i]))} of {n} {label}s)"
            )
        r.append(f"{int(vio[i]):,} violence and robbery crimes {recent.label}")
        if searched:
            r.append(
                f"{int(ws_hits[i]):,} of {int(ws_all[i]):,} weapon searches had a find or positive outcome "
                f"{signals.label} (stop and search, police-found)"
            )
        else:
            r.append(f"weapon searches: no stop-and-search data covers {signals.span}")
        if pow_[i]:
            r.append(f"{int(pow_[i]):,} Possession of weapons crimes {signals.label} (police-found)")
        b = ""
        if share is not None and prof_n[i] >= MIN_PROFILE_EVENTS:
            b = busiest_text(share[i], slot_hours, day_start_hour)
            r.append(
                f"busiest: {b} ({int(prof_n[i]):,} timed violent crimes nearby, last {profile_weeks} weeks)"
            )
        elif share is not None:
            b = busiest_text(city_share, slot_hours, day_start_hour)
            r.append(f"busiest city-wide: {b} (only {int(prof_n[i])} timed violent crimes near here)")
        busiest.append(b)
        reasons[str(places["id"][i])] = r

    hubs = pa.table({
        "rank": pa.array(hub_rank[order]),
        "place_id": pa.array(places["id"][order].astype(str)),
        "name": pa.array(places["name"][order].astype(str)),
        "kind": pa.array(places["kind"][order].astype(str)),
        "x": pa.array(px[order]), "y": pa.array(py[order]),
        "lon": pa.array(places["lon"][order]), "lat": pa.array(places["lat"][order]),
        "forecast_harm": pa.array(harm[order]),
        "forecast_harm_rank": pa.array(harm_rank[order]),
        "recent_violence": pa.array(vio[order]),
        "weapon_searches": pa.array(ws_all[order], pa.int64(), mask=np.full(n, not searched)),
        "weapon_search_hits": pa.array(ws_hits[order], pa.int64(), mask=np.full(n, not searched)),
        "possession_of_weapons_police_found": pa.array(pow_[order]),
        "score": pa.array(score[order]),
        "busiest": pa.array([busiest[i] for i in order]),
        "reasons": pa.array(["; ".join(reasons[str(places["id"][i])]) for i in order]),
    })  # fmt: skip

    # Deployments: best (hub, day, slot) pairs by score x slot share.
    value = score[:, None, None] * (share if share is not None else np.ones((n, 1, 1)))  # (hub, day, slot)
    flat = np.argsort(-value.ravel(), kind="stable")
    taken = np.zeros(n, dtype="int64")
    rows: list[dict[str, Any]] = []
    for f in flat:
        if len(rows) >= budget:
            break
        hub, day, slot = np.unravel_index(f, value.shape)
        if score[hub] <= 0:  # no evidence anywhere near: not worth a deployment
            break
        if max_per_hub is not None and taken[hub] >= max_per_hub:
            continue
        if share is None and taken[hub] >= 1:
            continue
        taken[hub] += 1
        pid = str(places["id"][hub])
        slot_reasons = list(reasons[pid])
        start, end = slot_bounds(int(slot), slot_hours, day_start_hour) if share is not None else ("", "")
        if share is not None:
            slot_reasons.append(
                f"{DAYS[day]} {start}-{end}: {share[hub, day, slot]:.0%} of the violence near here falls in "
                "this slot"
            )
        rows.append({
            "deployment": len(rows) + 1, "place_id": pid, "name": str(places["name"][hub]),
            "kind": str(places["kind"][hub]), "day": DAYS[day] if share is not None else "",
            "start": start, "end": end, "hub_rank": int(hub_rank[hub]), "hub_score": float(score[hub]),
            "slot_share": float(share[hub, day, slot]) if share is not None else float("nan"),
            "value": float(value[hub, day, slot]), "x": float(px[hub]), "y": float(py[hub]),
            "reasons": "; ".join(slot_reasons),
        })  # fmt: skip
    deployments = pa.Table.from_pylist(rows, schema=_DEPLOYMENT_SCHEMA)
    if n and budget and not (score > 0).any():
        notes.append("no hub has any recorded violence, forecast harm or weapon signal nearby")
    return HubRanking(hubs, deployments, reasons, notes, params, provenance)


_DEPLOYMENT_SCHEMA = pa.schema([
    ("deployment", pa.int64()), ("place_id", pa.string()), ("name", pa.string()), ("kind", pa.string()),
    ("day", pa.string()), ("start", pa.string()), ("end", pa.string()), ("hub_rank", pa.int64()),
    ("hub_score", pa.float64()), ("slot_share", pa.float64()), ("value", pa.float64()),
    ("x", pa.float64()), ("y", pa.float64()), ("reasons", pa.string()),
])  # fmt: skip


def _empty_deployments() -> pa.Table:
    return _DEPLOYMENT_SCHEMA.empty_table()


def _empty_hubs() -> pa.Table:
    return pa.schema([
        ("rank", pa.int64()), ("place_id", pa.string()), ("name", pa.string()), ("kind", pa.string()),
        ("x", pa.float64()), ("y", pa.float64()), ("lon", pa.float64()), ("lat", pa.float64()),
        ("forecast_harm", pa.float64()), ("forecast_harm_rank", pa.int64()), ("recent_violence", pa.int64()),
        ("weapon_searches", pa.int64()), ("weapon_search_hits", pa.int64()),
        ("possession_of_weapons_police_found", pa.int64()), ("score", pa.float64()), ("busiest", pa.string()),
        ("reasons", pa.string()),
    ]).empty_table()  # fmt: skip


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


def _rank_desc(values: np.ndarray) -> np.ndarray:
    order = np.lexsort((np.arange(len(values)), -values))
    out = np.empty(len(values), dtype="int64")
    out[order] = np.arange(1, len(values) + 1)
    return out


def ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


# ---------------------------------------------------------------------------------------------------------
# Time slots
# ---------------------------------------------------------------------------------------------------------


def slot_bounds(slot: int, slot_hours: int, day_start_hour: int) -> tuple[str, str]:
    start = (day_start_hour + slot * slot_hours) % 24
    return f"{start:02d}:00", f"{(start + slot_hours) % 24:02d}:00"


def busiest_text(share: np.ndarray, slot_hours: int, day_start_hour: int) -> str:
    """Text such as "Fri-Sat 20:00-02:00": the busiest slot of the day, and the days on which it is near its peak."""
    by_slot = share.sum(axis=0)
    slot = int(np.argmax(by_slot))
    days = share[:, slot]
    near_peak = np.flatnonzero(days >= 0.75 * days.max())
    if len(near_peak) > 3:
        near_peak = np.sort(np.argsort(-days, kind="stable")[:3])
    start, end = slot_bounds(slot, slot_hours, day_start_hour)
    return f"{_day_list(near_peak)} {start}-{end}"


def _day_list(days: np.ndarray) -> str:
    days = [int(d) for d in days]
    if len(days) > 1 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAYS[days[0]]}-{DAYS[days[-1]]}"
    return ", ".join(DAYS[d] for d in days)


def slot_profile(
    con: duckdb.DuckDBPyConnection,
    source: str,
    px: np.ndarray,
    py: np.ndarray,
    radius: float,
    window: Window,
    slot_hours: int,
    day_start_hour: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Violence per (point, day, slot) near each point, and the city-wide (day, slot) shares."""
    n_slots = 24 // slot_hours
    # Shift by the day's first hour so that a night slot running past midnight stays with its evening.
    shifted = f"(occurred_at::TIMESTAMP - INTERVAL {int(day_start_hour)} HOUR)"
    keys = f"isodow({shifted}) - 1 AS day, hour({shifted}) // {int(slot_hours)} AS slot"
    where = (
        "source = ? AND occurred_at IS NOT NULL AND x IS NOT NULL AND "
        f"crime_type IN ({_marks(VIOLENCE_TYPES)}) AND {window.sql}"
    )
    wparams = [source, *VIOLENCE_TYPES, *window.params]
    city = np.zeros((7, n_slots))
    for d, s, c in con.execute(
        f"SELECT day, slot, count(*) FROM (SELECT {keys} FROM events WHERE {where}) GROUP BY ALL", wparams
    ).fetchall():
        city[int(d), int(s)] = c
    city = city / city.sum() if city.sum() > 0 else np.full((7, n_slots), 1.0 / (7 * n_slots))
    out = np.zeros((len(px), 7, n_slots))
    rows = near_rows(con, "events", px, py, radius, where, wparams, select=keys, group="day, slot")
    for i, d, s, c in rows:
        out[int(i), int(d), int(s)] = c
    return out, city


# ---------------------------------------------------------------------------------------------------------
# Shared helpers: places, sources, windows, counts near points, risk surfaces
# ---------------------------------------------------------------------------------------------------------


def load_places(con: duckdb.DuckDBPyConnection, kinds: Sequence[str]) -> dict[str, np.ndarray]:
    """Located places of ``kinds`` as arrays (id, name, kind, x, y, lon, lat), in a stable order."""
    kinds = list(kinds)
    if not kinds:
        data: dict[str, Any] = {}
    else:
        data = con.execute(
            "SELECT place_id AS id, coalesce(name, place_id) AS name, kind, x, y, lon, lat FROM places "
            f"WHERE kind IN ({_marks(kinds)}) AND x IS NOT NULL AND y IS NOT NULL ORDER BY kind, name, place_id",
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
    except SafestreetsError:
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


def _to_datetime(value: Any) -> datetime:
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
        raise SafestreetsError(f"no events from source {source!r} in the store")
    month_only = bool(row[2])
    if month_only or row[1] is None:
        return _month_add(datetime(row[0].year, row[0].month, 1), 1), True
    last = row[1]
    return datetime(last.year, last.month, last.day) + timedelta(days=1), False


def _clamped_end(con: duckdb.DuckDBPyConnection, source: str, until: Any) -> tuple[datetime, bool]:
    end, month_only = data_end(con, source)
    if until is not None:
        end = min(end, _to_datetime(until))
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


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" for _ in items)


def _events_filter(source: str, types: Sequence[str], window: Window) -> tuple[str, list[Any]]:
    return (
        f"source = ? AND crime_type IN ({_marks(types)}) AND {window.sql}",
        [source, *types, *window.params],
    )


#: A stop-and-search that found something or led somewhere: a linked find, or any outcome but NFA.
HIT_SQL = f"(outcome_linked OR (outcome IS NOT NULL AND outcome <> '{NO_FURTHER_ACTION}'))"


def _weapon_search_filter(window: Window, objects: Sequence[str]) -> tuple[str, list[Any]]:
    return f"object_of_search IN ({_marks(objects)}) AND {window.sql}", [*objects, *window.params]


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
            meta={"run_id": None, "model": surface.meta.get("model"), "window": surface.meta.get("window"),
                  "rank_by": surface.rank_by, "units": u.kind, "data": data},
        )  # fmt: skip
    run_id = latest_run(con)
    if run_id is None:
        return None
    from safestreets.plan.run import read_surface

    stored = read_surface(con, run_id)
    prov = stored.provenance
    data = prov.get("data", {})
    return RiskView(
        ids=stored.ids.astype(str), x=stored.x, y=stored.y, area=stored.area_m2, geometry=stored.geometry,
        expected_count=stored.expected_count, expected_harm=stored.expected_harm, rank=stored.rank,
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
