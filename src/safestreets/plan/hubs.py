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

The helpers it shares with :mod:`safestreets.plan.sweeps` and :mod:`safestreets.plan.incident` (risk views,
windows, counts near points) are in :mod:`safestreets.plan.common`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import ParameterError, unknown
from safestreets.forecast.store import Surface
from safestreets.plan.common import (
    HIT_SQL,
    VIOLENCE_TYPES,
    WEAPON_CRIME,
    WEAPON_OBJECTS,
    Window,
    base_provenance,
    circle_overlap,
    combine,
    count_near,
    events_filter,
    footer,
    load_places,
    marks,
    missing_places_note,
    months_window,
    near_rows,
    no_searches_note,
    ordinal,
    pick_source,
    recent_window,
    risk_view,
    searches_cover,
    timestamped_source,
    weapon_search_filter,
    weeks_window,
    with_metadata,
)

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
#: Places closer than this are one place for deployments (two records of one station, not two stations:
#: the nearest distinct London stations, such as Leicester Square and Covent Garden, are some 250 m apart).
SAME_PLACE_M = 150.0


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
        raise ParameterError(f"budget must be 0 or more, not {budget}")
    if catchment_m <= 0:
        raise ParameterError(f"catchment must be positive, not {catchment_m}")
    if slot_hours <= 0 or 24 % slot_hours:
        raise ParameterError(f"slot_hours must divide 24, not {slot_hours}")
    w = dict(DEFAULT_HUB_WEIGHTS)
    for k, v in (weights or {}).items():
        if k not in w:
            raise unknown("weight", k, w)
        if v < 0:
            raise ParameterError(f"weight {k!r} must not be negative")
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

    vio = count_near(con, "events", px, py, catchment_m, *events_filter(src, VIOLENCE_TYPES, recent))
    pow_ = count_near(con, "events", px, py, catchment_m, *events_filter(src, (WEAPON_CRIME,), signals))
    ws_where, ws_params = weapon_search_filter(signals, WEAPON_OBJECTS)
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

    # Deployments: best (hub, day, slot) pairs by score x slot share. Places closer than SAME_PLACE_M are one
    # place recorded twice (a tube and a rail station of one name, from two files): they share one count
    # of deployments, so the budget is not spent twice on the same spot.
    value = score[:, None, None] * (share if share is not None else np.ones((n, 1, 1)))  # (hub, day, slot)
    flat = np.argsort(-value.ravel(), kind="stable")
    site = same_place(px, py)
    first_at: dict[int, int] = {}  # site -> the hub first deployed there
    merged: set[int] = set()
    taken = np.zeros(n, dtype="int64")
    rows: list[dict[str, Any]] = []
    for f in flat:
        if len(rows) >= budget:
            break
        hub, day, slot = np.unravel_index(f, value.shape)
        if score[hub] <= 0:  # no evidence anywhere near: not worth a deployment
            break
        full = (max_per_hub is not None and taken[site[hub]] >= max_per_hub) or (share is None and taken[site[hub]] >= 1)
        if full:
            other = first_at.get(int(site[hub]), hub)
            if other != hub and hub not in merged:
                merged.add(hub)
                notes.append(f"{places['name'][hub]} is {np.hypot(px[hub] - px[other], py[hub] - py[other]):.0f} m from "
                             f"{places['name'][other]}: one place, deployed to once")  # fmt: skip
            continue
        first_at.setdefault(int(site[hub]), int(hub))
        taken[site[hub]] += 1
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


def same_place(x: np.ndarray, y: np.ndarray, within: float = SAME_PLACE_M) -> np.ndarray:
    """For each place, the index of the first place of its group: places linked by gaps under ``within``
    metres are one group."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(x)
    if n == 0:
        return np.zeros(0, dtype="int64")
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(within, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    first = np.full(label.max() + 1, n, dtype="int64")
    np.minimum.at(first, label, np.arange(n))
    return first[label]


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


def _rank_desc(values: np.ndarray) -> np.ndarray:
    order = np.lexsort((np.arange(len(values)), -values))
    out = np.empty(len(values), dtype="int64")
    out[order] = np.arange(1, len(values) + 1)
    return out


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
        f"crime_type IN ({marks(VIOLENCE_TYPES)}) AND {window.sql}"
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
