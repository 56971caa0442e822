"""What the pages and their JSON say, for each page family, on the demo city; bad input answered with a
clean 4xx; and the same numbers as the CLI prints for the same workspace."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI

from safestreets.api import accounts
from safestreets.web import create_app, settings_for
from web.web_support import HTML, Built, Signed, sign_in


@pytest.fixture(scope="module")
def viewer(as_role: dict[str, Signed]) -> Signed:
    return as_role["viewer"]


@pytest.fixture(scope="module")
def analyst(as_role: dict[str, Signed]) -> Signed:
    return as_role["analyst"]


# --- overview ------------------------------------------------------------------------------------------


def test_overview(viewer: Signed, built: Built) -> None:
    o = viewer.get("/api/overview").json()
    t = o["trend"]
    assert t["target"] == "violence" and t["source"] == "police.uk" and len(t["months"]) == 12
    assert t["months"][-1] == "2023-12"
    names = [s["name"] for s in t["series"]]
    assert names[0] == "citywide" and set(names[1:]) == {"central", "east", "north-west", "south-west"}
    city = t["series"][0]
    for i in range(12):  # the BCUs add up to no more than the city (events outside every BCU count citywide)
        assert sum(s["events"][i] for s in t["series"][1:]) <= city["events"][i]
    assert city["last"] == city["events"][-1] > 0
    c = o["changes"]
    assert c["computed"] and c["run_id"] == built.run and c["latest_run"] and c["file"].endswith(".gpkg")
    assert c["summary"] and all(
        r["category"] in ("new", "consecutive", "intensifying", "diminishing") for r in c["rows"]
    )
    p = o["plan"]
    assert p["plan"]["plan_id"] == built.plan and p["plan"]["week_start"] == "2024-01-01"
    assert sum(b["harm_prevented_week"] for b in p["by_bcu"]) == pytest.approx(
        p["plan"]["objective"], rel=1e-9
    )
    page = viewer.get("/", headers=HTML).text
    assert "Recent trend and harm by command unit" in page and "<svg" in page and "What changed" in page
    assert f"Plan {built.plan}</a>, week of 2024-01-01" in page


def test_missing_and_damaged_outputs(demo_city: Path, tmp_path: Path) -> None:
    """No hot spots result: what changed says none were computed. A damaged stored backtest: the comparison
    says so and still shows the rest."""
    ws = tmp_path / "ws"
    shutil.copytree(demo_city, ws, ignore=shutil.ignore_patterns("tmp", "*.sqlite*", "hotspots-*"))
    (ws / "outputs" / "backtest-broken").mkdir()
    (ws / "outputs" / "backtest-broken" / "summary.csv").write_text("model,coverage\nnaive,lots\n", "utf-8")
    other = create_app(settings_for(ws))
    account, _ = accounts.add_user(other.state.db, "v", "viewer", actor="test")
    signed = sign_in(other, account)
    changes = signed.get("/api/overview").json()["changes"]
    assert changes["computed"] is False and "hotspots" in changes["note"]
    assert "None computed" in signed.get("/", headers=HTML).text
    compared = signed.get("/api/forecasts/compare").json()
    assert compared["backtests"] == [] and "backtest-broken cannot be read" in compared["notes"][0]
    assert 1 in [r["run_id"] for r in compared["runs"]]
    assert "backtest-broken cannot be read" in signed.get("/forecasts/compare", headers=HTML).text


def test_an_empty_workspace_answers_every_page(tmp_path: Path) -> None:
    """Nothing loaded yet: lists are empty, named things are not found, nothing fails."""
    from safestreets.api import Workspace
    from web.web_support import ENDPOINTS

    Workspace.init(tmp_path / "empty").close()
    empty = create_app(settings_for(tmp_path / "empty"))
    signed = sign_in(empty, accounts.add_user(empty.state.db, "a", "admin", actor="test")[0])
    for e in ENDPOINTS:
        if e.method == "GET":
            url = e.url.replace("{plan}", "1")
            r = signed.get(url, headers={} if e.api else HTML)
            assert r.status_code in (200, 404), (url, r.status_code, r.text[:200])
            assert r.status_code == 200 or "/1" in url or "2024-01-01" in url or "hubs" in url, url
    assert signed.get("/api/forecasts").json() == [] and signed.get("/api/plans").json() == []
    o = signed.get("/api/overview").json()
    assert o["trend"] is None and o["trend_note"] and o["plan"] is None and not o["changes"]["computed"]
    assert "no located events" in signed.get("/api/hubs").json()["error"]


# --- forecasts -----------------------------------------------------------------------------------------


def test_forecast_runs(viewer: Signed, built: Built) -> None:
    runs = viewer.get("/api/forecasts").json()
    ids = [r["run_id"] for r in runs]
    assert ids[0] == built.run and ids == sorted(ids, reverse=True) and 1 in ids
    demo = runs[ids.index(1)]
    assert demo["model"] == "ensemble" and demo["plans"] >= 1 and demo["units"] > 0
    assert runs[0]["model"] == "last-period" and runs[0]["plans"] == 1
    assert '<a href="/forecasts/1">1</a>' in viewer.get("/forecasts", headers=HTML).text


def test_forecast_run(viewer: Signed) -> None:
    d = viewer.get("/api/forecasts/1?top=3").json()
    assert d["run"]["target"] == "violence" and d["run"]["window_start"].startswith("2024-01-01")
    assert d["staleness"]["data_end"] == "2024-01-01" and d["study_area"].startswith("union of")
    assert d["auto"]["reason"] == d["run"]["reason"] and d["run"]["model"] in d["auto"]["scores"]
    assert d["backtest"]["source"].startswith("the run's own") and d["backtest"]["rows"]
    assert {c["model"] for c in d["backtest"]["curves"]} >= {"last-period", d["run"]["model"]}
    by_bcu: dict[str, list[dict]] = {}
    for s in d["top"]:
        by_bcu.setdefault(s["bcu"], []).append(s)
    assert set(by_bcu) == {"central", "east", "north-west", "south-west"} and all(
        len(v) == 3 for v in by_bcu.values()
    )
    assert all(v == sorted(v, key=lambda s: s["rank"]) for v in by_bcu.values())
    assert any(s["place"] for s in d["top"]) and all(s["area"] for s in d["top"])
    assert any(f.endswith("-run1.gpkg") and f.startswith("forecast-") for f in d["files"])
    only = viewer.get("/api/forecasts/1?bcu=east").json()["top"]
    assert {s["bcu"] for s in only} == {"east"} and len(only) == 5
    page = viewer.get("/forecasts/1", headers=HTML).text
    assert "why this model" in page and "<svg" in page and "Coverage curve" in page
    # The noise ceiling beside every row, and each model's share of it.
    assert all(r["ceiling_hit_rate"] is not None and r["ceiling_share"] is not None for r in d["backtest"]["rows"])
    assert "of ceiling" in page


def test_hand_chosen_model_shows_the_stored_backtest(viewer: Signed, built: Built) -> None:
    d = viewer.get(f"/api/forecasts/{built.run}").json()
    assert d["auto"] is None and d["run"]["reason"] == "last-period chosen by the user"
    assert d["backtest"]["source"] == "stored backtest backtest-violence-grid"
    assert {r["model"] for r in d["backtest"]["rows"]} == {"last-period", "kde"}


def test_model_comparison(viewer: Signed) -> None:
    c = viewer.get("/api/forecasts/compare").json()
    assert any(r["run_id"] == 1 and r["chosen"] == "ensemble" for r in c["runs"])
    stored = next(b for b in c["backtests"] if b["name"] == "backtest-violence-grid")
    assert {r["model"] for r in stored["summary"]["rows"]} == {
        "last-period",
        "kde",
    }
    assert stored["summary"]["curves"] and stored["origins"] == 2
    assert all(r["ceiling_share"] is not None for r in stored["summary"]["rows"])
    assert "of ceiling" in viewer.get("/forecasts/compare", headers=HTML).text
    assert "backtest-violence-grid" in viewer.get("/forecasts/compare", headers=HTML).text


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/forecasts/999", 404),
        ("/api/forecasts/0", 422),
        ("/api/forecasts/abc", 422),
        ("/api/forecasts/99999999999999999999", 422),
        ("/api/forecasts/1?bcu=nowhere", 404),
        ("/api/forecasts/1?top=0", 422),
        ("/api/forecasts/1?top=51", 422),
        ("/api/plans/999", 404),
        ("/api/plans/-1", 422),
        ("/api/plans/1?bcu=nowhere", 404),
        ("/api/plans/1/visits?team=nobody", 404),
        ("/api/plans/1/visits?day=2024-02-01", 404),
        ("/api/plans/1/visits?day=tuesday", 422),
        ("/api/plans/999/visits", 404),
        ("/api/hubs?kinds=stations", 400),
        ("/api/hubs?kinds=a;b", 422),
        ("/api/hubs?budget=-1", 422),
        ("/api/hubs?catchment=1e9", 422),
        ("/api/briefings/2024-01-08", 404),
        ("/api/briefings/not-a-week", 422),
        ("/api/loads/999", 404),
        ("/api/loads?kind=nonsense", 400),
        ("/api/loads?limit=0", 422),
        ("/api/loads?offset=-1", 422),
    ],
)
def test_bad_input_is_a_clean_4xx(as_role: dict[str, Signed], url: str, status: int) -> None:
    r = as_role["admin"].get(url)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["error"] and "Traceback" not in body["error"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/forecasts/999", 404),
        ("/forecasts/x", 422),
        ("/plans/999", 404),
        ("/plans/1?day=someday", 400),
        ("/plans/1?bcu=nowhere", 404),
        ("/briefings/2024-01-08", 404),
        ("/briefings/..%2F..%2Fsafestreets.duckdb", 404),
        ("/status/loads/999", 404),
        ("/hubs?kinds=nothing-here", 400),
    ],
)
def test_bad_input_pages(viewer: Signed, url: str, status: int) -> None:
    r = viewer.get(url, headers=HTML)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html") and "Traceback" not in r.text


# --- plans ---------------------------------------------------------------------------------------------


def test_plan(viewer: Signed, analyst: Signed, built: Built) -> None:
    plans = viewer.get("/api/plans").json()
    assert plans[0]["plan_id"] == built.plan and 1 in [p["plan_id"] for p in plans]
    summary = plans[0]
    assert summary["teams"] > 0 and summary["visits_per_day"] > 0
    d = viewer.get(f"/api/plans/{built.plan}").json()
    assert d["plan"] == summary
    assert sum(b["teams"] for b in d["by_bcu"]) == len(d["teams"]) == summary["teams"]
    assert sum(b["visits_per_day"] for b in d["by_bcu"]) == summary["visits_per_day"]
    assert sum(b["harm_prevented_week"] for b in d["by_bcu"]) == pytest.approx(summary["objective"], rel=1e-9)
    numbers = [h["hotspot"] for h in d["hotspots"]]
    assert numbers == list(range(1, len(numbers) + 1)) == sorted({n for t in d["teams"] for n in t["stops"]})
    week = summary["week_start"]
    assert d["cards"] == f"patrol-cards-{week}.pdf" and d["cards_note"] is None
    visits = viewer.get(f"/api/plans/{built.plan}/visits").json()["visits"]
    assert len(visits) == 7 * summary["visits_per_day"]
    team = d["teams"][0]["team_id"]
    monday = viewer.get(f"/api/plans/{built.plan}/visits?day={week}&team={team}").json()["visits"]
    assert monday and {(v["team_id"], v["day"]) for v in monday} == {(team, week)}
    assert all(v["hotspot"] in numbers for v in monday)
    page = viewer.get(f"/plans/{built.plan}", headers=HTML).text
    assert "Per BCU" in page and "Visits" in page and "cards.pdf" not in page  # viewers cannot download
    bcu = d["by_bcu"][0]["bcu"]
    assert "cards.pdf" in analyst.get(f"/plans/{built.plan}?bcu={bcu}", headers=HTML).text
    demo = viewer.get("/api/plans/1").json()  # the demo's plan: its cards were replaced by the later plan's
    assert demo["cards"] is None and f"plan {built.plan}" in demo["cards_note"]
    assert sum(b["harm_prevented_week"] for b in demo["by_bcu"]) == pytest.approx(
        demo["plan"]["objective"], rel=1e-9
    )


def test_patrol_cards_download(analyst: Signed, built: Built) -> None:
    r = analyst.get(f"/api/plans/{built.plan}/cards.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="patrol-cards-2024-01-01.pdf"' in r.headers["content-disposition"]
    assert analyst.get("/api/plans/1/cards.pdf").status_code == 404  # replaced by the later plan's


def test_patrol_cards_of_another_plan_are_not_served(demo_city: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(demo_city, ws, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    html = ws / "outputs" / "patrol-cards-2024-01-01.html"
    html.write_text(re.sub(r"· plan \d+</div>", "· plan 7</div>", html.read_text("utf-8")), "utf-8")
    other = create_app(settings_for(ws))
    signed = sign_in(other, accounts.add_user(other.state.db, "a", "analyst", actor="test")[0])
    assert "for plan 7" in signed.get("/api/plans/1").json()["cards_note"]
    r = signed.get("/api/plans/1/cards.pdf")
    assert r.status_code == 404 and "plan 7" in r.json()["error"]


# --- hubs ----------------------------------------------------------------------------------------------


def test_hubs(viewer: Signed) -> None:
    r = viewer.get("/api/hubs?budget=3").json()
    assert len(r["deployments"]) == 3 and r["hubs"] and r["params"]["budget"] == 3
    assert r["hubs"][0]["rank"] == 1 and r["deployments"][0]["name"]
    assert all(-90 <= d["lat"] <= 90 for d in r["deployments"])
    assert r["lines"][0].startswith("Transport hubs: 3 deployment(s)")
    assert viewer.get("/api/hubs?budget=0").json()["deployments"] == []
    page = viewer.get("/hubs?budget=2&kinds=station", headers=HTML).text
    assert "Deployments" in page and "never an authorisation" in page


def test_hubs_write_nothing(viewer: Signed, web_ws: Path) -> None:
    before = sorted(p.name for p in (web_ws / "outputs").iterdir())
    viewer.get("/api/hubs")
    assert sorted(p.name for p in (web_ws / "outputs").iterdir()) == before


# --- briefings -----------------------------------------------------------------------------------------


def test_briefings(viewer: Signed, analyst: Signed) -> None:
    b = next(b for b in viewer.get("/api/briefings").json() if b["week"] == "2024-01-01")
    assert b["html"] and b["pdf"] and b["target"] == "violence"
    assert viewer.get("/api/briefings/2024-01-01").json() == b
    html = viewer.get("/briefings/2024-01-01", headers=HTML)
    assert html.status_code == 200 and "Tactical assessment" in html.text
    pdf = analyst.get("/api/briefings/2024-01-01.pdf")
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    assert "download" not in viewer.get("/briefings", headers=HTML).text  # viewers cannot download
    assert "/api/briefings/2024-01-01.pdf" in analyst.get("/briefings", headers=HTML).text


# --- data status ---------------------------------------------------------------------------------------


def test_loads(viewer: Signed, analyst: Signed) -> None:
    status = viewer.get("/api/status").json()
    page = viewer.get("/api/loads?limit=5").json()
    assert page["total"] == status["loads"] and len(page["loads"]) == 5
    assert [x["batch_id"] for x in page["loads"]] == sorted(
        (x["batch_id"] for x in page["loads"]), reverse=True
    )
    latest = page["loads"][0]
    assert latest["kind"] == "street" and latest["rows_read"] == 3 and latest["rows_rejected"] == 2
    streets = viewer.get("/api/loads?kind=street&limit=500").json()
    assert streets["total"] and {x["kind"] for x in streets["loads"]} == {"street"}
    assert (
        viewer.get("/api/loads?offset=5&limit=5").json()["loads"][0]["batch_id"]
        == page["loads"][-1]["batch_id"] - 1
    )
    one = viewer.get(f"/api/loads/{latest['batch_id']}").json()
    assert one["load"] == latest and len(one["sha256"]) == 64 and one["software_version"]
    assert {r["column_name"] for r in one["reasons"]} == {"Month", "Crime type"}
    rejects = analyst.get(f"/api/loads/{latest['batch_id']}/rejects").json()
    assert rejects["total"] == 2 and {r["value"] for r in rejects["rows"]} == {"2019-13", "Nonsense"}
    assert viewer.get(f"/api/loads/{latest['batch_id']}/rejects").status_code == 403
    text = viewer.get(f"/status/loads/{latest['batch_id']}", headers=HTML).text
    assert "not a month" in text and "2019-13" not in text and "shown to analysts" in text
    assert "2019-13" in analyst.get(f"/status/loads/{latest['batch_id']}", headers=HTML).text
    assert "Recent loads" in viewer.get("/status", headers=HTML).text
    assert viewer.get("/status/loads?kind=", headers=HTML).status_code == 200  # the form's "all"


# --- admin ---------------------------------------------------------------------------------------------


def test_add_disable_reset_through_the_api(app: FastAPI, as_role: dict[str, Signed]) -> None:
    admin = as_role["admin"]
    r = admin.post("/api/admin/users", json={"username": "api-made", "role": "analyst"})
    assert r.status_code == 201
    made = r.json()
    assert made["username"] == "api-made" and made["role"] == "analyst" and len(made["password"]) >= 12
    assert admin.post("/api/admin/users", json={"username": "api-made", "role": "viewer"}).status_code == 400
    assert admin.post("/api/admin/users", json={"username": "x y", "role": "viewer"}).status_code == 422
    assert (
        admin.post("/api/admin/users", json={"username": "api-bad-role", "role": "boss"}).status_code == 400
    )
    listed = {u["username"]: u for u in admin.get("/api/admin/users").json()}
    assert listed["api-made"]["role"] == "analyst" and not listed["api-made"]["disabled"]
    assert "password" not in json.dumps(listed)
    signed = sign_in(app, next(a for a in accounts.list_users(app.state.db) if a.username == "api-made"))
    assert signed.get("/api/plans").status_code == 200
    assert admin.post("/api/admin/users/api-made/disable").json()["disabled"] is True
    assert signed.get("/api/plans").status_code == 401  # its sessions ended
    reset = admin.post("/api/admin/users/api-made/reset").json()
    assert reset["password"] != made["password"]
    assert admin.post("/api/admin/users/nobody-here/reset").status_code == 404
    assert admin.post("/api/admin/users/nobody-here/disable").status_code == 404
    assert admin.post("/api/admin/users/test-admin/disable").status_code == 400  # not your own


def test_admin_forms(as_role: dict[str, Signed]) -> None:
    admin = as_role["admin"]
    form = {"csrf_token": admin.csrf}
    r = admin.client.post(
        "/admin/users", data={**form, "username": "form-made", "role": "viewer"}, headers=HTML
    )
    assert r.status_code == 200 and "shown this once" in r.text and "form-made" in r.text
    r = admin.client.post("/admin/users/form-made/disable", data=form, headers=HTML)
    assert r.status_code == 200 and "disabled and signed out" in r.text
    r = admin.client.post("/admin/users/form-made/reset", data=form, headers=HTML)
    assert r.status_code == 200 and "shown this once" in r.text
    r = admin.client.post("/admin/users", data={**form, "username": "form-made"}, headers=HTML)
    assert r.status_code == 400 and "already exists" in r.text
    assert admin.client.post("/admin/users/nobody-here/reset", data=form, headers=HTML).status_code == 404
    assert admin.client.post("/admin/users/test-admin/disable", data=form, headers=HTML).status_code == 400
    listed = admin.get("/admin/users", headers=HTML).text
    assert "form-made" in listed and "shown this once" not in listed  # the password is not shown again


def test_audit_pages(as_role: dict[str, Signed]) -> None:
    admin = as_role["admin"]
    first = admin.get("/api/admin/audit?limit=5").json()
    assert len(first["entries"]) == 5 and first["more"]
    ids = [e["id"] for e in first["entries"]]
    assert ids == sorted(ids, reverse=True)
    second = admin.get(f"/api/admin/audit?limit=5&before={first['next_before']}").json()
    assert [e["id"] for e in second["entries"]] == [min(ids) - k for k in range(1, 6)]  # no overlap, no gap
    verdict = admin.get("/api/admin/audit/verify").json()
    assert verdict["ok"] and verdict["entries"] >= max(ids)
    assert "Intact" in admin.get("/admin/audit/verify", headers=HTML).text
    assert "older" in admin.get("/admin/audit", headers=HTML).text
    assert f"older than entry {min(ids)}" in admin.get(f"/admin/audit?before={min(ids)}", headers=HTML).text
    csv = admin.get("/api/admin/audit.csv")
    assert (
        csv.headers["content-type"].startswith("text/csv")
        and "attachment" in csv.headers["content-disposition"]
    )
    lines = csv.text.splitlines()
    assert lines[0] == "id,at,actor,action,target,params,outcome,hash" and len(lines) > 10


def test_forecast_page_shows_intervals(viewer: Signed) -> None:
    """The citywide and each BCU's expected total with its interval, and each listed hot spot's range."""
    iv = viewer.get("/api/forecasts/1").json()["intervals"]
    city = iv["totals"]["city"]
    assert city["lower"] <= city["expected"] <= city["upper"]
    page = viewer.get("/forecasts/1", headers=HTML).text
    assert "80% intervals" in page and "<td>citywide</td>" in page and "<td>east BCU</td>" in page
    assert f"{city['lower']:,.0f} – {city['upper']:,.0f}" in page
    east = viewer.get("/api/forecasts/1?bcu=east").json()["top"]
    spot = next(s for s in east if s["lower"] is not None)
    assert f"{spot['lower']:,.0f} – {spot['upper']:,.0f}" in page
