"""The dashboard's intel pages: analysts only, CSRF on every form, every decryption audited, a wrong
passphrase refused (and audited), triage, grading, reply and export through the forms."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from intel.intel_support import PASSPHRASE, gps_photo
from safestreets.api import Workspace, accounts
from safestreets.db import audit, sessions
from safestreets.intel import codename, keys, photos, records
from safestreets.web import create_app, settings_for

BASE = "https://testserver"


@pytest.fixture
def web(ws: Workspace):  # type: ignore[no-untyped-def]
    app = create_app(settings_for(ws.root))
    clients = {}
    for role in ("viewer", "analyst"):
        account, _ = accounts.add_user(app.state.db, f"i-{role}", role, actor="test")
        token = sessions.start(app.state.db, account)
        active = sessions.resume(app.state.db, token)
        c = TestClient(app, base_url=BASE, follow_redirects=False)
        c.cookies.set("ss_session", token)
        clients[role] = (c, active.csrf_token)
    team = keys.load_public(ws.root / "intel" / "team.pub")
    rid = records.store_report(app.state.db, team, codename.derive(codename.new_codename()),
                               {"what": "a machete in the bin store; he will stab Riley tonight", "point": None},
                               [photos.clean(gps_photo())], danger_now=False, today=date.today())  # fmt: skip
    yield app, clients, rid
    app.state.db.dispose()


def test_only_analysts_and_csrf(web) -> None:  # type: ignore[no-untyped-def]
    _app, clients, rid = web
    viewer, _ = clients["viewer"]
    analyst, _csrf = clients["analyst"]
    for url in ("/intel", f"/intel/{rid}", "/api/intel/reports", "/api/intel/counts"):
        assert viewer.get(url).status_code == 403, url
        assert analyst.get(url).status_code == 200, url
    assert analyst.post(f"/intel/{rid}/open", data={"passphrase": PASSPHRASE}).status_code == 403  # no token
    assert "machete" not in analyst.get(f"/intel/{rid}").text  # not decrypted without the passphrase
    listing = analyst.get("/api/intel/reports").json()
    assert listing[0]["id"] == rid and "machete" not in json.dumps(listing)


def test_decrypt_triage_grade_reply_export(web) -> None:  # type: ignore[no-untyped-def]
    app, clients, rid = web
    c, csrf = clients["analyst"]
    bad = c.post(f"/intel/{rid}/open", data={"passphrase": "wrong wrong wrong", "csrf_token": csrf},
                 headers={"accept": "text/html"})  # fmt: skip
    assert bad.status_code == 400 and "wrong passphrase" in bad.text
    assert next(iter(audit.entries(app.state.db, limit=1)))["outcome"] == "denied"
    ok = c.post(f"/intel/{rid}/open", data={"passphrase": PASSPHRASE, "csrf_token": csrf})
    assert (
        ok.status_code == 200
        and "machete in the bin store" in ok.text
        and "data:image/jpeg;base64" in ok.text
    )
    e = next(iter(audit.entries(app.state.db, limit=1)))
    assert (e["actor"], e["action"], e["target"]) == ("i-analyst", "decrypt", f"intel.report:{rid}")
    t = c.post(
        f"/intel/{rid}/triage", data={"passphrase": PASSPHRASE, "csrf_token": csrf, "area": "E01000001"}
    )
    assert t.status_code == 200 and "THREAT TO LIFE" in t.text
    g = c.post(
        f"/intel/{rid}/grade", data={"source": "2", "assessment": "C", "handling": "P", "csrf_token": csrf}
    )
    assert g.status_code == 200 and "Graded 2CP" in g.text
    r = c.post(f"/intel/{rid}/redact", data={"passphrase": PASSPHRASE, "terms": "Riley", "csrf_token": csrf})
    assert r.status_code == 200 and "[redacted]" in r.text
    assert (
        c.post(f"/intel/{rid}/reply", data={"text": "Which bin store?", "csrf_token": csrf}).status_code
        == 200
    )
    x = c.post(f"/intel/{rid}/export", data={"passphrase": PASSPHRASE, "csrf_token": csrf})
    assert x.status_code == 200 and "attachment" in x.headers["content-disposition"]
    doc = x.json()
    assert doc["grading"]["code"] == "2CP" and "Riley" not in json.dumps(doc) and doc["threat_to_life"]
    actions = [e["action"] for e in audit.entries(app.state.db, limit=30)]
    assert "alert" in actions and "export" in actions
    assert audit.verify(app.state.db).ok
