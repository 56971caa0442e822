"""The JSON API as its OpenAPI document describes it: every operation tagged and summarised, typed answers,
and no server error for any input schemathesis generates from it (as a signed-in admin)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from safestreets.api import accounts
from safestreets.db import sessions
from safestreets.web import create_app, settings_for
from web.web_support import ENDPOINTS


@pytest.fixture(scope="module")
def fuzz_app(web_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The dashboard over the test workspace with a database of its own: the fuzzer adds, resets and
    disables accounts, which must not disturb the other tests' users."""
    db_path = tmp_path_factory.mktemp("fuzz") / "ops.sqlite"
    return create_app(dataclasses.replace(settings_for(web_ws), database_url=f"sqlite:///{db_path}"))


@pytest.fixture(scope="module")
def admin_headers(fuzz_app: FastAPI) -> dict[str, str]:
    db = fuzz_app.state.db
    account, _ = accounts.add_user(db, "fuzz-admin", "admin", actor="test")
    token = sessions.start(db, account)
    active = sessions.resume(db, token)
    assert active is not None
    # As a header: the session cookie is Secure, and the fuzzer's client speaks plain HTTP in-process.
    return {"Cookie": f"ss_session={token}", "X-CSRF-Token": active.csrf_token}


def _schema() -> Any:
    """The API's document, read from an app on an empty in-memory database: the document does not depend
    on the workspace, and schemathesis's pytest integration needs it when the tests are collected. Calls
    go to the ``fuzz_app`` fixture."""
    from safestreets.web.settings import WebSettings

    doc_app = create_app(WebSettings(workspace=Path("unused"), database_url="sqlite://", secret=b"s" * 32))
    loaded = schemathesis.openapi.from_asgi("/api/openapi.json", doc_app)
    # Bounded, so the whole run takes about a minute; both valid and invalid input.
    loaded.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=12,
        database="none",
    )
    return loaded


schema = _schema()


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: Any, fuzz_app: FastAPI, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=admin_headers, checks=[not_a_server_error], app=fuzz_app)


def test_every_operation_is_documented(app: FastAPI) -> None:
    doc = app.openapi()
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert ops
    for path, method, op in ops:
        assert path.startswith("/api/"), path
        assert op.get("tags") and op.get("summary"), (method, path)
        ok = op["responses"].get("200") or op["responses"].get("201")
        content = ok["content"]
        assert content, (method, path)
        if "application/json" in content:
            assert content["application/json"].get("schema"), (method, path)
            assert content["application/json"]["schema"] != {}, (method, path)
    documented = {(m.upper(), p) for p, m, _ in ops}
    for e in ENDPOINTS:  # every JSON endpoint of the access tests is in the document
        if e.api:
            assert any(m == e.method and _matches(p, e.url) for m, p in documented), (e.method, e.url)


def _matches(template: str, url: str) -> bool:
    import re

    pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, url.split("?")[0].replace("{user}", "someone")) is not None
