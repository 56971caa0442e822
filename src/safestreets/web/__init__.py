"""The staff dashboard (FastAPI). ``create_app`` builds it; ``app_from_env`` is uvicorn's factory for
``safestreets serve`` (each worker reads the workspace and database from the environment)."""

from __future__ import annotations

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
    return create_app(settings_for(os.environ.get(ENV_VAR), secure_cookies=secure))
