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
from safestreets.errors import SafestreetsError
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


def trend_series(con: duckdb.DuckDBPyConnection, types: list[str], source: str, *, periods: int,
                 weekly: bool, until: datetime) -> tuple[list[str], dict[str, np.ndarray]]:  # fmt: skip
    """Counts per week (timestamped sources) or month, citywide and per BCU, for the periods before
    ``until``."""
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
    names = [k.strftime("%d %b" if weekly else "%b %Y") for k in keys]
    ph = ",".join("?" for _ in types)
    rows = con.execute(
        f"SELECT {bucket} AS p, coalesce(bcu, '') AS b, count(*) FROM events WHERE source = ? AND crime_type IN "
        f"({ph}) AND coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) >= ? AND "
        "coalesce(occurred_at::TIMESTAMP, month::TIMESTAMP) < ? GROUP BY 1, 2",
        [source, *types, start, until],
    ).fetchall()  # fmt: skip
    index = {k: i for i, k in enumerate(keys)}
    series: dict[str, np.ndarray] = {"all": np.zeros(len(keys))}
    for p, b, n in rows:
        i = index.get(p)
        if i is None:
            continue
        series["all"][i] += n
        if b:
            series.setdefault(b, np.zeros(len(keys)))[i] += n
    return names, series


def backtest_summary(con: duckdb.DuckDBPyConnection, prov: dict[str, Any], until: datetime, *,
                     origins: int = 4, inputs: tuple[Any, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The forecast's own backtest (``auto`` stores it); for a model chosen by hand, a short one of that
    model with its parameters against the baselines, over the last ``origins`` periods before ``until``."""
    stored = prov.get("auto", {}).get("summary")
    if stored:
        return list(stored)
    from safestreets.evaluate.backtest import backtest, summarise
    from safestreets.forecast import BASELINES, make_model, model_class
    from safestreets.trends.run import forecast_inputs

    history, units = inputs or forecast_inputs(con, prov, until)
    name = prov.get("model", "naive")
    chosen = make_model(name)
    known = model_class(name)().get_params(deep=False)
    chosen.set_params(**{k: v for k, v in prov.get("params", {}).items() if k in known})
    models = {name: chosen, **{b: make_model(b) for b in BASELINES if b != name}}
    result = backtest(models, history, units, origins=origins, horizons=[prov.get("horizon", "1m")],
                      coverages=(0.01, 0.05), by_bcu=False)  # fmt: skip
    return summarise(result.metrics).to_pylist()


def _backtest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        out.append({"model": r["model"], "coverage": f"{r['coverage']:.0%}", "hit_rate": r["hit_rate"],
                    "hit_rate_lo": r.get("hit_rate_lo"), "hit_rate_hi": r.get("hit_rate_hi"),
                    "pai": r.get("pai"), "pei": r.get("pei"), "origins": r.get("origins")})  # fmt: skip
    return sorted(out, key=lambda r: (r["coverage"], -(r["hit_rate"] or 0)))


def write_brief(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | Path,
    *,
    week: date | None = None,
    forecast_run: int | None = None,
    plan_id: int | None = None,
    hubs_budget: int = 5,
    periods: int = 12,
    pdf: bool = True,
    title: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Brief:
    """Write ``tactical-assessment-<week>.html`` (and ``.pdf``) into ``out_dir``."""
    from safestreets.forecast.store import read_surface
    from safestreets.plan.hubs import rank_hubs
    from safestreets.plan.run import default_week
    from safestreets.report.hotspot_map import emerging_map
    from safestreets.trends.run import emerging_for_forecast, forecast_inputs

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

    # 1. trends
    step("trends")
    until = surface.window[0]
    names, series = trend_series(con, types, source, periods=26 if weekly else 24, weekly=weekly, until=until)
    unit = "week" if weekly else "month"
    images["trend"] = trend_chart(img_dir / "trend.png", names, {"all": series["all"]},
                                  title=f"{target_name.capitalize()}: crimes per {unit}, citywide")  # fmt: skip
    by_bcu = {bcu_names.get(k, k): v for k, v in series.items() if k != "all"}
    if by_bcu:
        images["trend_bcu"] = small_multiples(img_dir / "trend-bcu.png", names, by_bcu,
                                              title=f"{target_name.capitalize()} per {unit} by BCU")  # fmt: skip
    trend_rows = []
    for k, v in series.items():
        before = float(np.mean(v[-5:-1])) if len(v) > 4 else float("nan")
        trend_rows.append({"name": "citywide" if k == "all" else bcu_names.get(k, k), "last": int(v[-1]), "mean4": before,
                           "change": (v[-1] - before) / before if before else float("nan")})  # fmt: skip

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
                        "density": float(density[i])} for i in sub[:5]]  # fmt: skip
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

    # 3. what changed
    step("emerging hot spots")
    changes: dict[str, Any] = {"note": None}
    inputs = None
    try:
        inputs = forecast_inputs(con, prov, until)  # history and units, shared with the accuracy section
        em, units = emerging_for_forecast(con, prov, until, periods=periods, inputs=inputs)
        images["emerging"] = emerging_map(em, units, img_dir / "emerging.png", boundaries=outlines,
                                          title=f"What changed: emerging hot spots, {em.window()}")  # fmt: skip
        changes.update(
            summary={k: v for k, v in em.summary().items() if k != "no pattern"},
            rows=[{**c.__dict__, "name": place.get(c.unit_id, c.unit_id)} for c in em.changes(limit=15)],
            params=em.params,
            window=em.window(),
        )
    except (SafestreetsError, ValueError) as err:
        changes["note"] = f"emerging hot spots not computed: {err}"

    # 4. hubs
    step("transport hubs")
    hubs: dict[str, Any] = {}
    try:
        ranking = rank_hubs(con, None, budget=hubs_budget)
        hubs = {"rows": ranking.deployments.to_pylist(), "lines": ranking.lines(), "notes": ranking.notes,
                "params": ranking.params}  # fmt: skip
    except (SafestreetsError, ValueError) as err:
        hubs = {"rows": [], "lines": [], "notes": [f"hub tactics not computed: {err}"], "params": {}}

    # 5. the forecast's accuracy
    step("forecast accuracy")
    accuracy_note = None
    try:
        accuracy = backtest_summary(con, prov, until, inputs=inputs)
        if not prov.get("auto", {}).get("summary"):
            accuracy_note = (
                f"{prov.get('model')} was chosen by hand: backtested here with its parameters over "
                "the last 4 periods, against the baselines."
            )
    except (SafestreetsError, ValueError) as err:
        accuracy, accuracy_note = [], f"no backtest: {err}"

    # 6. summary lines
    last = series["all"]
    summary = [
        f"{target_name.capitalize()}: {int(last[-1]):,} crimes in the last {unit} "
        f"({_pct(trend_rows[0]['change'])} against the mean of the 4 before).",
        f"Forecast for {surface.window[0]:%d %b}-{surface.window[1]:%d %b %Y}: model {prov.get('model')}; the "
        f"riskiest 5% of the area holds {surface.expected_harm[top5].sum() / max(surface.expected_harm.sum(), 1e-9):.0%} "
        "of expected harm.",
    ]
    if changes.get("summary"):
        s = changes["summary"]
        summary.append("Hot spot changes: " + ", ".join(f"{v} {k}" for k, v in s.items() if v) + ".")
    if plan_row is not None:
        summary.append(f"Patrol plan {plan_row['plan_id']}: {plan_row['teams']} team-shifts, "
                       f"{plan_row['hotspots']} hot spots, {plan_row['visits']} visits a day; solver "
                       f"{plan_row['solver']}, within {plan_row['gap']:.2%} of the best possible plan.")  # fmt: skip
    if hubs.get("rows"):
        first = hubs["rows"][0]
        summary.append(f"Hub tactics: {len(hubs['rows'])} deployments, first {first['name']} "
                       f"({first['day'] or 'any day'} {first['start'] or ''}-{first['end'] or ''}).")  # fmt: skip

    context = {
        "title": title or f"Tactical assessment: week of {week_start:%d %B %Y}",
        "week_start": week_start, "week_end": week_start + timedelta(days=6),
        "made_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "version": __version__,
        "forces": forces, "target": target_name, "types": types,
        "police_found": bool(data.get("target", {}).get("police_found")),
        "summary": summary, "trend_rows": trend_rows, "unit": unit,
        "forecast": {"run_id": surface.run_id, "model": prov.get("model"), "reason": prov.get("auto", {}).get("reason"),
                     "window": [str(w) for w in surface.window], "params": prov.get("params", {}),
                     "backtest": _backtest_rows(accuracy), "accuracy_note": accuracy_note, "top": top_rows, "rank_by": prov.get("rank_by")},
        "bcu_maps": bcu_maps, "changes": changes, "plan": plan_row, "hubs": hubs, "bcu_names": bcu_names,
        "provenance": {"forecast": prov, "plan": plan_row["params"] if plan_row else None,
                       "emerging": changes.get("params"), "hubs": hubs.get("params")},
        "data": data, "caveats": CAVEATS,
    }  # fmt: skip
    step("writing")
    env = jinja2.Environment(loader=jinja2.PackageLoader("safestreets.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))  # fmt: skip
    env.filters["pct"] = _pct
    env.filters["num"] = lambda v, d=1: (
        "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:,.{d}f}"
    )
    env.filters["pretty"] = lambda v: json.dumps(v, indent=1, default=str)
    html = env.get_template("brief.html.j2").render(img={k: _uri(v) for k, v in images.items()}, **context)
    html_path = out / f"{stem}.html"
    html_path.write_text(html, "utf-8")
    pdf_path = None
    if pdf:
        import weasyprint

        pdf_path = out / f"{stem}.pdf"
        weasyprint.HTML(string=html, base_url=str(out)).write_pdf(str(pdf_path))
    (out / f"{stem}.provenance.json").write_text(json.dumps(
        {"file": html_path.name, "made_at": context["made_at"], "software": f"safestreets {__version__}",
         **context["provenance"]}, indent=2, default=str), "utf-8")  # fmt: skip
    return Brief(html_path, pdf_path, images, context)


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
        raise SafestreetsError(f"no patrol plan {plan_id} in the store")
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
