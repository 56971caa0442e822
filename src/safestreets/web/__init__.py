"""The staff dashboard (FastAPI). ``create_app`` builds it; ``app_from_env`` is uvicorn's factory for
``safestreets serve`` (each worker reads the workspace and database from the environment)."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from fastapi import FastAPI

from safestreets.config import ENV_VAR, resolve_workspace
from safestreets.db import database_url
from safestreets.web.app import create_app
from safestreets.web.settings import WebSettings

INSECURE_COOKIES_ENV = "SAFESTREETS_INSECURE_COOKIES"

__all__ = ["WebSettings", "app_from_env", "create_app", "settings_for"]


def settings_for(workspace: str | Path | None, *, secure_cookies: bool = True) -> WebSettings:
    root = resolve_workspace(workspace).root
    return WebSettings(workspace=root, database_url=database_url(root), secure_cookies=secure_cookies)


def app_from_env() -> FastAPI:
    secure = os.environ.get(INSECURE_COOKIES_ENV, "") != "1"
    app = create_app(settings_for(os.environ.get(ENV_VAR), secure_cookies=secure))
    # A worker's imports (pandas, DuckDB, SQLAlchemy, the templates) are a few million long-lived objects:
    # frozen, the collector stops walking them on every full collection, which otherwise pauses a request
    # for tens of milliseconds (the latency tail under load).
    gc.collect()
    gc.freeze()
    return app
