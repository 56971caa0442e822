"""The public reporting service: a form, a codename, a way back. It encrypts and stores, nothing more.

It never imports the staff dashboard. It sets no cookie, reads no referrer or user agent, writes no access
log and no exact time: the day a report came in is all it records. Errors answer with a plain page and log
only their kind. Every response forbids caching, referrers, framing and any content not from this host.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import ClientDisconnect
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safestreets import __version__
from safestreets.db import DatabaseError, connect
from safestreets.errors import InputError, SafestreetsError
from safestreets.intake.limits import Window
from safestreets.intel import codename, keys, photos, records
from safestreets.intel.channel import IntakeSettings
from safestreets.intel.pickmap import PickMap

log = logging.getLogger("safestreets.intake")
HERE = Path(__file__).parent
ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["j2", "html"]))

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
}
HOW_KNOWN = {
    "saw": "I saw or heard it myself",
    "told": "Someone who saw it told me",
    "heard": "It is talked about around here",
    "online": "I saw it online or on social media",
    "other": "Another way",
}
# Starlette keeps uploads under this size in memory; ours are capped below it, so no upload is ever spooled
# to a temporary file on disk (where the original, with its metadata, could outlive the request).
MultiPartParser.spool_max_size = 64 * 1024 * 1024


def today() -> Any:
    return datetime.now(UTC).date()  # the day only: the time of a submission is never kept


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(ENV.get_template(name).render(version=__version__, **context), status_code=status)


def problem(status: int, title: str, message: str) -> HTMLResponse:
    return render("intake_error.html.j2", status, title=title, message=message)


class Guard:
    """Outermost layer: the security headers on every answer (errors included), a body size cap, and any
    unexpected error turned into a plain page with nothing from the request logged."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"set-cookie"]
                raw += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                message = {**message, "headers": raw}
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await too_big(self.max_body)(scope, receive, send_with_headers)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise _TooBig
            return message

        try:
            await self.app(scope, counted, send_with_headers)
        except _TooBig:
            if not started:
                await _answer(too_big(self.max_body), scope, receive, send_with_headers)
        except ClientDisconnect:  # the reporter went away mid-upload: nothing was stored, nobody to answer
            pass
        except Exception as exc:  # never a traceback: its messages could hold what a reporter typed
            # The app's own handler has usually answered already (and left its reference in the scope).
            ref = (scope.get("state") or {}).get("error_ref") or secrets.token_hex(4)
            log.error("internal error %s (%s)", ref, type(exc).__name__)
            if not started:
                await _answer(failed(ref), scope, receive, send_with_headers)


async def _answer(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    with contextlib.suppress(Exception):  # the client has gone: nothing more to say, and nothing to log
        await response(scope, receive, send)


def failed(ref: str) -> HTMLResponse:
    return problem(
        500, "Something went wrong", f"Nothing was saved. Please try again later (reference {ref})."
    )


class _TooBig(Exception):
    pass


def too_big(limit: int) -> HTMLResponse:
    return problem(413, "That was too large",
                   f"Nothing was saved. Photos can be up to {limit // (1024 * 1024)} MB in all: "
                   "send fewer or smaller photos, or describe what they show.")  # fmt: skip


def create_app(settings: IntakeSettings) -> FastAPI:
    team = keys.load_public(settings.public_key)
    db = connect(settings.database_url)
    window = Window(per_client=settings.per_client, per_minute=settings.per_minute)
    pick = PickMap.load(settings.pick_map) if settings.pick_map else None
    app = FastAPI(title="intake", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.db, app.state.window = settings, db, window
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    limits = {"photos": settings.max_photos, "mb": settings.max_photo_bytes // (1024 * 1024),
              "days": settings.reply_days}  # fmt: skip

    def flood(request: Request) -> HTMLResponse | None:
        address = request.client.host if request.client else None
        if window.allow(address):
            return None
        return problem(429, "Please wait a little",
                       "Too many reports have come in just now. Nothing was saved: please try again in a few "
                       "minutes. If someone is in danger now, call 999.")  # fmt: skip

    async def read_form(request: Request) -> Any:
        try:
            return await request.form(max_files=settings.max_photos, max_fields=20,
                                      max_part_size=settings.max_text * 4)  # fmt: skip
        except Exception as exc:  # a malformed or over-long multipart body
            raise InputError("the form", "it did not arrive whole: please send it again") from exc

    def text(form: Any, name: str, label: str) -> str:
        value = form.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > settings.max_text:
            raise InputError(label, f"please keep this under {settings.max_text:,} characters")
        return value

    @app.exception_handler(SafestreetsError)
    async def user_error(request: Request, exc: SafestreetsError) -> Response:
        if isinstance(exc, DatabaseError):
            log.error("database unavailable")
            return problem(503, "The service is not available", "Nothing was saved. Please try again later.")
        message = exc.reason if isinstance(exc, InputError) else str(exc)
        where = exc.source if isinstance(exc, InputError) else ""
        return problem(400, "Please check the form", f"{where}: {message}. Nothing was saved." if where else
                       f"{message}. Nothing was saved.")  # fmt: skip

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        request.state.error_ref = secrets.token_hex(4)  # logged once, by the guard, with the kind only
        return failed(request.state.error_ref)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return problem(404, "Page not found", "There is nothing here. Go back to the form.")

    @app.exception_handler(405)
    async def bad_method(request: Request, exc: Exception) -> Response:
        return problem(405, "Page not found", "There is nothing here. Go back to the form.")

    @app.get("/", response_class=HTMLResponse)
    def form_page() -> HTMLResponse:
        return render(
            "intake_form.html.j2", title=settings.title, how=HOW_KNOWN, limits=limits, values={}, pick=pick
        )

    @app.post("/report", response_class=HTMLResponse)
    async def submit(request: Request) -> HTMLResponse:
        if (refused := flood(request)) is not None:
            return refused
        form = await read_form(request)
        values = {k: text(form, k, label) for k, label in (("what", "What happened"), ("where", "Where"),
                  ("when", "When"), ("lat", "Latitude"), ("lon", "Longitude"), ("how", "How you know"))}  # fmt: skip
        if not values["what"]:
            return render("intake_form.html.j2", 400, title=settings.title, how=HOW_KNOWN, limits=limits, pick=pick,
                          values=values, error="Please tell us what happened: that box is empty. Nothing was saved.")  # fmt: skip
        point = _point(values["lat"], values["lon"])
        uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and (f.filename or f.size)]
        # Metadata goes first: every photo is re-encoded from its pixels before anything else touches it.
        raw = []
        for n, upload in enumerate(uploads, 1):
            data = await upload.read(settings.max_photo_bytes + 1)
            await upload.close()
            if len(data) > settings.max_photo_bytes:
                raise InputError(f"photo {n}", f"it is over {limits['mb']} MB")
            if data:
                raw.append(data)
        doc = {"what": values["what"], "where": values["where"], "when": values["when"],
               "how_known": values["how"] if values["how"] in HOW_KNOWN else "", "point": point,
               "danger_now": form.get("danger") == "yes"}  # fmt: skip

        def seal_and_store() -> tuple[str, int]:
            # Pillow, Argon2id and the database release the GIL: in a thread they run beside other requests.
            clean = [photos.clean(data, f"photo {n}") for n, data in enumerate(raw, 1)]
            name = codename.new_codename()
            records.store_report(db, team, codename.derive(name, settings.salt), doc, clean,
                                 danger_now=doc["danger_now"], today=today(), report_days=settings.report_days)  # fmt: skip
            return name, len(clean)

        name, sent = await run_in_threadpool(seal_and_store)
        return render("intake_done.html.j2", codename=name, photos=sent, danger=doc["danger_now"])

    if pick is not None:

        @app.get("/pick", response_class=HTMLResponse)
        def pick_page() -> HTMLResponse:
            return render("intake_pick.html.j2", pick=pick)

        @app.get("/pick-map.svg")
        def pick_map() -> Response:
            return Response(pick.svg.read_bytes(), media_type="image/svg+xml")

        @app.post("/pick", response_class=HTMLResponse)
        async def picked(request: Request) -> HTMLResponse:
            # A click on <input type="image"> sends the pixel as pick.x and pick.y: no script needed. POST, so
            # the position never sits in the browser's history as part of an address.
            form = await read_form(request)
            try:
                lat, lon = pick.place(float(str(form.get("pick.x"))), float(str(form.get("pick.y"))))
            except ValueError:
                return render(
                    "intake_pick.html.j2", 400, pick=pick, error="Please click (or tap) on the map."
                )
            return render("intake_form.html.j2", title=settings.title, how=HOW_KNOWN, limits=limits, pick=pick,
                          values={"lat": f"{lat}", "lon": f"{lon}"}, picked=True)  # fmt: skip

    @app.get("/favicon.ico")
    def favicon() -> Response:  # browsers ask for it; an empty answer beats a 404 in every console
        return Response(status_code=204)

    @app.get("/return", response_class=HTMLResponse)
    def return_page() -> HTMLResponse:
        return render("intake_return.html.j2")

    @app.post("/return", response_class=HTMLResponse)
    async def read_replies(request: Request) -> HTMLResponse:
        if (refused := flood(request)) is not None:
            return refused
        form = await read_form(request)
        name = text(form, "codename", "Codename")
        derived = await run_in_threadpool(codename.derive, name, settings.salt)  # a wrong one costs the same
        view = await run_in_threadpool(records.replies_for, db, derived, today())
        if not view.found:
            return render("intake_return.html.j2", 403,
                          error="We do not recognise that codename. Check the words and try again.")  # fmt: skip
        return render("intake_replies.html.j2", codename=codename.normalise(name), replies=view.replies)

    @app.post("/return/add", response_class=HTMLResponse)
    async def add_more(request: Request) -> HTMLResponse:
        if (refused := flood(request)) is not None:
            return refused
        form = await read_form(request)
        name, more = text(form, "codename", "Codename"), text(form, "more", "More detail")
        derived = await run_in_threadpool(codename.derive, name, settings.salt)
        if not more:
            return problem(
                400, "Please check the form", "The box for more detail was empty. Nothing was saved."
            )
        if not await run_in_threadpool(records.add_detail, db, team, derived, more, today()):
            return render("intake_return.html.j2", 403,
                          error="We do not recognise that codename. Check the words and try again.")  # fmt: skip
        return render("intake_thanks.html.j2")

    guarded = Guard(app, settings.max_body)
    # Expose the FastAPI app for callers that need its state (tests, the CLI) while uvicorn runs the guard.
    guarded.state = app.state  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def _point(lat: str, lon: str) -> list[float] | None:
    if not lat and not lon:
        return None
    try:
        y, x = float(lat), float(lon)
    except ValueError as exc:
        raise InputError(
            "the map position", "latitude and longitude must be numbers, like 51.5 and -0.1"
        ) from exc
    if not (49.0 <= y <= 61.0 and -9.0 <= x <= 3.0):
        raise InputError("the map position", "that is not a place in the UK")
    return [round(y, 6), round(x, 6)]
