"""Response headers every answer carries, and how errors are answered (never a traceback or a path)."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safestreets.db import DatabaseError
from safestreets.errors import (
    AccessRefused,
    InputError,
    NoDataError,
    NotFoundError,
    ParameterError,
    SafestreetsError,
    WorkspaceError,
)

log = logging.getLogger("safestreets.web")

STATUS = {
    AccessRefused: 403,
    ParameterError: 400,
    InputError: 400,
    NotFoundError: 404,
    NoDataError: 404,
    WorkspaceError: 503,
    DatabaseError: 503,
}


def csp(basemap_url: str | None) -> str:
    img = "'self' data: blob:"
    if basemap_url:
        from urllib.parse import urlsplit

        parts = urlsplit(
            basemap_url.replace("{s}", "a").replace("{z}", "0").replace("{x}", "0").replace("{y}", "0")
        )
        img += f" {parts.scheme}://{parts.netloc.replace('a.', '*.', 1) if '{s}' in basemap_url else parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every answer (errors, redirects, static files
    included). Pure ASGI rather than Starlette's BaseHTTPMiddleware, which runs each response through an
    extra task and memory stream: that costs more than the rest of a cached answer.

    A route may set a stricter Content-Security-Policy of its own (a briefing: inline style, no script,
    sandboxed) and its own Cache-Control (the cached map layers and overview: ``private, no-cache`` with an
    ETag, web.cache); otherwise data answers are ``no-store`` and static files may be kept an hour."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.policy = policy
        self.fixed = (
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Permissions-Policy", "geolocation=(), camera=(), microphone=()"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        static = path.startswith("/static/") or path == "/favicon.ico"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if "content-security-policy" not in h:
                    h["Content-Security-Policy"] = self.policy
                for name, value in self.fixed:
                    h[name] = value
                if static:
                    h["Cache-Control"] = "public, max-age=3600"
                elif "cache-control" not in h:
                    h["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, basemap_url: str | None) -> None:
    app.add_middleware(SecurityHeaders, policy=csp(basemap_url))

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")

    def answer(request: Request, status: int, message: str) -> Response:
        if wants_html(request):
            from safestreets.web.render import error_page

            return error_page(request, status, message)
        return JSONResponse({"error": message, "status": status}, status_code=status)

    @app.exception_handler(SafestreetsError)
    async def user_error(request: Request, exc: SafestreetsError) -> Response:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        return answer(request, status, _no_paths(str(exc)) if status >= 500 else str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:5]
        )
        return answer(request, 422, f"invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        text = exc.detail if isinstance(exc.detail, str) else "error"
        return answer(request, exc.status_code, text)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        ref = secrets.token_hex(4)
        log.error("internal error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
        return answer(request, 500, f"internal error (reference {ref}): the server log has the details")


def _no_paths(text: str) -> str:
    """A server-side message without file system paths (they tell an attacker the layout)."""
    import re

    return re.sub(r"(/[\w.\-]+){2,}", "<path>", text)
