"""The staff dashboard: a FastAPI app over the same Python API as the CLI.

``create_app`` builds it for one workspace and operational database; ``safestreets serve`` runs it with
uvicorn (several workers share nothing but the database and the workspace's snapshots).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from safestreets import __version__
from safestreets.config import resolve_workspace
from safestreets.db import connect, sessions
from safestreets.web import auth, cache, security
from safestreets.web.cache import AnswerCache
from safestreets.web.deps import Viewer
from safestreets.web.render import page
from safestreets.web.routes import ROUTERS
from safestreets.web.settings import WebSettings

FAVICON = Path(__file__).with_name("static") / "favicon.svg"


def create_app(settings: WebSettings) -> FastAPI:
    if not settings.secret:
        settings = WebSettings(**{**settings.__dict__, "secret": WebSettings.secret_for(settings.workspace)})
    app = FastAPI(
        title="safestreets",
        version=__version__,
        description="The staff dashboard's JSON API: every page is built from these endpoints.",
        docs_url=None,  # FastAPI's own docs page loads Swagger UI from a CDN: ours is served locally
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.paths = resolve_workspace(settings.workspace)
    app.state.db = connect(settings.database_url)
    in_flight = [0]  # requests in progress in this worker, counted by cache.InFlight
    # Answers kept per store snapshot, shared through tmp/answers; under load computed one at a time.
    app.state.answers = AnswerCache(settings.workspace, busy=lambda: in_flight[0] > cache.BUSY)
    app.state.trusted = sessions.Trusted()  # sessions verified in the last few seconds (db.sessions.TRUST)
    security.install(app, settings.basemap_url)
    app.add_middleware(cache.InFlight, counter=in_flight)
    _static(app)
    app.include_router(auth.router)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for it whatever the page says: answer with the icon rather than a 404."""
        return FileResponse(FAVICON, media_type="image/svg+xml")

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request, active: object = Viewer) -> HTMLResponse:
        return page(request, "docs.html.j2")

    return app


def _static(app: FastAPI) -> None:
    """Our own script and style, Leaflet and Swagger UI, all from installed packages (no CDN)."""
    import swagger_ui_bundle
    import xstatic.pkg.leaflet as leaflet

    app.mount(
        "/static/app", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static-app"
    )
    app.mount("/static/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="static-leaflet")
    app.mount(
        "/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="static-swagger"
    )
