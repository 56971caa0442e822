"""The weekly tactical assessment: one HTML file (images inline, so it can be mailed) and its PDF.

It reads what the store already holds (the latest forecast, the plan for the week, places, stop and
search) and adds what a Tactical Tasking and Coordination Group asks for: trends, what changed (emerging
hot spots), where the forecast points and how accurate it has been, the plan, hub tactics, provenance and
caveats. Each section degrades to a short note when its input is missing rather than failing the brief.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import numpy as np
import shapely

from safestreets import __version__
from safestreets.errors import NotFoundError
from safestreets.report.charts import small_multiples, trend_chart
from safestreets.report.maps import surface_map
from safestreets.store import fetch_one
from safestreets.store.queries import command_unit_names

CAVEATS = [
    "Forecasts are of crime reported to the police, located at anonymised snap points (data.police.uk moves "
    "each crime to the nearest of about 750,000 points), so a cell's count is approximate at street level.",
    "Expected harm uses the stated harm weights per crime type; a type's weight is an average over offences "
    "that differ widely in seriousness.",
    "Patrol effects come from a stated dosage-response assumption (docs/planning.md), not from an evaluation "
    "in this area: read 'harm prevented' as a planning score, not a promise.",
    "Hub and sweep suggestions, and any incident context, are decision support: they never authorise a "
    "Section 60 or any other power.",
    "Nothing here names or profiles individuals; every figure is about places and times.",
]

#: Planned hot spots marked on each BCU's map and listed beside it (the first by the plan's numbering).
MAP_HOTSPOTS = 12
#: Days between the data's end and the forecast's start beyond which the briefing warns it is stale.
STALE_DAYS = 14


@dataclass
class Brief:
    html: Path
    pdf: Path | None
    images: dict[str, Path]
    context: dict[str, Any] = field(repr=False)


def _uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _geoms(con: duckdb.DuckDBPyConnection, kind: str) -> tuple[list[str], np.ndarray]:
    rows = con.execute("SELECT code, geometry FROM areas WHERE kind = ? AND geometry IS NOT NULL ORDER BY code",
                       [kind]).fetchall()  # fmt: skip
    return [r[0] for r in rows], np.array(shapely.from_wkb([bytes(r[1]) for r in rows]), dtype=object)


def _target_types(prov: dict[str, Any]) -> list[str]:
    return list(prov.get("data", {}).get("target", {}).get("types", []))


#: A command unit with fewer of the trend's crimes than this share gets no row of its own.
MIN_BCU_EVENT_SHARE = 0.02


def slivers(series: dict[str, np.ndarray], whole: str) -> dict[str, int]:
    """The command units of ``series`` with under :data:`MIN_BCU_EVENT_SHARE` of the crimes in ``whole``
    (the citywide series), and their crimes: records just over the edge of a force's area (the City of
    London's beside the Met's units), to count citywide only rather than show as units of their own."""
    total = np.nansum(series[whole])
    return {b: int(np.nansum(v)) for b, v in series.items()
            if b != whole and np.nansum(v) < MIN_BCU_EVENT_SHARE * total}  # fmt: skip


@dataclass
class Trend:
    """Counts per period, citywide (``"all"``) and per BCU; ``missing`` marks periods with no records of
    the source at all (a gap in the data, or after its end), which are not zero crimes."""

    names: list[str]
    series: dict[str, np.ndarray]
    missing: np.ndarray
    keys: list[datetime]
    #: Command units with too few of the events to be shown apart (spill-over across the area's edge).
    left_out: dict[str, int] = field(default_factory=dict)


def trend_series(con: duckdb.DuckDBPyConnection, types: list[str], source: str, *, periods: int,
                 weekly: bool, until: datetime) -> Trend:  # fmt: skip
    """Counts per week (timestamped sources) or month, citywide and per BCU, for the periods before
    ``until``; periods before the source's first record are left out."""
    if weekly:
        start = until - timedelta(weeks=periods)
        bucket = "date_trunc('week', occurred_at::TIMESTAMP)"
        labels = [(start + timedelta(weeks=i)).date() for i in range(periods)]
        keys = [datetime.combine(d - timedelta(days=d.weekday()), datetime.min.time()) for d in labels]
    else:
        y, m = until.year, until.month
        months = [(y * 12 + m - 1 - k) for k in range(periods, 0, -1)]
        keys = [datetime(v // 12, v % 12 + 1, 1) for v in months]
        start = keys[0]
        bucket = "month::TIMESTAMP"
    when = "coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP)"
    first = fetch_one(con, f"SELECT min({when}) FROM events WHERE source = ?", [source])
    if first is not None and first[0] is not None:
        # A chart that starts before the data would show months of "no data" that are only "not yet".
        def period_end(k: datetime) -> datetime:
            return k + timedelta(weeks=1) if weekly else datetime(k.year + k.month // 12, k.month % 12 + 1, 1)

        kept = [k for k in keys if period_end(k) > first[0]] or keys[-1:]
        if len(kept) < len(keys):
            keys, start = kept, kept[0]
    names = [k.strftime("%d %b" if weekly else "%b %Y") for k in keys]
    ph = ",".join("?" for _ in types)
    rows = con.execute(
        f"SELECT {bucket} AS p, coalesce(bcu, '') AS b, count(*) FROM events WHERE source = ? AND crime_type IN "
        f"({ph}) AND {when} >= ? AND {when} < ? GROUP BY 1, 2",
        [source, *types, start, until],
    ).fetchall()  # fmt: skip
    # Periods in which the source has no record of any type: no data, not no crime.
    have = {r[0] for r in con.execute(
        f"SELECT DISTINCT {bucket} FROM events WHERE source = ? AND {when} >= ? AND {when} < ?",
        [source, start, until]).fetchall()}  # fmt: skip
    index = {k: i for i, k in enumerate(keys)}
    series: dict[str, np.ndarray] = {"all": np.zeros(len(keys))}
    for p, b, n in rows:
        i = index.get(p)
        if i is None:
            continue
        series["all"][i] += n
        if b:
            series.setdefault(b, np.zeros(len(keys)))[i] += n
    missing = np.array([k not in have for k in keys], dtype=bool)
    left_out = slivers(series, "all")
    for b in left_out:
        del series[b]
    for v in series.values():
        v[missing] = np.nan
    return Trend(names, series, missing, keys, left_out)


def gap_note(con: duckdb.DuckDBPyConnection, trend: Trend, source: str, data_end: str | None) -> str | None:
    """What the trend chart leaves blank, and why (a gap in the published data, or after its end)."""
    from safestreets.report.charts import runs
    from safestreets.store.queries import gaps

    spans = []
    for a, b in runs(trend.missing):
        spans.append(trend.names[a] if a == b else f"{trend.names[a]} to {trend.names[b]}")
    if not spans:
        return None
    known = [f"{what.rsplit(' ', 1)[0] if what.endswith(source) else what}: {first} to {last} ({n} months)"
             for what, first, last, n in gaps(con) if what.endswith(f" {source}")]  # fmt: skip
    text = (
        f"No {source} records at all for {'; '.join(spans)}: shaded and left blank, not drawn as zero crimes."
    )
    if known:
        text += " Gaps in the data: " + "; ".join(known) + "."
    if trend.missing[-1] and data_end:
        text += f" The data end {data_end}."
    return text


def _backtest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        out.append({"model": r["model"], "coverage": f"{r['coverage']:.0%}", "hit_rate": r["hit_rate"],
                    "hit_rate_lo": r.get("hit_rate_lo"), "hit_rate_hi": r.get("hit_rate_hi"),
                    "pai": r.get("pai"), "pei": r.get("pei"), "origins": r.get("origins"),
                    "ceiling": r.get("ceiling_hit_rate"), "of_ceiling": r.get("ceiling_share")})  # fmt: skip
    return sorted(out, key=lambda r: (r["coverage"], -(r["hit_rate"] or 0)))


def write_brief(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | Path,
    *,
    week: date | None = None,
    forecast_run: int | None = None,
    plan_id: int | None = None,
    hubs_budget: int | None = None,
    periods: int | None = None,
    pdf: bool = True,
    title: str | None = None,
    save: bool = True,
    progress: Callable[[str], None] | None = None,
    community: list[dict[str, Any]] | None = None,
    db: Any = None,
) -> Brief:
    """Write ``tactical-assessment-<week>.html`` (and ``.pdf``) into ``out_dir``.

    The forecast's backtest, its emerging hot spots and the hub ranking are read from the store; what is
    missing or stale is computed (and, with ``save``, stored) and the briefing says so. ``periods`` and
    ``hubs_budget`` ask for a classification over that many periods and at least that many deployments
    (default: whatever is stored, else 12 periods and 5 deployments). ``community``: anonymous reports'
    counts per area and week (from the intel channel), for a section of counts only."""
    from safestreets.forecast.store import read_surface
    from safestreets.plan.run import default_week
    from safestreets.report import brief_parts as parts
    from safestreets.report.hotspot_map import emerging_map
    from safestreets.report.intel_section import community_section
    from safestreets.trends.run import forecast_inputs

    step = progress or (lambda _what: None)
    out = Path(out_dir)
    surface = read_surface(con, forecast_run)
    prov = surface.provenance
    data = prov.get("data", {})
    week_start = week or default_week(surface.window[0])
    stem = f"tactical-assessment-{week_start}"
    img_dir = out / f"{stem}-images"
    img_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, Path] = {}
    types = _target_types(prov)
    target_name = data.get("target", {}).get("name", "target")
    source = data.get("source", "police.uk")
    weekly = data.get("resolution") == "timestamp"
    forces = [r[0] for r in con.execute("SELECT DISTINCT force FROM events ORDER BY 1").fetchall()]
    bcu_names = command_unit_names(con)  # shown in place of BCU and borough codes
    bcu_codes, bcu_geoms = _geoms(con, "bcu")
    _, borough_geoms = _geoms(con, "borough")
    outlines = bcu_geoms if len(bcu_geoms) else (borough_geoms if len(borough_geoms) else None)
    if outlines is not None:
        # Only the outlines around the forecast's area: a force of one borough is not drawn as a speck in
        # a map of every borough loaded.
        x0, y0, x1, y1 = shapely.total_bounds(surface.geometry)
        pad = 0.05 * max(x1 - x0, y1 - y0)
        clipped = shapely.clip_by_rect(outlines, x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        outlines = clipped[~shapely.is_empty(clipped)]

    # 1. trends
    step("trends")
    until = surface.window[0]
    trend = trend_series(con, types, source, periods=26 if weekly else 24, weekly=weekly, until=until)
    names, series = trend.names, trend.series
    unit = "week" if weekly else "month"
    images["trend"] = trend_chart(img_dir / "trend.png", names, {"all": series["all"]}, missing=trend.missing,
                                  title=f"{target_name.capitalize()}: crimes per {unit}, citywide")  # fmt: skip
    by_bcu = {bcu_names.get(k, k): v for k, v in series.items() if k != "all"}
    if by_bcu:
        images["trend_bcu"] = small_multiples(img_dir / "trend-bcu.png", names, by_bcu, missing=trend.missing,
                                              title=f"{target_name.capitalize()} per {unit} by BCU")  # fmt: skip
    stale = _staleness(prov, surface.window[0], surface.days)
    trend_note = gap_note(con, trend, source, stale["data_to"])
    if trend.left_out:
        shown = ", ".join(f"{bcu_names.get(b, b)} ({n:,})" for b, n in sorted(trend.left_out.items()))
        left = (f"Counted citywide only, under {MIN_BCU_EVENT_SHARE:.0%} of the crimes each: {shown} "
                "(records just over the area's edge).")  # fmt: skip
        trend_note = f"{trend_note} {left}" if trend_note else left
    trend_rows = []
    for k, v in series.items():
        earlier = v[-5:-1]
        before = float(np.nanmean(earlier)) if len(v) > 4 and np.isfinite(earlier).any() else float("nan")
        last = None if np.isnan(v[-1]) else int(v[-1])
        change = (v[-1] - before) / before if before and last is not None else float("nan")
        trend_rows.append(
            {"name": "citywide" if k == "all" else bcu_names.get(k, k), "last": last, "mean4": before,
             "change": change}
        )

    # 2. forecast maps
    step("forecast maps")
    density = surface.expected_harm / np.maximum(surface.area_m2, 1.0) * 1e6
    place = {str(u): surface.place(i) for i, u in enumerate(surface.ids)}
    order = np.argsort(-density, kind="stable")
    area_cum = np.cumsum(surface.area_m2[order]) / surface.area_m2.sum()
    top5 = np.zeros(len(order), dtype=bool)
    top5[order[area_cum <= 0.05]] = True
    labels = []
    if len(bcu_geoms):
        for code, g in zip(bcu_codes, bcu_geoms, strict=True):
            p = g.representative_point()
            labels.append((p.x, p.y, bcu_names.get(code, code)))
    images["forecast"] = surface_map(
        img_dir / "forecast.png", surface.geometry, density, boundaries=outlines, labels=labels, highlight=top5,
        title=f"Forecast {target_name}, {surface.window[0]:%d %b %Y} to {surface.window[1]:%d %b %Y}",
        note=f"outlined: the riskiest 5% of the area; model {prov.get('model')}; safestreets {__version__}",
    )  # fmt: skip

    # plan (for markers on the BCU maps)
    plan_row = _plan_row(con, plan_id, week_start)
    plan_spots: list[dict[str, Any]] = []
    if plan_row is not None:
        # Numbered as the plan numbers them (its exports and patrol cards use the same numbers).
        # Named as the plan's forecast named them.
        plan_spots = [dict(zip(("hotspot", "unit_id", "bcu", "visits", "x", "y", "name"), r, strict=True)) for r in con.execute(
            "SELECT hotspot, h.unit_id, h.bcu, sum(visits_per_day), any_value(h.x), any_value(h.y), "
            f"coalesce(any_value(f.name), h.unit_id) FROM plan_hotspots h {_FORECAST_NAMES} "
            "WHERE h.plan_id = ? GROUP BY 1, 2, 3 ORDER BY 1, 2", [plan_row["plan_id"]]).fetchall()]  # fmt: skip
    bcu_maps = []
    top_rows: dict[str, list[dict[str, Any]]] = {}
    for b in sorted(set(surface.bcu) - {""}):
        idx = np.flatnonzero(surface.bcu == b)
        sub = idx[np.argsort(-density[idx], kind="stable")]
        top_rows[b] = [{"unit_id": surface.ids[i], "name": surface.place(i), "expected_harm": float(surface.expected_harm[i]),
                        "density": float(density[i]), "count": float(surface.expected_count[i]),
                        **_unit_interval(surface, i)} for i in sub[:5]]  # fmt: skip
        mine = [s for s in plan_spots if s["bcu"] == b]
        shown = mine[:MAP_HOTSPOTS]  # the map and the list beside it show the same hot spots
        markers = [(s["x"], s["y"], str(s["hotspot"])) for s in shown]
        g = bcu_geoms[bcu_codes.index(b)] if b in bcu_codes else None
        bounds = tuple(shapely.total_bounds(np.append(surface.geometry[idx], [g] if g is not None else [])))
        path = surface_map(img_dir / f"forecast-{b}.png", surface.geometry[idx], density[idx],
                           boundaries=None if g is None else [g], highlight=top5[idx], markers=markers,
                           title=f"{bcu_names.get(b, b)}: forecast and planned patrol hot spots", bounds=bounds, size=(5.0, 4.2))  # fmt: skip
        images[f"bcu-{b}"] = path
        bcu_maps.append({"bcu": b, "image": f"bcu-{b}", "spots": shown, "more": len(mine) - len(shown)})

    # History and units of the forecast: loaded only if something must be computed, then shared.
    loaded: list[Any] = []

    def inputs() -> Any:
        if not loaded:
            loaded.append(forecast_inputs(con, prov, until))
        return loaded[0]

    # 3. what changed
    step("emerging hot spots")
    changes: dict[str, Any] = {"note": None}
    em, em_part = parts.emerging(con, surface, periods=periods, inputs=inputs, save=save)
    if em is not None:
        images["emerging"] = emerging_map(em.aligned(surface.ids), surface.units, img_dir / "emerging.png",
                                          boundaries=outlines, title=f"What changed: emerging hot spots, {em.window()}")  # fmt: skip
        changes.update(
            summary={k: v for k, v in em.summary().items() if k != "no pattern"},
            rows=[{**c.__dict__, "name": place.get(c.unit_id, c.unit_id)} for c in em.changes(limit=15)],
            params=em.params,
            window=em.window(),
            computed=em_part.note,
        )
    else:
        changes["note"] = em_part.note

    # 4. hubs
    step("transport hubs")
    ranking, hubs_part = parts.hub_ranking(con, surface, budget=hubs_budget, save=save)
    if ranking is not None:
        hubs: dict[str, Any] = {"rows": [{**r, "when": hub_when(r)} for r in ranking.deployments.to_pylist()], "lines": ranking.lines(),
                                "notes": ranking.notes, "params": ranking.params, "computed": hubs_part.note}  # fmt: skip
    else:
        hubs = {"rows": [], "lines": [], "notes": [hubs_part.note], "params": {}, "computed": None}

    # 5. the forecast's accuracy
    step("forecast accuracy")
    accuracy, acc_part = parts.accuracy(con, surface, inputs=inputs, save=save)
    accuracy_note = acc_part.note
    brief_parts = [acc_part, em_part, hubs_part]

    # 6. summary lines
    last = trend_rows[0]
    summary = []
    if stale["warning"]:
        summary.append(stale["warning"])
    if last["last"] is None:
        summary.append(
            f"{target_name.capitalize()}: no {source} data for the last {unit} before the forecast."
        )
    else:
        summary.append(f"{target_name.capitalize()}: {last['last']:,} crimes in the last {unit} "
                       f"({_pct(last['change'])} against the mean of the 4 before).")  # fmt: skip
    summary.append(
        f"Forecast for {surface.window[0]:%d %b}-{surface.window[1]:%d %b %Y}: model {prov.get('model')}; the "
        f"riskiest 5% of the area holds {surface.expected_harm[top5].sum() / max(surface.expected_harm.sum(), 1e-9):.0%} "
        "of expected harm" + (f"; data to {stale['data_to']}." if stale["data_to"] else ".")
    )
    if changes.get("summary"):
        s = changes["summary"]
        summary.append("Hot spot changes: " + ", ".join(f"{v} {k}" for k, v in s.items() if v) + ".")
    if plan_row is not None:
        summary.append(f"Patrol plan {plan_row['plan_id']}: {plan_row['teams']} team-shifts, "
                       f"{plan_row['hotspots']} hot spots, {plan_row['visits']} visits a day; solver "
                       f"{plan_row['solver']}, within {plan_row['gap']:.2%} of the best possible plan.")  # fmt: skip
    if hubs.get("rows"):
        first = hubs["rows"][0]
        summary.append(
            f"Hub tactics: {len(hubs['rows'])} deployments, first {first['name']}, {first['when']}."
        )

    context = {
        "title": title or f"Tactical assessment: week of {week_start:%d %B %Y}",
        "week_start": week_start, "week_end": week_start + timedelta(days=6),
        "made_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "version": __version__,
        "forces": forces, "target": target_name, "types": types,
        "police_found": bool(data.get("target", {}).get("police_found")),
        "summary": summary, "trend_rows": trend_rows, "unit": unit, "trend_note": trend_note, "stale": stale,
        "trend": {"names": names, "missing": [bool(m) for m in trend.missing]},
        "forecast": {"run_id": surface.run_id, "model": prov.get("model"), "reason": prov.get("auto", {}).get("reason"),
                     "window": [str(w) for w in surface.window], "params": prov.get("params", {}),
                     "backtest": _backtest_rows(accuracy), "accuracy_note": accuracy_note, "top": top_rows, "rank_by": prov.get("rank_by"),
                     "intervals": _interval_rows(prov, bcu_names)},
        "bcu_maps": bcu_maps, "changes": changes, "plan": plan_row, "hubs": hubs, "parts": brief_parts,
        "bcu_names": bcu_names,
        "provenance": {"forecast": prov, "plan": plan_row["params"] if plan_row else None,
                       "backtest": {"how": acc_part.how, "ref": acc_part.ref, "params": acc_part.params,
                                    "summary": accuracy},
                       "emerging": changes.get("params"), "hubs": hubs.get("params")},
        "sources": parts.data_rows(con), "made_by": parts.made_by(surface, brief_parts, plan_row),
        "sidecar": f"{stem}.provenance.json", "data": data, "caveats": CAVEATS,
        "community": community_section(community or [], week_start),
        "accountability": _accountability(con, db, week_start),
        "impact": parts.impact_sections(con),
    }  # fmt: skip
    step("writing")
    env = jinja2.Environment(loader=jinja2.PackageLoader("safestreets.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))  # fmt: skip
    env.filters["pct"] = _pct
    env.filters["rate"] = lambda v: "n/a" if v is None or not np.isfinite(v) else f"{v:.1%}"
    env.filters["num"] = lambda v, d=1: (
        "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:,.{d}f}"
    )
    # The full provenance goes beside the document, which names it and gives the digests of its parameters.
    (out / context["sidecar"]).write_text(json.dumps(
        {"file": f"{stem}.html", "made_at": context["made_at"], "software": f"safestreets {__version__}",
         "digests": "sha256 of the canonical JSON (keys sorted, no spaces) of each part's parameters, first 12 "
                    "hex digits: forecast.params, backtest.params, emerging, hubs, plan",
         "made_by": context["made_by"], "data_sources": context["sources"], **context["provenance"]},
        indent=2, default=str), "utf-8")  # fmt: skip
    html = env.get_template("brief.html.j2").render(img={k: _uri(v) for k, v in images.items()}, **context)
    html_path = out / f"{stem}.html"
    html_path.write_text(html, "utf-8")
    pdf_path = None
    if pdf:
        import weasyprint

        pdf_path = out / f"{stem}.pdf"
        weasyprint.HTML(string=html, base_url=str(out)).write_pdf(str(pdf_path))
    return Brief(html_path, pdf_path, images, context)


def _unit_interval(surface: Any, i: int) -> dict[str, Any]:
    """A unit's predictive interval (whole counts) for the tables, empty for a run stored without one."""
    if surface.count_lower is None or surface.count_upper is None or not np.isfinite(surface.count_lower[i]):
        return {}
    return {"lower": float(surface.count_lower[i]), "upper": float(surface.count_upper[i])}


def _interval_rows(prov: dict[str, Any], bcu_names: dict[str, str]) -> dict[str, Any] | None:
    """The city's and each command unit's expected count with its interval (forecast/intervals.py)."""
    iv = prov.get("intervals")
    if not iv or not iv.get("totals"):
        return None
    rows = [{"name": "citywide" if k == "city" else bcu_names.get(k, k), **v}
            for k, v in sorted(iv["totals"].items(), key=lambda kv: (kv[0] != "city", kv[0]))]  # fmt: skip
    return {"level": iv.get("level", 0.8), "rows": rows, "k_unit": iv.get("k_unit"), "k_total": iv.get("k_total"),
            "origins": len(iv.get("calibration_origins") or [])}  # fmt: skip


def _accountability(con: duckdb.DuckDBPyConnection, db: Any, week_start: date) -> dict[str, Any]:
    """Stop and search, operations and Section 60 for the briefing (``db``: the registers, when given)."""
    from safestreets.report.brief_accountability import accountability_sections

    return accountability_sections(con, db, week_start)


def _staleness(prov: dict[str, Any], start: datetime, window_days: float) -> dict[str, Any]:
    """The data's last day, how long before the forecast's start it is, and a warning when the gap is
    wide (over :data:`STALE_DAYS`, or half the forecast's window if that is shorter)."""
    data = prov.get("data", {})
    stale = prov.get("staleness") or {}
    if stale.get("data_end"):
        end = date.fromisoformat(str(stale["data_end"])[:10])
        # Month-only data end at the start of the month after the last one; timestamped, on the last day.
        last_day = end - timedelta(days=1) if data.get("resolution") == "month" else end
        days = float(stale.get("days_after_data") or 0.0)
    elif data.get("last_month"):  # forecasts stored before staleness was recorded
        y, m = (int(v) for v in str(data["last_month"]).split("-"))
        end = date(y + m // 12, m % 12 + 1, 1)
        last_day, days = end - timedelta(days=1), float(max((start.date() - end).days, 0))
    else:
        return {"data_to": None, "days": None, "warning": None}
    data_to = f"{last_day:%d %b %Y}"
    warnings = []
    if days > min(STALE_DAYS, window_days / 2):
        warnings.append(f"The forecast starts {days:,.0f} days after the data end ({data_to}): what happened since "
                        "is not in it. Load more recent data and forecast again.")  # fmt: skip
    from safestreets.forecast.data import gap_warnings

    warnings += [f"The forecast's data: {w}." for w in gap_warnings(data)]
    return {"data_to": data_to, "days": days, "warning": " ".join(warnings) or None}


def hub_when(row: dict[str, Any]) -> str:
    """A deployment's day and time slot, or what stands in for them when the data carry no times."""
    if row.get("day"):
        return f"{row['day']} {row.get('start') or ''}–{row.get('end') or ''}".strip("– ")
    return "any time (the data carry no times)"


#: Joins a plan's hot spots (``h``) to the names their forecast stored (``f``).
_FORECAST_NAMES = (
    "LEFT JOIN plan_runs r ON r.plan_id = h.plan_id "
    "LEFT JOIN forecasts f ON f.run_id = r.forecast_run_id AND f.unit_id = h.unit_id"
)


def _plan_row(con: duckdb.DuckDBPyConnection, plan_id: int | None, week: date) -> dict[str, Any] | None:
    """The chosen plan, else the latest for the week, else none."""
    if plan_id is None:
        row = fetch_one(con, "SELECT max(plan_id) FROM plan_runs WHERE week_start = ?", [week])
        plan_id = row[0] if row else None
        if plan_id is None:
            return None
    info = fetch_one(con, "SELECT plan_id, week_start, solver, status, objective, bound, gap, params "
                          "FROM plan_runs WHERE plan_id = ?", [plan_id])  # fmt: skip
    if info is None:
        raise NotFoundError(
            f"no patrol plan {plan_id} in the store: run 'safestreets plan' or leave out --plan"
        )
    per_bcu = [dict(zip(("bcu", "teams", "hotspots", "visits", "harm"), r, strict=True)) for r in con.execute(
        "SELECT bcu, count(DISTINCT team_id), count(DISTINCT unit_id), sum(visits_per_day), "
        "sum(DISTINCT harm_week) FROM plan_hotspots WHERE plan_id = ? GROUP BY 1 ORDER BY 1", [plan_id]).fetchall()]  # fmt: skip
    teams = [dict(zip(("team_id", "shift", "bcu", "stops", "visits", "units"), r, strict=True)) for r in con.execute(
        "SELECT team_id, any_value(shift), any_value(h.bcu), count(*), sum(visits_per_day), "
        "string_agg('#' || hotspot || ' ' || coalesce(f.name, h.unit_id), '; ' ORDER BY stop) "
        f"FROM plan_hotspots h {_FORECAST_NAMES} WHERE h.plan_id = ? GROUP BY 1 ORDER BY 1",
        [plan_id]).fetchall()]  # fmt: skip
    return {
        "plan_id": info[0], "week_start": info[1], "solver": info[2], "status": info[3], "objective": info[4],
        "bound": info[5], "gap": info[6], "params": json.loads(info[7]), "per_bcu": per_bcu, "teams_list": teams,
        "teams": len(teams), "hotspots": sum(r["hotspots"] for r in per_bcu),
        "visits": int(sum(r["visits"] for r in per_bcu)),
    }  # fmt: skip


def _pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:+.0%}"
