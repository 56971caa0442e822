"""Printable patrol cards: one A5-sized card per team and shift, with a map of its patrol area showing its
own hot spots, those hot spots in walking order with their visits on each day, and the visit times for each
day of the week (HTML, and PDF through WeasyPrint). Hot spots carry the plan's one numbering (``run.hotspot_numbers``), as the visits CSV,
the exports and the briefing do, and are listed by the place name the forecast stored (a street officers
know), with the unit's code in small print."""

from __future__ import annotations

import base64
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import shapely

from safestreets import __version__
from safestreets.forecast.store import WHOLE_AREA
from safestreets.plan.run import PlanRun, hotspot_numbers
from safestreets.report.maps import surface_map

TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Patrol cards {{ week }}</title>
<style>
 @page { size: A5 landscape; margin: 8mm; }
 body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 8pt; }
 .card { break-after: page; page-break-after: always; }
 h1 { font-size: 12pt; margin: 0; } .meta { color: #444; font-size: 7pt; margin-bottom: 2mm; }
 table.layout { width: 100%; } table.layout > tbody > tr > td { border: none; padding: 0; vertical-align: top; }
 td.map { width: 44%; padding-right: 3mm; } .map img { width: 100%; }
 table { border-collapse: collapse; font-size: 7.5pt; } th, td { border-bottom: 0.4px solid #aaa; padding: 0.4mm 1.2mm; }
 th { background: #eee; text-align: left; } .rules { clear: both; font-size: 6.5pt; color: #444; padding-top: 2mm; }
 .code { color: #666; font-size: 5.5pt; } td.n, th.n { text-align: center; padding: 0.4mm 0.6mm; }
</style></head><body>
{% for c in cards %}<div class="card">
<h1>{{ c.team }} · {{ c.shift }} shift {{ c.hours }}</h1>
<div class="meta">Week of {{ week }} · {{ c.where }} · {{ c.stops | length }} hot spots, {{ c.per_day }} · plan {{ plan_id }}</div>
<table class="layout"><tr><td class="map"><img src="{{ c.map }}" alt="patrol area"></td><td><table><tr><th>#</th><th>hot spot</th>{% for d in c.day_names %}<th class="n">{{ d }}</th>{% endfor %}<th>grid ref (x, y)</th></tr>
{% for s in c.stops %}<tr><td>{{ s.n }}</td><td><b>{{ s.name }}</b>{% if s.name != s.unit %}<br><span class="code">{{ s.unit }}</span>{% endif %}</td>{% for v in s.by_day %}<td class="n">{{ v or "–" }}</td>{% endfor %}<td>{{ s.ref }}</td></tr>{% endfor %}</table>
<div class="meta">Visits to each hot spot on each day{% if c.varies %}: more on its riskier days, none where its risk is low{% endif %}.</div></td></tr></table>
<table style="margin-top: 2mm"><tr><th>day</th><th>visits (start, hot spot #)</th></tr>
{% for d in c.days %}<tr><td>{{ d.day }}</td><td>{{ d.visits }}</td></tr>{% endfor %}</table>
<div class="rules">Stay {{ visit }} minutes at each visit, at the times shown (they differ each day on purpose). Record each visit.
 Priorities change with calls for service: the card is a plan, not an order. safestreets {{ version }}.</div>
</div>{% endfor %}</body></html>"""


def write_cards(
    run: PlanRun, folder: Path, *, pdf: bool = True, bcu_names: dict[str, str] | None = None
) -> list[Path]:
    """``patrol-cards-<week>.html`` (and ``.pdf``); returns the files written. ``bcu_names``: command unit
    code -> name, shown in place of the code where given."""
    bcu_names = bcu_names or {}
    plan = run.plan
    inp = plan.input
    folder.mkdir(parents=True, exist_ok=True)
    img_dir = folder / f"patrol-cards-{run.week_start}-maps"
    by_team: dict[str, list] = defaultdict(list)
    for v in run.visits:
        by_team[v.team_id].append(v)
    number = hotspot_numbers(plan)  # the plan's one numbering, as in its exports and the briefing
    maps: dict[tuple[int, tuple[int, ...]], str] = {}
    surface = run.surface
    density = surface.expected_harm / np.maximum(surface.area_m2, 1.0) * 1e6
    cards = []
    day_names = [(run.week_start + timedelta(days=d)).strftime("%a") for d in range(7)]
    for team in plan.teams:
        area = plan.areas[team.area]
        mine = sorted({int(u) for u, _ in team.hotspots}, key=lambda u: number[u])
        key = (team.area, tuple(mine))  # teams of other shifts with the same hot spots share the map
        if key not in maps:
            near = np.hypot(surface.x - area.cx, surface.y - area.cy) <= 2.2 * plan.rules.patrol_radius_m
            # Only this team's hot spots, so the card never shows a number the team is not asked to visit.
            png = surface_map(
                img_dir / f"{team.team_id}.png", surface.geometry[near], density[near],
                markers=[(inp.x[u], inp.y[u], str(number[u])) for u in mine],
                bounds=tuple(shapely.total_bounds(surface.geometry[near])), size=(3.6, 3.2),
                legend="expected harm per km²",
            )  # fmt: skip
            maps[key] = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        # Visits per hot spot and day from the timetable itself: the days differ where the plan spread each
        # hot spot's visits by its risk on each day (plan/days.py), and are the same otherwise.
        counts: dict[int, list[int]] = defaultdict(lambda: [0] * 7)
        for v in by_team[team.team_id]:
            counts[v.unit][(v.day - run.week_start).days % 7] += 1
        stops = [{"n": number[u], "name": surface.place(u), "unit": str(inp.ids[u]), "visits": v,
                  "by_day": counts[u], "ref": f"{inp.x[u]:.0f}, {inp.y[u]:.0f}"} for u, v in team.hotspots]  # fmt: skip
        daily = [sum(s["by_day"][d] for s in stops) for d in range(7)]
        borough = _shared_borough(stops)
        days: dict[str, list[str]] = defaultdict(list)
        for v in sorted(by_team[team.team_id], key=lambda v: v.start):
            days[v.day.strftime("%a %d %b")].append(f"{v.start:%H:%M} #{number[v.unit]}")
        shift = plan.rules.shift(team.shift)
        end = (shift.start_hour + shift.hours) % 24
        cards.append({
            "team": team.team_id, "shift": team.shift, "stops": stops,
            "where": " · ".join(dict.fromkeys(w for w in (_command_unit(area.bcu, bcu_names), borough) if w)),
            "hours": f"{int(shift.start_hour):02d}:00-{int(end):02d}:00",
            "per_day": _per_day(daily), "map": maps[key], "day_names": day_names,
            "varies": any(len(set(s["by_day"])) > 1 for s in stops),
            "days": [{"day": d, "visits": ", ".join(v)} for d, v in days.items()],
        })  # fmt: skip
    html = jinja2.Environment(autoescape=True).from_string(TEMPLATE).render(
        cards=cards, week=run.week_start, plan_id=run.plan_id, visit=f"{plan.rules.visit_minutes:g}",
        version=__version__,
    )  # fmt: skip
    html_path = folder / f"patrol-cards-{run.week_start}.html"
    html_path.write_text(html, "utf-8")
    written = [html_path]
    if pdf:
        import weasyprint

        pdf_path = html_path.with_suffix(".pdf")
        weasyprint.HTML(string=html, base_url=str(folder)).write_pdf(str(pdf_path))
        written.append(pdf_path)
    return written


def _per_day(daily: list[int]) -> str:
    """The team's visits a day, or over the week with the range where the days differ."""
    if len(set(daily)) == 1:
        return f"{daily[0]} visits a day"
    return f"{sum(daily)} visits in the week ({min(daily)}-{max(daily)} a day)"


def _command_unit(code: str, names: dict[str, str]) -> str:
    if code in names:
        return names[code]
    return "whole study area" if code == WHOLE_AREA else f"BCU {code}"


def _shared_borough(stops: list[dict[str, Any]]) -> str:
    """The borough every stop's name ends with (", City of London"), taken off the names so that a
    street fits the card's line; "" (and the names left whole) where the stops differ."""
    tails = {s["name"].rpartition(", ")[2] if ", " in s["name"] else None for s in stops}
    if len(tails) != 1 or None in tails:
        return ""
    borough = str(tails.pop())
    for s in stops:
        s["name"] = s["name"][: -len(borough) - 2]
    return borough
