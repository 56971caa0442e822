"""The operations register: a round trip through the CLI, the API and the dashboard; history kept on every
edit; bad input refused with the field and row named and nothing stored; the audit trail has each change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.accountability.helpers_acct import small_workspace

from safestreets import Workspace
from safestreets.api import accounts
from safestreets.db.accountability import OperationTally, OperationVersion
from safestreets.db.audit import entries, verify
from safestreets.errors import InputError, ParameterError
from safestreets.web import create_app, settings_for
from test_cli import run
from web.web_support import BASE, sign_in


def count(ws: Workspace, model: type) -> int:
    with ws.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = small_workspace(tmp_path)
    yield w
    w.close()


def test_api_history_and_audit(ws: Workspace) -> None:
    op = ws.operation_add(name="Op Sceptre week", start="2024-11-11", end="2024-11-17", areas=["Central North", "Camden"],
                          tactics=["knife arches", "weapons-sweeps"], actor="alice")  # fmt: skip
    assert op.areas == ({"kind": "bcu", "code": "central-north"}, {"kind": "borough", "code": "E09000007"})
    assert op.tactics == ("knife-arches", "weapons-sweeps") and op.version == 1 and op.entered_by == "alice"
    made = ws.operation_tallies_add(op.id, rows=[{"day": "2024-11-12", "bcu": "Central North", "tactic": "knife arches",
                                                  "knives": 5, "arrests": 12}], actor="bob")  # fmt: skip
    assert made[0].bcu == "central-north" and made[0].counts["knives"] == 5
    fixed = ws.operation_tally_correct(made[0].id, {"knives": 6}, actor="carol")
    assert fixed.replaces == made[0].id
    edited = ws.operation_edit(op.id, end="2024-11-18", actor="dave")
    assert edited.version == 2 and edited.end.isoformat() == "2024-11-18"
    history = ws.operation_history(op.id)
    assert [(v.version, v.end.isoformat(), v.entered_by) for v in history] == [
        (1, "2024-11-17", "alice"), (2, "2024-11-18", "dave")]  # fmt: skip
    assert [t.counts["knives"] for t in ws.operation_tallies(op.id)] == [6]
    assert [t.counts["knives"] for t in ws.operation_tallies(op.id, history=True)] == [5, 6]
    report = ws.operation_report(op.id)
    assert report.totals["knives"] == 6 and report.totals["arrests"] == 12
    assert report.headline.startswith(
        "Op Sceptre week (11 November 2024 to 18 November 2024): 6 knives, 12 arrests"
    )
    # every change is in the audit trail, in order, by whom, and the chain holds
    trail = [e for e in entries(ws.db) if e["target"].startswith("operations/")][::-1]
    assert [(e["actor"], json.loads(e["params"])["do"]) for e in trail] == [
        ("alice", "add"), ("bob", "add"), ("carol", "correct"), ("dave", "edit")]  # fmt: skip
    assert json.loads(trail[-1]["params"])["changed"] == {"end": "2024-11-18"}
    assert verify(ws.db).ok
    # what the impact evaluation reads: dates, tactics and the areas as one geometry in the store's CRS
    from safestreets.accountability.operations import get_operation

    with ws.db.session() as s:
        read = get_operation(s, op.id, con=ws.con)
        first = get_operation(s, op.id, version=1)
    assert (read.start.isoformat(), read.end.isoformat(), read.tactics) == (
        "2024-11-11",
        "2024-11-18",
        op.tactics,
    )
    assert first.end.isoformat() == "2024-11-17" and first.geometry is None
    # the BCU is both test boroughs (squares of 0.04 x 0.02 degrees, about 6.2 km2 each); Camden is inside it
    assert read.geometry is not None and 11.5e6 < read.geometry.area < 13e6


def test_bad_input_names_the_field_and_stores_nothing(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="end: 2024-11-01 is before start"):
        ws.operation_add(name="x", start="2024-11-11", end="2024-11-01", areas=["Camden"], tactics=["anpr"])
    with pytest.raises(ParameterError, match="tactics: unknown tactic 'teleport'"):
        ws.operation_add(
            name="x", start="2024-11-11", end="2024-11-12", areas=["Camden"], tactics=["teleport"]
        )
    with pytest.raises(ParameterError, match="areas: unknown BCU or borough 'Camdn': did you mean 'camden'"):
        ws.operation_add(name="x", start="2024-11-11", end="2024-11-12", areas=["Camdn"], tactics=["anpr"])
    op = ws.operation_add(
        name="Op A", start="2024-11-11", end="2024-11-12", areas=["Camden"], tactics=["anpr"]
    )
    with pytest.raises(InputError, match="cannot be negative") as err:
        ws.operation_tallies_add(
            op.id, rows=[{"day": "2024-11-11", "knives": 1}, {"day": "2024-11-12", "arrests": -3}]
        )
    assert (err.value.row, err.value.column) == (2, "arrests")
    bad = tmp_path / "tallies.csv"
    bad.write_text(
        "date,bcu,tactic,knives\n2024-11-11,Central North,knife arches,2\n2024-11-12,,teleport,1\n"
    )
    with pytest.raises(InputError) as err:
        ws.operation_tallies_add(op.id, csv=bad)
    assert (err.value.row, err.value.column, err.value.value) == (2, "tactic", "teleport")
    late = tmp_path / "late.csv"
    late.write_text("date,knives\n2024-11-11,1\n2024-11-20,1\n")
    with pytest.raises(InputError, match="outside the operation") as err:
        ws.operation_tallies_add(op.id, csv=late)
    assert (err.value.row, err.value.column) == (2, "date")
    assert count(ws, OperationTally) == 0 and count(ws, OperationVersion) == 1


def test_round_trip_cli_api_dashboard(tmp_path: Path) -> None:
    ws = small_workspace(tmp_path)
    path = ws.root
    ws.close()
    # CLI: record the operation and a CSV of tallies
    r = run("operation", "add", "Week of action", "--start", "2024-11-18", "--end", "2024-11-24", "--area", "Camden",
            "--tactic", "community events", "--tactic", "weapons sweeps", workspace=path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    csv = tmp_path / "t.csv"
    csv.write_text("operation,date,tactic,community_events,knives,arrests\nWeek of action,2024-11-18,community events,"
                   "40,0,0\nWeek of action,2024-11-19,weapons sweeps,0,11,37\n")  # fmt: skip
    r = run("operation", "tally", "--csv", str(csv), workspace=path)
    assert r.returncode == 0 and "2 tally row(s)" in r.stdout, r.stderr
    r = run("operation", "tally", "--csv", str(csv), "2", workspace=path)
    assert r.returncode == 1 and "no operation 2" in r.stderr
    # API: it is there, with what the CLI entered and who entered it
    with Workspace(path) as w:
        (op,) = w.operations()
        assert op.name == "Week of action" and op.entered_by.startswith("cli")
        totals = w.operation_report(op.id).totals
        assert (totals["community_events"], totals["knives"], totals["arrests"]) == (40, 11, 37)
        analyst, _ = accounts.add_user(w.db, "ana", "analyst", actor="test")
        viewer, _ = accounts.add_user(w.db, "vic", "viewer", actor="test")
    # dashboard: an analyst records a tally through the form (CSRF), a viewer cannot, JSON agrees
    app = create_app(settings_for(path))
    a, v = sign_in(app, analyst), sign_in(app, viewer)
    page = a.get(f"/accountability/operations/{op.id}", headers={"accept": "text/html"})
    assert page.status_code == 200 and "37 arrests" in page.text and 'name="csrf_token"' in page.text
    form = {
        "csrf_token": a.csrf,
        "day": "2024-11-20",
        "tactic": "knife-arches",
        "knives": "4",
        "arrests": "2",
    }
    posted = a.client.post(f"/accountability/operations/{op.id}/tallies", data=form)
    assert posted.status_code == 303
    assert (
        v.client.post(
            f"/accountability/operations/{op.id}/tallies", data={**form, "csrf_token": v.csrf}
        ).status_code
        == 403
    )
    no_csrf = TestClient(app, base_url=BASE, follow_redirects=False)
    no_csrf.cookies = a.client.cookies
    assert no_csrf.post(f"/accountability/operations/{op.id}/tallies", data={k: x for k, x in form.items()
                                                                             if k != "csrf_token"}).status_code == 403  # fmt: skip
    bad = a.client.post(f"/accountability/operations/{op.id}/tallies", data={**form, "knives": "-1"})
    assert bad.status_code == 400 and "cannot be negative" in bad.text
    body = a.get(f"/api/operations/{op.id}").json()
    assert body["totals"]["knives"] == 15 and body["totals"]["arrests"] == 39
    made = a.post("/api/operations", json={"name": "Op B", "start": "2024-12-01", "end": "2024-12-02", "areas": ["Islington"],
                                           "tactics": ["anpr"]})  # fmt: skip
    assert made.status_code == 201 and made.json()["entered_by"] == "ana"
    new = a.client.post("/accountability/operations", data={"csrf_token": a.csrf, "name": "Op C", "start": "2024-12-05",
                                                            "end": "2024-12-01", "areas": "Camden", "tactics": "anpr"})  # fmt: skip
    assert new.status_code == 400 and "dates out of order" in new.text
    layer = a.get("/api/layers/accountability").json()
    assert {f["properties"]["name"] for f in layer["features"]} == {
        "Week of action",
        "Op B",
    }  # borough outlines
    auth = {"starts_at": "2024-11-20T18:00", "ends_at": "2024-11-21T12:00", "authorised_by": "Insp A", "rank": "inspector",
            "grounds": "stabbing", "place": "Market", "lon": -0.16, "lat": 51.53, "radius_m": 500}  # fmt: skip
    assert a.post("/api/s60", json=auth).status_code == 201
    refused = a.post("/api/s60", json={**auth, "rank": "sergeant"})
    assert refused.status_code == 400 and "rank: a sergeant may not authorise" in refused.json()["error"]
    assert v.post("/api/s60", json=auth).status_code == 403
    s60_page = v.get("/accountability/s60", headers={"accept": "text/html"})
    assert s60_page.status_code == 200 and "Insp A (inspector)" in s60_page.text
    # back in the CLI: the dashboard's entries are in the report, and the history lists who entered what
    first = body["operation"]["id"]
    r = run("operation", "history", str(first), "--format", "json", workspace=path)
    assert r.returncode == 0 and '"version": 1' in r.stdout
    r = run("operation", "report", str(op.id), workspace=path)
    assert r.returncode == 0 and "15 knives" in r.stdout and "39 arrests" in r.stdout, r.stderr
    with Workspace(path) as w:
        trail = [e for e in entries(w.db) if e["target"].startswith("operations/")]
        assert {e["actor"] for e in trail} >= {"ana"} and any(e["actor"].startswith("cli") for e in trail)
        assert verify(w.db).ok
    app.state.db.dispose()


def test_plan_delivered_against_recorded_visits(ws: Workspace) -> None:
    """An operation that followed a stored plan: the plan's visits in the operation's days, per BCU, against
    the visits recorded."""
    con = ws.con
    con.execute("INSERT INTO plan_runs (created_at, week_start, solver, status, objective, bound, gap, seconds, "
                "params) VALUES (now(), DATE '2024-11-11', 'milp', 'optimal', 1, 1, 0, 1, '{}')")  # fmt: skip
    plan_id = con.execute("SELECT max(plan_id) FROM plan_runs").fetchall()[0][0]
    con.execute("INSERT INTO plan_hotspots (plan_id, team_id, home, bcu, shift, stop, unit_id, visits_per_day, "
                "harm_week) VALUES (?, 't1', 'central-north', 'central-north', 'late', 1, 'u1', 2, 5.0)", [plan_id])  # fmt: skip
    for day in ("2024-11-11", "2024-11-12", "2024-11-13"):
        for seq in (1, 2):
            con.execute("INSERT INTO plan_visits VALUES (?, 't1', ?, ?, 'u1', TIMESTAMP '2024-11-11 20:00', "
                        "TIMESTAMP '2024-11-11 20:15')", [plan_id, day, seq])  # fmt: skip
    op = ws.operation_add(name="Op Plan", start="2024-11-11", end="2024-11-12", areas=["Central North"],
                          tactics=["hot spot patrols", "plan"], plan_id=plan_id)  # fmt: skip
    ws.operation_tallies_add(op.id, rows=[{"day": "2024-11-11", "bcu": "central-north", "visits": 2},
                                          {"day": "2024-11-12", "bcu": "Central North", "visits": 1}])  # fmt: skip
    (row,) = ws.operation_report(op.id).delivery
    assert (row["bcu"], row["planned"], row["recorded"], row["delivered"]) == ("central-north", 4, 3, 0.75)
    with pytest.raises(Exception, match="plan: no patrol plan 999"):
        ws.operation_add(
            name="Op X", start="2024-11-11", end="2024-11-12", areas=["Camden"], tactics=["plan"], plan_id=999
        )
