"""HTML pages: Jinja2 templates shipped in the package, rendered with the user and CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from safestreets import __version__
from safestreets.web import filters

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TEMPLATES.env.globals["version"] = __version__
filters.install(TEMPLATES.env)

#: The navigation, in order: (path, label, role needed to see it).
NAV = (
    ("/", "Overview", "viewer"),
    ("/map", "Map", "viewer"),
    ("/forecasts", "Forecasts", "viewer"),
    ("/plans", "Plans", "viewer"),
    ("/hubs", "Hubs", "viewer"),
    ("/impact", "Impact", "viewer"),
    ("/briefings", "Briefings", "viewer"),
    ("/accountability/stopsearch", "Stop and search", "viewer"),
    ("/accountability/operations", "Operations", "viewer"),
    ("/accountability/s60", "Section 60", "viewer"),
    ("/status", "Data", "viewer"),
    ("/intel", "Intel", "analyst"),
    ("/anpr", "ANPR", "analyst"),
    ("/admin/users", "Admin", "admin"),
)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    active = getattr(request.state, "active", None)
    nav = [(p, label) for p, label, role in NAV if active is not None and active.account.can(role)]
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"active": active, "nav": nav, "csrf": active.csrf_token if active else "", "path": request.url.path,
         **context},
        status_code=status_code,
    )  # fmt: skip


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html.j2", status_code=status, status=status, message=message)
