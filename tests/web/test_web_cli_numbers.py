"""The dashboard's JSON gives the numbers the CLI prints for the same workspace: a forecast's top hot spots
per BCU, a plan's per-BCU table, what changed, and the overview's monthly counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from safestreets.api import accounts
from safestreets.web import create_app, settings_for
from web.web_support import Signed, sign_in


def cli(ws: Path, *args: str) -> list[dict[str, Any]]:
    from test_cli import run

    r = run(*args, "--format", "json", workspace=ws)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cli_ws(demo_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "ws"
    shutil.copytree(demo_city, path, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    return path


@pytest.fixture(scope="module")
def reader(cli_ws: Path) -> Signed:
    app: FastAPI = create_app(settings_for(cli_ws))
    return sign_in(app, accounts.add_user(app.state.db, "reader", "viewer", actor="test")[0])


def test_forecast_plan_and_changes_match_the_cli(cli_ws: Path, reader: Signed) -> None:
    top = cli(cli_ws, "forecast", "--model", "last-period", "--top", "3")
    run = reader.get("/api/forecasts").json()[0]["run_id"]  # the newest: the demo city may hold others
    shown = reader.get(f"/api/forecasts/{run}?top=3").json()
    assert shown["run"]["model"] == "last-period"
    assert [(s["bcu"], s["rank"], s["unit_id"]) for s in shown["top"]] == [
        (r["bcu"], r["rank"], r["unit_id"]) for r in top
    ]
    for s, r in zip(shown["top"], top, strict=True):
        assert s["expected_count"] == pytest.approx(r["expected_count"], rel=1e-12)
        assert s["expected_harm"] == pytest.approx(r["expected_harm"], rel=1e-12)
        assert (s["lower"], s["upper"]) == (r["lower"], r["upper"])  # the 80% interval of the count
        assert (s["lat"], s["lon"]) == pytest.approx((r["lat"], r["lon"]), abs=2e-6)
    assert shown["intervals"]["level"] == 0.8 and "city" in shown["intervals"]["totals"]

    per_bcu = cli(cli_ws, "plan", "--forecast-run", str(run), "--teams", "1", "--seed", "3", "--no-cards")
    plan_id = reader.get("/api/plans").json()[0]["plan_id"]
    plan = reader.get(f"/api/plans/{plan_id}").json()
    assert plan["plan"]["forecast_run_id"] == run
    assert [b["bcu"] for b in plan["by_bcu"]] == [r["bcu"] for r in per_bcu]
    for b, r in zip(plan["by_bcu"], per_bcu, strict=True):
        assert (b["teams"], b["hotspots"], b["visits_per_day"]) == (
            r["teams"],
            r["hotspots"],
            r["visits_per_day"],
        )
        assert b["harm_prevented_week"] == pytest.approx(r["harm_prevented_week"], rel=1e-9)
    assert reader.get("/api/overview").json()["plan"]["plan"]["plan_id"] == plan_id  # the latest at a glance
    assert plan["cards"] is None and plan["cards_note"]  # --no-cards: the week's cards are another plan's

    changes = cli(cli_ws, "hotspots", "--forecast-run", str(run), "--top", "10")
    c = reader.get("/api/overview").json()["changes"]
    assert c["run_id"] == run and c["latest_run"]
    assert [(x["unit_id"], x["bcu"], x["category"]) for x in c["rows"][:10]] == [
        (r["unit"], r["bcu"], r["category"]) for r in changes
    ]
    for x, r in zip(c["rows"][:10], changes, strict=True):
        assert (x["last_count"], x["mean_before"], x["trend_z"]) == pytest.approx(
            (r["last_period"], r["mean_before"], r["trend_z"]), rel=1e-12
        )


def test_monthly_counts_match_the_status_matrix(cli_ws: Path, reader: Signed) -> None:
    matrix = cli(cli_ws, "status")
    trend = reader.get("/api/overview").json()["trend"]
    by_month: dict[str, int] = {}
    for r in matrix:
        if r["force"].endswith(f"({trend['source']})") and r["crime_type"] in trend["types"]:
            by_month[r["month"]] = by_month.get(r["month"], 0) + r["rows"]
    assert trend["series"][0]["events"] == [by_month.get(m, 0) for m in trend["months"]]
