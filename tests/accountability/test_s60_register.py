"""Section 60: a catalogue of lawful and unlawful authorisations against the limits (defaults and a
workspace's own), refusal storing nothing, flagging storing the problems, the audit trail, and the
searches linked to an authorisation on the real Met files (Notting Hill Carnival, August 2024)."""

from __future__ import annotations

import csv
import gzip
import json
import math
from datetime import datetime
from pathlib import Path

import pytest
from tests.accountability.helpers_acct import small_workspace

from safestreets import Workspace
from safestreets.accountability.s60 import Authorisation, Extension, aware, check, near
from safestreets.api.s60 import limits
from safestreets.db.audit import entries
from safestreets.errors import ParameterError, WorkspaceError
from safestreets.plan.incident import Section60Limits

LAW = Section60Limits()


def auth(start: str = "2024-05-01T18:00", end: str = "2024-05-02T06:00", rank: str = "inspector",
         extensions: tuple[tuple[str, str], ...] = (), **kw: object) -> Authorisation:  # fmt: skip
    base = {"reference": "", "place": "Market", "lon": -0.12, "lat": 51.5, "radius_m": 800.0, "polygon_wkt": None,
            "authorised_by": "Insp A", "grounds": "stabbing; retaliation feared", "incident": "CAD 1"}  # fmt: skip
    base.update(kw)
    return Authorisation(None, starts_at=aware(start, "s"), ends_at=aware(end, "e"), rank=rank,
                         extensions=tuple(Extension(aware(u, "u"), r, "Supt B") for u, r in extensions), **base)  # type: ignore[arg-type]  # fmt: skip


LAWFUL = {
    "inspector, 12 h": auth(),
    "inspector, exactly 24 h": auth(end="2024-05-02T18:00"),
    "chief inspector, 24 h": auth(end="2024-05-02T18:00", rank="chief inspector"),
    "superintendent extends to 48 h": auth(end="2024-05-02T18:00", extensions=(("2024-05-03T18:00", "superintendent"),)),
    "two extensions by a chief superintendent within 48 h": auth(
        extensions=(("2024-05-02T18:00", "chief superintendent"), ("2024-05-03T12:00", "ch supt"))),
    "commander authorises": auth(rank="Commander"),
    "polygon area": auth(polygon_wkt="POLYGON((-0.13 51.49,-0.11 51.49,-0.11 51.51,-0.13 51.51,-0.13 51.49))",
                         lon=None, lat=None, radius_m=None),
}  # fmt: skip
UNLAWFUL = {
    "sergeant authorises": (auth(rank="sergeant"), "rank:"),
    "constable authorises": (auth(rank="PC"), "rank:"),
    "25 h at first": (auth(end="2024-05-02T19:00"), "ends_at: 25 h"),
    "inspector extends": (auth(extensions=(("2024-05-02T18:00", "inspector"),)), "extensions[1].rank"),
    "49 h in all": (auth(end="2024-05-02T18:00", extensions=(("2024-05-03T19:00", "superintendent"),)), "49 h in all"),
    "extension that ends earlier": (auth(extensions=(("2024-05-02T01:00", "superintendent"),)), "extensions[1].until"),
    "ends before it starts": (auth(end="2024-05-01T17:00"), "ends_at:"),
    "no grounds": (auth(grounds="  "), "grounds:"),
    "no area": (auth(lon=None, lat=None, radius_m=None), "area:"),
    "zero radius": (auth(radius_m=0.0), "area:"),
}  # fmt: skip


@pytest.mark.parametrize("name", LAWFUL)
def test_lawful(name: str) -> None:
    assert check(LAWFUL[name], LAW) == []


@pytest.mark.parametrize("name", UNLAWFUL)
def test_unlawful(name: str) -> None:
    a, field = UNLAWFUL[name]
    problems = check(a, LAW)
    assert problems and any(p.startswith(field) or field in p for p in problems), problems


def test_stricter_limits_from_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "safestreets.toml").write_text('[section60]\nauthorising_rank = "superintendent"\ninitial_hours = 15\n'
                                               "max_hours = 39\n")  # fmt: skip
    mine = limits(tmp_path)
    assert (mine.authorising_rank, mine.initial_hours, mine.max_hours) == ("superintendent", 15.0, 39.0)
    assert any(p.startswith("rank:") for p in check(auth(), mine))
    assert check(auth(rank="superintendent"), mine) == []
    (tmp_path / "safestreets.toml").write_text("[section60]\nmax_hourz = 3\n")
    with pytest.raises(WorkspaceError, match="max_hourz"):
        limits(tmp_path)


def test_refused_stores_nothing_flagged_keeps_problems_and_both_are_audited(tmp_path: Path) -> None:
    ws = small_workspace(tmp_path)
    with pytest.raises(ParameterError, match="refused: rank: a sergeant may not authorise"):
        ws.s60_add(starts_at="2024-05-01T18:00", ends_at="2024-05-02T06:00", authorised_by="Sgt C", rank="sergeant",
                   grounds="fight", lon=-0.12, lat=51.5, radius_m=500, actor="ana")  # fmt: skip
    assert ws.s60_list() == []
    a = ws.s60_add(starts_at="2024-05-01T18:00", ends_at="2024-05-02T06:00", authorised_by="Sgt C", rank="sergeant",
                   grounds="fight", lon=-0.12, lat=51.5, radius_m=500, actor="ana", flag=True)  # fmt: skip
    assert a.verdict == "flagged" and a.problems[0].startswith("rank:")
    ok = ws.s60_add(starts_at="2024-05-03T18:00", ends_at="2024-05-04T18:00", authorised_by="Insp D", rank="inspector",
                    grounds="shooting", lon=-0.12, lat=51.5, radius_m=500, actor="ana")  # fmt: skip
    with pytest.raises(ParameterError, match=r"extensions\[1\]\.rank"):
        ws.s60_extend(ok.id, "2024-05-05T12:00,chief inspector", actor="bo")
    longer = ws.s60_extend(ok.id, "2024-05-05T12:00,superintendent,Supt E", actor="bo")
    assert longer.verdict == "lawful" and longer.hours == 42
    trail = [
        (e["actor"], json.loads(e["params"]).get("do"), e["outcome"])
        for e in entries(ws.db)
        if e["target"].startswith("s60/")
    ]
    assert trail[::-1] == [("ana", "add", "flagged"), ("ana", "add", "lawful"), ("bo", "extend", "lawful")]
    # the incident decision support is handed what is active or recent nearby
    when = datetime.fromisoformat("2024-05-05T00:00+00:00")
    close = near(ws.s60_list(), -0.121, 51.501, when)
    assert [(c["id"], c["active"]) for c in close] == [
        (ok.id, True),
        (a.id, False),
    ]  # the flagged one ended 3 days before
    assert [c["id"] for c in near(ws.s60_list(), -0.121, 51.501, when, recent_days=1)] == [ok.id]
    assert near(ws.s60_list(), -0.3, 51.6, when) == []
    ws.close()


@pytest.mark.realdata
def test_searches_linked_at_notting_hill_carnival(shared_data: Path, tmp_path: Path) -> None:
    """A 48 h authorisation around Notting Hill for carnival 2024, on the Met's August 2024 file: the linked
    searches are exactly the file's section 60 rows inside the window and the 1,500 m circle."""
    from safestreets.geo.project import lonlat_to_crs

    folder = shared_data / "police_uk" / "met_stop_and_search"
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest(folder / "2024-08-metropolitan-stop-and-search.csv.gz")
    a = ws.s60_add(starts_at="2024-08-25T06:00", ends_at="2024-08-26T06:00", authorised_by="Ch Supt F",
                   rank="chief superintendent", grounds="serious violence at past carnivals", place="Notting Hill",
                   lon=-0.206, lat=51.517, radius_m=1500, incident="Notting Hill Carnival",
                   extensions=["2024-08-27T06:00,superintendent,Supt G"])  # fmt: skip
    assert a.verdict == "lawful" and a.hours == 48
    (r,) = ws.s60_report(a.id)
    import numpy as np

    cx, cy = lonlat_to_crs(np.array([-0.206]), np.array([51.517]), "EPSG:27700")
    inside, arrests, unlocated = 0, 0, 0
    with gzip.open(folder / "2024-08-metropolitan-stop-and-search.csv.gz", "rt") as f:
        for row in csv.DictReader(f):
            t = datetime.fromisoformat(row["Date"])
            if "section 60" not in row["Legislation"] or not a.starts_at <= t <= a.final_end:
                continue
            if not row["Longitude"]:
                unlocated += 1
                continue
            x, y = lonlat_to_crs(
                np.array([float(row["Longitude"])]), np.array([float(row["Latitude"])]), "EPSG:27700"
            )
            if (
                math.hypot(x[0] - cx[0], y[0] - cy[0]) <= 1500 - 1
            ):  # the circle is a 128-gon: stay clear of its edge
                inside += 1
                arrests += row["Outcome"] == "Arrest"
    assert inside > 500
    assert inside <= r.searches <= inside + 5 and r.unlocated == unlocated
    assert arrests <= r.arrests <= arrests + 1
    assert sum(r.who["ethnicity"].values()) == r.searches == sum(r.who["age"].values())
    ws.close()


def test_incident_decision_support_reads_the_register(tmp_path: Path) -> None:
    """The hubs incident mode is handed the register's authorisations near the scene by the api."""
    import numpy as np

    from safestreets.api.s60 import near_incident
    from safestreets.config import Workspace as Paths
    from safestreets.db import connect, database_url
    from safestreets.geo.project import crs_to_lonlat
    from safestreets.plan.incident import incident_context
    from safestreets.store import open_store
    from test_hubs import add_event
    from test_incident import WHEN, X, Y, s60

    con = open_store(Paths(tmp_path / "ws"), create=True)
    s60(con, 100, "2024-01-05 20:00", outcome="Arrest", linked=True)
    add_event(con, X + 400, Y, "2024-03-06 22:00")
    db = connect(database_url(tmp_path / "ws"))
    lon, lat = (float(v[0]) for v in crs_to_lonlat(np.array([X]), np.array([Y]), "EPSG:27700"))
    ws_auth = auth(start="2024-03-10T20:00", end="2024-03-11T08:00", lon=lon + 0.005, lat=lat)
    from safestreets.accountability.s60 import add_authorisation

    add_authorisation(db, ws_auth, LAW, actor="test")
    when = aware("2024-03-10T23:00", "when")
    register = near_incident(db, con, lon, lat, when)
    assert (
        len(register) == 1 and register[0]["active"] and register[0]["distance_m"] == 0
    )  # inside its circle
    apart = near_incident(db, con, lon - 0.02, lat, when)  # 0.025 deg (1.74 km) from the centre, less 800 m
    assert 850 < apart[0]["distance_m"] < 1050
    lines = incident_context(con, None, x=X, y=Y, when=WHEN, authorisations=register).lines()
    assert any(
        line.strip().startswith("Section 60 register: authorisation 1 Market (lawful)") for line in lines
    )
    none_near = incident_context(con, None, x=X, y=Y, when=WHEN, authorisations=[]).lines()
    assert any("no authorisation active or recent" in line for line in none_near)
    con.close()
    db.dispose()


def test_dashboard_form_records_in_local_time_refuses_a_breach_and_viewers(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from safestreets.api import accounts
    from safestreets.web import create_app, settings_for
    from web.web_support import BASE, sign_in

    w = small_workspace(tmp_path)
    analyst, _ = accounts.add_user(w.db, "ana", "analyst", actor="test")
    viewer, _ = accounts.add_user(w.db, "vic", "viewer", actor="test")
    zone, root = w.timezone, w.root
    w.close()
    app = create_app(settings_for(root))
    a, v = sign_in(app, analyst), sign_in(app, viewer)
    form = {"starts_at": "2024-07-01T18:00", "ends_at": "2024-07-02T06:00", "authorised_by": "Insp A",
            "rank": "inspector", "grounds": "a stabbing; retaliation feared", "lon": "-0.12", "lat": "51.5",
            "radius_m": "800"}  # fmt: skip
    page = a.get("/accountability/s60", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'action="/accountability/s60"' in page.text
    assert 'action="/accountability/s60"' not in v.get("/accountability/s60", headers={"accept": "text/html"}).text
    assert v.client.post("/accountability/s60", data={**form, "csrf_token": v.csrf}).status_code == 403
    no_csrf = TestClient(app, base_url=BASE, follow_redirects=False)
    no_csrf.cookies = a.client.cookies
    assert no_csrf.post("/accountability/s60", data=form).status_code == 403
    too_long = a.client.post("/accountability/s60", data={**form, "csrf_token": a.csrf, "ends_at": "2024-07-02T19:00"})
    assert too_long.status_code == 400 and "25 h" in too_long.text
    bad = a.client.post("/accountability/s60", data={**form, "csrf_token": a.csrf, "lon": "west"})
    assert bad.status_code == 400 and "lon" in bad.text
    assert a.get("/api/s60").json() == []  # nothing stored by the refusals
    ok = a.client.post("/accountability/s60", data={**form, "csrf_token": a.csrf})
    assert ok.status_code == 303
    (stored,) = a.get("/api/s60").json()
    from zoneinfo import ZoneInfo

    local = datetime(2024, 7, 1, 18, 0, tzinfo=ZoneInfo(zone))
    assert datetime.fromisoformat(stored["starts_at"]) == local
    assert stored["entered_by"] == "ana" and stored["verdict"] == "lawful"
