"""The promise of the channel, checked end to end: through the real HTTP server (``safestreets intake
serve`` as its own process, on loopback), reports come in from a distinctive client address (127.0.0.57)
with a distinctive user agent and referrer; afterwards every database file, log line and temporary file
the service wrote is scanned, and none may hold that address, that user agent, the referrer, the codename,
the photo's camera details or any fragment of what was reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, text

from intel.intel_support import PASSPHRASE, codename_of, gps_photo, scan, serve
from safestreets.api import Workspace
from safestreets.db import connect, database_url
from safestreets.db.intel import IntelReport

pytestmark = pytest.mark.slow

ADDRESS = "127.0.0.57"
OTHER = "127.0.0.58"
AGENT = "ProbeAgent/57.0 (distinctive-ua-q7x3)"
REFERRER = "https://referrer-probe.example/from-here-k2v9"
SECRETS = [
    "Zanzibar Tuesday crossbow",  # words of the report
    "behind the laundrette on Quillfeather Row",
    "the fellow called Marrowby",
    "heard it from my cousin Oswin",
    "detail added later: gold Vauxhall",
]


def test_nothing_written_identifies_the_reporter(ws: Workspace, tmp_path: Path) -> None:
    root = ws.root
    ws.close()
    served = serve(root, tmp_path / "run", "--per-client", "5")
    headers = {"User-Agent": AGENT, "Referer": REFERRER, "X-Forwarded-For": ADDRESS}
    try:
        with served.client(ADDRESS, headers=headers) as c:
            r = c.post("/report", data={"what": f"{SECRETS[0]} {SECRETS[2]}", "where": SECRETS[1],
                                        "when": "Friday night", "how": "told", "lat": "51.5154", "lon": "-0.0921"},
                       files=[("photos", ("evidence.jpg", gps_photo(), "image/jpeg"))])  # fmt: skip
            assert r.status_code == 200, r.text
            assert "set-cookie" not in r.headers
            name = codename_of(r.text)
            r = c.post("/return", data={"codename": name})
            assert r.status_code == 200 and "No messages yet" in r.text
            r = c.post("/return/add", data={"codename": name, "more": SECRETS[4]})
            assert r.status_code == 200
            bad = c.post("/report", data={"what": SECRETS[3]},
                         files=[("photos", ("fake.jpg", b"%PDF-1.4 " + SECRETS[3].encode(), "image/jpeg"))])  # fmt: skip
            assert bad.status_code == 400
            assert c.get("/no-such-page?q=" + SECRETS[3].replace(" ", "+")).status_code == 404
            # The per-client window counts this address (in memory only): the sixth attempt is refused ...
            assert c.post("/return", data={"codename": "wrong " * 7}).status_code == 403
            flood = c.post("/report", data={"what": SECRETS[3]})
            assert flood.status_code == 429 and "try again" in flood.text
        # ... while another address is still let in: the address reached the app, and left no trace.
        with served.client(OTHER, headers=headers) as c:
            assert c.post("/return", data={"codename": name}).status_code == 200
    finally:
        served.stop()

    db = connect(database_url(root))
    with db.session() as s:
        reports = s.execute(select(IntelReport)).scalars().all()
        assert len(reports) == 1  # the refused ones stored nothing, not even half
        assert reports[0].received_day is not None
    db.dispose()
    written = [root, served.log, served.tmp]
    needles = [ADDRESS, AGENT, "distinctive-ua", REFERRER, "referrer-probe", name, "ProbePhone-57", "Model-X57",
               "51.5154", *SECRETS, *(w for s in SECRETS for w in s.split() if len(w) >= 7)]  # fmt: skip
    assert scan([root], ["intel_reports"]), "the scanner must see the database's own words (a control)"
    leaks = scan(written, needles)
    assert not leaks, leaks
    # No time of day in what the service logged, and none in its tables (days only).
    assert not re.search(r"\d{1,2}:\d{2}:\d{2}", served.log.read_text(errors="replace"))
    db = connect(database_url(root))
    with db.session() as s:
        for table in ("intel_reports", "intel_reporters", "intel_attachments", "intel_messages"):
            for row in s.execute(text(f"SELECT * FROM {table}")).all():
                for value in row:
                    if isinstance(value, str):
                        assert not re.search(r"\d{2}:\d{2}", value), (table, value)
    db.dispose()
    # And the team can still read it all, with the key the intake host never had.
    with Workspace(root) as staff:
        shown = staff.intel_show(staff.intel_unlock(PASSPHRASE), reports[0].id, actor="test")
    assert SECRETS[0] in shown.opened.doc["what"] and shown.opened.doc["where"] == SECRETS[1]
    assert [m["text"] for m in shown.opened.messages] == [SECRETS[4]]
    assert len(shown.opened.photos) == 1
