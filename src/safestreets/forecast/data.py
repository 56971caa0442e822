"""From the store to a forecast's inputs: the target's events as a History, and the units.

Which events: those with a location, of the target's types, from one source. police.uk files and the API
publish the same crimes, and a force's own records overlap both, so mixing sources would count crimes twice:
the default is the published data (``police.uk``, else ``police.uk-api``), or the force's own records when
the horizon is shorter than a month (only they carry times).
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import shapely
from scipy.spatial import cKDTree

from safestreets import __version__
from safestreets.errors import NeedsTimestamps, NoDataError, NotFoundError
from safestreets.forecast.history import History, as_time
from safestreets.forecast.targets import Target
from safestreets.geo.units import Units, make_grid, polygon_units
from safestreets.store import fetch_one, get_setting
from safestreets.vocab import POLICE_FOUND_TYPES

SOURCE_PREFERENCE = ("police.uk", "police.uk-api", "force-records")
#: A history with months of missing data (a force published nothing) is cut to start after the latest such
#: gap if at least this many months are left: models read a month with no events as a month with no crime.
MIN_MONTHS_AFTER_GAP = 12
# Point sets that feed unit covariates: covariate name -> places.kind.
PLACE_COVARIATES = {"dist_station_m": "station", "dist_night_time_m": "night-time-economy"}
LSOA_KINDS = ("lsoa21", "lsoa", "lsoa11")


def choose_source(con: duckdb.DuckDBPyConnection, *, need_timestamps: bool = False) -> str:
    rows = con.execute(
        "SELECT source, count(*) FILTER (WHERE occurred_at IS NULL) FROM events "
        "WHERE x IS NOT NULL GROUP BY source"
    ).fetchall()
    if not rows:
        raise NoDataError("the store holds no located events: run 'safestreets ingest' first")
    sources = {str(s): int(n_month_only) for s, n_month_only in rows}
    if need_timestamps:
        timed = [s for s in SOURCE_PREFERENCE if s in sources and sources[s] == 0]
        timed += sorted(s for s in sources if s not in SOURCE_PREFERENCE and sources[s] == 0)
        if not timed:
            raise NeedsTimestamps(
                "this needs timestamped events, and every source in the store is month-only: load a force's "
                "own timestamped records (safestreets ingest records.csv --mapping records.toml)"
            )
        return timed[-1] if "force-records" in timed else timed[0]
    for s in SOURCE_PREFERENCE:
        if s in sources:
            return s
    return sorted(sources)[0]


def load_history(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    *,
    source: str | None = None,
    force: str | None = None,
    since: Any = None,
    until: Any = None,
    harm: dict[str, float] | None = None,
    harm_scheme: str = "cchi",
    need_timestamps: bool = False,
    with_context: bool = True,
) -> History:
    """The target's located events (before ``until``, from ``since``) as a History.

    ``harm`` overrides the stored weights per type. With ``with_context``, other publicly reported crime
    from the same source comes along as ``History.context`` for models that use it as a feature.
    """
    source = source or choose_source(con, need_timestamps=need_timestamps)
    where = ["x IS NOT NULL", "y IS NOT NULL", "source = ?"]
    params: list[Any] = [source]
    if force:
        where.append("force = ?")
        params.append(force)
    if since is not None:
        where.append("month >= ?")
        params.append(str(as_time(since).astype("datetime64[D]")))
    if until is not None:
        where.append("coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) < ?")
        params.append(str(as_time(until)))
    gap = missing_months(con, " AND ".join(where), params)
    if gap is not None and gap["kept"] is False:
        where.append("month >= ?")
        params.append(gap["from"] + "-01")
    base = " AND ".join(where)

    def fetch(type_clause: str, type_params: list[str]) -> History:
        data = con.execute(
            "SELECT x, y, coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) AS t, "
            "occurred_at IS NULL AS month_only, crime_type, harm FROM events "
            f"WHERE {base} AND {type_clause} ORDER BY t, event_id",
            params + type_params,
        ).fetchnumpy()
        month_only = np.asarray(data["month_only"], dtype=bool)
        if need_timestamps and month_only.any():
            raise NeedsTimestamps(
                f"source {source!r} has {int(month_only.sum()):,} month-only events, and this needs timestamps: "
                "use --source with a force's own records"
            )
        types = np.asarray(data["crime_type"], dtype=object)
        weights = np.asarray(data["harm"], dtype="float64")
        if harm is not None:
            weights = np.array([harm.get(t, 0.0) for t in types], dtype="float64")
        return History.from_arrays(
            np.asarray(data["x"], dtype="float64"),
            np.asarray(data["y"], dtype="float64"),
            np.asarray(data["t"]).astype("datetime64[s]"),
            types,
            np.nan_to_num(weights),
            resolution="month" if month_only.any() else "timestamp",
        )

    placeholders = ",".join("?" for _ in target.types)
    main = fetch(f"crime_type IN ({placeholders})", list(target.types))
    if len(main) == 0:
        raise NoDataError(
            f"no located {target.name} events from source {source!r}"
            + (f" for force {force!r}" if force else "")
            + ": check 'safestreets status' for what is loaded"
        )
    context = None
    if with_context:
        others = [t for t in _types_in(con, source) if t not in target.types and t not in POLICE_FOUND_TYPES]
        if others:
            context = fetch(f"crime_type IN ({','.join('?' for _ in others)})", others)
            if context.resolution != main.resolution:
                context = None
    months = main.t.astype("datetime64[M]")
    meta = {
        "target": target.describe(),
        "source": source,
        "force": force,
        "events": len(main),
        "first_month": str(months[0]),
        "last_month": str(months[-1]),
        "resolution": main.resolution,
        "harm_scheme": "table" if harm is not None else harm_scheme,
        "context_events": 0 if context is None else len(context),
        "safestreets_version": __version__,
    }
    if gap is not None:
        meta["gap"] = gap
    return History(main.x, main.y, main.t, main.crime_type, main.harm, main.resolution, meta, context)


def for_a_horizon(err: NeedsTimestamps) -> NeedsTimestamps:
    """``err`` as a forecast or backtest with a horizon under a month says it (a monthly one would do)."""
    return NeedsTimestamps(f"a horizon shorter than a month: {err}; or use --horizon 1m")


def missing_months(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> dict[str, Any] | None:
    """Months with no events at all from a force, between its first and last month among the events
    ``where`` selects: missing data, not zero crime (``store.queries.gaps`` finds the same for the status).
    None if there are none; else the latest run of them (``first``, ``last``, ``months``), all ``missing``
    months, ``from``, the month after that run, and ``kept``: whether the months before stay in the
    history (when fewer than MIN_MONTHS_AFTER_GAP would be left after it)."""
    rows = con.execute(
        f"""
        WITH have AS (SELECT DISTINCT force, month FROM events WHERE {where}),
        span AS (SELECT force, min(month) AS lo, max(month) AS hi FROM have GROUP BY 1),
        every AS (SELECT force, unnest(generate_series(lo, hi, INTERVAL 1 MONTH))::DATE AS month FROM span)
        SELECT DISTINCT month, (SELECT max(month) FROM have) FROM every ANTI JOIN have USING (force, month)
        ORDER BY month
        """,
        params,
    ).fetchall()
    if not rows:
        return None
    months = [np.datetime64(r[0], "M") for r in rows]
    last_loaded = np.datetime64(rows[0][1], "M")
    first = months[-1]
    while first - 1 in months:
        first -= 1
    after = months[-1] + 1
    left = int((last_loaded - after).astype(int)) + 1
    return {"first": str(first), "last": str(months[-1]), "months": int((months[-1] - first).astype(int)) + 1,
            "missing": len(months), "from": str(after), "kept": left < MIN_MONTHS_AFTER_GAP}  # fmt: skip


def gap_warnings(data: dict[str, Any] | None) -> list[str]:
    """What a forecast's outputs must say about missing months in its history (its ``meta['data']``)."""
    gap = (data or {}).get("gap")
    if not gap:
        return []
    run = f"{gap['first']} to {gap['last']}" if gap["months"] > 1 else gap["first"]
    what = f"no data for {gap['months']} month{'s' if gap['months'] > 1 else ''} ({run})"
    if gap["kept"]:
        return [f"{what}: too little data after it, so the months before are used and the missing ones "
                "count as months without crime; the forecast is likely too low"]  # fmt: skip
    return [f"{what}: the forecast learns from {gap['from']} on only, so missing months are not read as "
            "months without crime"]  # fmt: skip


def _types_in(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    return [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT crime_type FROM events WHERE source = ? ORDER BY 1", [source]
        ).fetchall()
    ]


# --- units -------------------------------------------------------------------------------------------


def _polygons(con: duckdb.DuckDBPyConnection, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = con.execute(
        "SELECT code, geometry, population FROM areas WHERE kind = ? AND geometry IS NOT NULL ORDER BY code",
        [kind],
    ).fetchall()
    codes = np.array([r[0] for r in rows], dtype=object)
    geoms = (
        np.asarray(shapely.from_wkb([r[1] for r in rows]), dtype=object)
        if rows
        else np.array([], dtype=object)
    )
    pop = np.array([np.nan if r[2] is None else float(r[2]) for r in rows], dtype="float64")
    return codes, geoms, pop


def _kinds(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        str(r[0])
        for r in con.execute("SELECT DISTINCT kind FROM areas WHERE geometry IS NOT NULL").fetchall()
    }


#: An area whose density of events is below this share of the typical density (the event-weighted median
#: over the loaded areas) only holds events that spill over its edge (police.uk snaps points to nearby
#: streets, across force and borough boundaries): it is left out of an ``auto`` study area.
SPILL_DENSITY_SHARE = 0.05


def study_area(
    con: duckdb.DuckDBPyConnection, spec: str = "auto", history: History | None = None, *, pad: float = 0.0
) -> tuple[shapely.Geometry, str]:
    """The study area polygon and a description of where it came from.

    ``auto``: the loaded boroughs (else BCUs, else LSOAs) where the events are, leaving out areas that only
    hold a few events spilling over their edge (see ``SPILL_DENSITY_SHARE``); without boundaries, the
    convex hull of the events. ``hull``: always the hull. A hull leaves out, with a count in the note, the
    few events far outside the rest (:func:`core_events`). Any other value is an areas kind, or
    ``kind:code,code`` for part of one (``borough:E09000001``).
    """
    area, note, _ = resolve_study_area(con, spec, history, pad=pad)
    return area, note


def resolve_study_area(
    con: duckdb.DuckDBPyConnection, spec: str = "auto", history: History | None = None, *, pad: float = 0.0
) -> tuple[shapely.Geometry, str, str]:
    """:func:`study_area` plus the explicit spec it resolved to (``borough:E09000001,...`` or ``hull``),
    which a later job (hot spots, the briefing) passes back to get the very same area."""
    kinds = _kinds(con)
    kind, _, codes = spec.partition(":")
    auto = kind == "auto"
    if auto:
        for candidate in ("borough", "bcu", *LSOA_KINDS):
            if candidate in kinds:
                kind = candidate
                break
        else:
            kind = "hull"
    if kind == "hull":
        if history is None or not len(history):
            raise NoDataError("no boundaries are loaded and there are no events to bound the study area")
        keep = core_events(history.x, history.y)
        hull = shapely.convex_hull(shapely.multipoints(np.column_stack([history.x[keep], history.y[keep]])))
        return shapely.buffer(hull, max(pad, 1.0)), "convex hull of the events" + set_aside_note(keep), "hull"
    if kind not in kinds:
        raise NoDataError(
            f"no {kind!r} boundaries are loaded (have: {', '.join(sorted(kinds)) or 'none'}): "
            "run 'safestreets areas load', or use --study-area hull"
        )
    ids, geoms, _ = _polygons(con, kind)
    note_extra = ""
    if codes:
        wanted = {c.strip() for c in codes.split(",") if c.strip()}
        keep = np.isin(ids, list(wanted))
        if not keep.any():
            raise NotFoundError(f"none of {', '.join(sorted(wanted))} is a loaded {kind} code")
    elif auto and history is not None and len(history):
        keep, note_extra = _where_events_are(ids, geoms, history, kind)
    else:
        keep = np.ones(len(ids), dtype=bool)
    geoms, ids = geoms[keep], ids[keep]
    area = shapely.union_all(shapely.make_valid(geoms))
    resolved = f"{kind}:{','.join(str(i) for i in ids)}"
    note = f"union of {len(geoms)} {kind} boundaries" + (f" ({codes})" if codes else "") + note_extra
    return area, note, resolved


#: A study area drawn around the events leaves out the ones beyond this share of the width of the
#: events' 1-99% range on either side, in x or in y: published files carry a few records geocoded far
#: outside the force (a handful of Met burglaries sit hundreds of kilometres away), and a convex hull
#: through them made a study area thousands of times too large.
CORE_QUANTILES = (0.01, 0.99)
CORE_REACH = 0.5


def core_events(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which events are in the body of the data: within ``CORE_REACH`` times the width of the 1-99%
    range beyond it, in both x and y. A quantile fence: a few far records cannot move it, and it leaves
    out nothing where there are none (the 1% in the tails stay when they are near)."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return keep
    for v in (x, y):
        lo, hi = np.quantile(v[keep], CORE_QUANTILES)
        reach = CORE_REACH * (hi - lo)
        keep &= (v >= lo - reach) & (v <= hi + reach)
    return keep


def set_aside_note(keep: np.ndarray) -> str:
    """The warning for the events left out of a study area drawn around the events ("" if none)."""
    n = int((~keep).sum())
    if not n:
        return ""
    return (f"; {n:,} of {len(keep):,} events set aside, far outside the rest (beyond half the width of their "
            "1-99% range: records geocoded far away?)")  # fmt: skip


def _where_events_are(
    ids: np.ndarray, geoms: np.ndarray, history: History, kind: str
) -> tuple[np.ndarray, str]:
    """The areas whose events are not mere spill-over, and a note saying what was left out."""
    units = polygon_units(ids, geoms, kind=kind)
    idx = units.locate(history.x, history.y)
    counts = np.bincount(idx[idx >= 0], minlength=len(units.ids)).astype("float64")
    order = {str(c): i for i, c in enumerate(units.ids)}
    counts = np.array([counts[order[str(c)]] if str(c) in order else 0.0 for c in ids])
    if counts.sum() == 0:
        return np.ones(len(ids), dtype=bool), ""
    density = counts / np.maximum(shapely.area(geoms), 1.0)
    ranked = np.argsort(density)
    cumulative = np.cumsum(counts[ranked]) / counts.sum()
    typical = density[ranked][np.searchsorted(cumulative, 0.5)]
    keep = density >= SPILL_DENSITY_SHARE * typical
    dropped = int(((counts > 0) & ~keep).sum())
    empty = int((counts == 0).sum())
    parts = []
    if dropped:
        share = counts[~keep].sum() / counts.sum()
        parts.append(f"{dropped} with only spill-over events ({share:.1%} of them) left out")
    if empty:
        parts.append(f"{empty} without events left out")
    return keep, (f" where the events are, of {len(ids)} loaded; " + "; ".join(parts)) if parts else ""


#: A command unit must cover at least this share of the study area to label units: the slivers of
#: neighbouring command units along its edge (generalised boundaries overlap) are not command units of it.
MIN_BCU_SHARE = 0.02


def _bcu_polygons(
    con: duckdb.DuckDBPyConnection, area: shapely.Geometry | None = None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Command-unit polygons (BCUs, else boroughs) that cover a real part of ``area``."""
    kinds = _kinds(con)
    for kind in ("bcu", "borough"):
        if kind in kinds:
            codes, geoms, _ = _polygons(con, kind)
            if area is not None and len(geoms):
                share = shapely.area(shapely.intersection(shapely.make_valid(geoms), area)) / max(
                    shapely.area(area), 1.0
                )
                keep = share >= MIN_BCU_SHARE
                if not keep.any():
                    return None, None
                codes, geoms = codes[keep], geoms[keep]
            return geoms, codes
    return None, None


def load_units(
    con: duckdb.DuckDBPyConnection,
    kind: str = "grid",
    *,
    cell_size: float = 250.0,
    study: str = "auto",
    history: History | None = None,
    covariates: bool = True,
) -> Units:
    """Grid cells (``kind="grid"``) or loaded areas of a kind (``lsoa`` picks the newest LSOA set), clipped
    to the study area, each with its command unit and, with ``covariates``, the place and population
    covariates models may use."""
    area, area_note, resolved = resolve_study_area(con, study, history, pad=cell_size / 2)
    bcu_geoms, bcu_codes = _bcu_polygons(con, area)
    crs = get_setting(con, "crs")
    meta: dict[str, Any] = {"study_area": area_note, "study": resolved}
    if resolved == "hull" and history is not None and len(history):
        aside = int((~core_events(history.x, history.y)).sum())
        if aside:
            meta["set_aside"] = aside
            meta["warnings"] = [f"study area: {area_note}"]
    if kind == "grid":
        units = make_grid(area, cell_size, crs=crs, bcu_geoms=bcu_geoms, bcu_codes=bcu_codes, meta=meta)
    else:
        kinds = _kinds(con)
        if kind == "lsoa":
            kind = next((k for k in LSOA_KINDS if k in kinds), kind)
        if kind not in kinds:
            raise NoDataError(
                f"no {kind!r} boundaries are loaded (have: {', '.join(sorted(kinds)) or 'none'}); "
                "use --units grid or load them with 'safestreets areas load'"
            )
        ids, geoms, _ = _polygons(con, kind)
        units = polygon_units(
            ids,
            geoms,
            kind=kind,
            study_area=area,
            crs=crs,
            bcu_geoms=bcu_geoms,
            bcu_codes=bcu_codes,
            meta=meta,
        )
    if covariates:
        units.covariates.update(unit_covariates(con, units))
    return units


def unit_covariates(con: duckdb.DuckDBPyConnection, units: Units) -> dict[str, np.ndarray]:
    """Distance from each unit's centre to the nearest place of each kind, and resident population
    density (people per km², from the LSOA holding the unit's centre) where LSOA populations are loaded."""
    out: dict[str, np.ndarray] = {}
    for name, place_kind in PLACE_COVARIATES.items():
        pts = con.execute(
            "SELECT x, y FROM places WHERE kind = ? AND x IS NOT NULL AND y IS NOT NULL", [place_kind]
        ).fetchnumpy()
        if len(pts["x"]):
            tree = cKDTree(np.column_stack([pts["x"], pts["y"]]))
            out[name] = tree.query(np.column_stack([units.x, units.y]))[0]
    kinds = _kinds(con)
    for kind in LSOA_KINDS:
        if kind not in kinds:
            continue
        row = fetch_one(con, "SELECT count(population) FROM areas WHERE kind = ?", [kind])
        if not row or not row[0]:
            continue
        codes, geoms, pop = _polygons(con, kind)
        lsoas = polygon_units(codes, geoms, kind=kind)
        # Density needs the LSOA's own area, in the order polygon_units kept them.
        density_by_code = dict(zip(codes, pop / (shapely.area(geoms) / 1e6), strict=True))
        idx = lsoas.locate(units.x, units.y)
        dens = np.array([density_by_code.get(lsoas.ids[i], np.nan) if i >= 0 else np.nan for i in idx])
        out["population_density"] = dens
        break
    return out
