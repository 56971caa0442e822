"""Fixtures: a fresh workspace with a team key (interactive Argon2id limits, to keep tests quick)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from intel.intel_support import PASSPHRASE
from safestreets.api import Workspace
from safestreets.db import database_url
from safestreets.intake import IntakeSettings, create_app


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    monkeypatch.delenv("SAFESTREETS_INTEL_KEY", raising=False)
    w = Workspace.init(tmp_path / "ws")
    w.intel_keygen(PASSPHRASE, strength="interactive", actor="test")
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def settings(ws: Workspace) -> IntakeSettings:
    return IntakeSettings(database_url=database_url(ws.root), public_key=ws.root / "intel" / "team.pub")


@pytest.fixture
def intake(settings: IntakeSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def team_key(ws: Workspace):  # type: ignore[no-untyped-def]
    return ws.intel_unlock(PASSPHRASE)
