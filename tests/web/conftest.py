"""Fixtures for the dashboard tests: an app on a copy of the demo city (with emerging hot spots, a stored
backtest and a load with rejected rows added), users of each role, and clients signed in as each."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from safestreets.api import Workspace, accounts
from safestreets.db.users import Account
from safestreets.web import create_app, settings_for
from web.web_support import BASE, ROLES, Built, Signed, sign_in

BAD_STREET_FILE = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
    "Last outcome category,Context\n"
    "c1,2019-01,City of London Police,City of London Police,-0.091,51.515,On or near Cheapside,E01032739,"
    "City of London 001F,Burglary,,\n"
    "c2,2019-13,City of London Police,City of London Police,-0.091,51.515,On or near Cheapside,E01032739,"
    "City of London 001F,Burglary,,\n"
    "c3,2019-01,City of London Police,City of London Police,-0.091,51.515,On or near Cheapside,E01032739,"
    "City of London 001F,Nonsense,,\n"
)


@pytest.fixture(scope="session")
def built(demo_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A copy of the demo city with what the pages read beyond the demo, written through the API as the
    CLI writes it: a forecast run with emerging hot spots, a plan with patrol cards, a stored backtest, and
    a load with rejected rows (in 2019, a month the overview's trend does not show). Other tests may have
    added runs and plans to the demo city before it is copied: tests name what they read."""
    path = tmp_path_factory.mktemp("web") / "ws"
    shutil.copytree(demo_city, path, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    bad = path.parent / "2019-01-city-of-london-street.csv"
    bad.write_text(BAD_STREET_FILE, "utf-8")
    with Workspace(path) as ws:
        run = ws.forecast(model="last-period", jobs=1).run_id
        ws.hotspots(forecast_run=run)
        plan = ws.plan(forecast_run=run, teams=1, seed=5).plan_id
        ws.backtest(models="last-period,kde", origins=2, coverages="1,5", jobs=1)
        ws.ingest(bad, skip_bad_rows=True)
    assert plan is not None
    return Built(path, run, plan)


@pytest.fixture(scope="session")
def web_ws(built: Built) -> Path:
    return built.path


@pytest.fixture(scope="session")
def app(web_ws: Path) -> FastAPI:
    return create_app(settings_for(web_ws))


@pytest.fixture(scope="session")
def users(app: FastAPI) -> dict[str, tuple[Account, str]]:
    """One account per role: role -> (account, password)."""
    return {role: accounts.add_user(app.state.db, f"test-{role}", role, actor="test") for role in ROLES}


@pytest.fixture(scope="session")
def as_role(app: FastAPI, users: dict[str, tuple[Account, str]]) -> dict[str, Signed]:
    return {role: sign_in(app, users[role][0]) for role in ROLES}


@pytest.fixture
def anonymous(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False)


_numbers = itertools.count(1)


@pytest.fixture
def fresh_account(app: FastAPI) -> Callable[[str], tuple[Account, str]]:
    """A new account of a role with a unique name (for tests that lock, disable or reset one)."""

    def make(role: str = "viewer") -> tuple[Account, str]:
        return accounts.add_user(app.state.db, f"fresh-{next(_numbers)}-{role}", role, actor="test")

    return make
