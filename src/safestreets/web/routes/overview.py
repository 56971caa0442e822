"""The overview: recent trend and harm by command unit, what changed, the current plan at a glance."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from safestreets.api import Workspace, catalog
from safestreets.api import catalog_models as m
from safestreets.db.sessions import Active
from safestreets.web import cache
from safestreets.web.deps import Viewer, record, workspace
from safestreets.web.render import page
from safestreets.web.svg import sparkline

router = APIRouter()


@router.get("/api/overview", tags=["overview"], summary="The overview: trend per BCU, what changed, the plan",
            response_model=m.Overview)  # fmt: skip
def api_overview(request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)) -> Response:
    record(request, active, "view", "/api/overview")
    answer = cache.cached(request, ws, "/api/overview", {}, active.account.role,
                          lambda: (catalog.overview(ws).model_dump_json().encode(), "application/json", {}))  # fmt: skip
    return cache.respond(request, answer)


def _dump(made: tuple[m.Overview, dict[str, Markup]]) -> bytes:
    return json.dumps({"overview": made[0].model_dump(mode="json"), "sparks": made[1]}).encode()


def _load(blob: bytes) -> tuple[m.Overview, dict[str, Markup]]:
    data = json.loads(blob)
    return m.Overview.model_validate(data["overview"]), {k: Markup(v) for k, v in data["sparks"].items()}


#: The overview's figures and sparklines, computed by one worker and read by the others.
FIGURES = cache.Codec(_dump, _load)


def _overview(ws: Workspace) -> tuple[m.Overview, dict[str, Markup]]:
    data = catalog.overview(ws)
    sparks = {
        s.name: sparkline(s.events, label=f"{s.label or s.name}: events per month")
        for s in (data.trend.series if data.trend else [])
    }
    return data, sparks


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(
    request: Request, active: Active = Viewer, ws: Workspace = Depends(workspace)
) -> HTMLResponse:
    record(request, active, "view", "/")
    # The figures are kept per snapshot; the page (the user's name, menu, CSRF token) is drawn each time.
    data, sparks = cache.value(request, ws, "overview", lambda: _overview(ws), FIGURES)
    return page(request, "overview.html.j2", overview=data, sparks=sparks)
