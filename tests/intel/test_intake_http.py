"""The intake's answers: security headers on every response, clear pages for bad input with nothing stored
half-way, codename round trips, constant-cost refusal of wrong codenames, photos stripped of EXIF."""

from __future__ import annotations

import io
import statistics
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from intel.intel_support import codename_of, gps_photo
from safestreets.api import Workspace
from safestreets.db import connect
from safestreets.db.intel import IntelAttachment, IntelMessage, IntelReport, IntelReporter
from safestreets.intake import IntakeSettings, create_app
from safestreets.intel import codename, photos

SECURITY = {
    "content-security-policy": "default-src 'none'",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def rows(settings: IntakeSettings) -> dict[str, int]:
    db = connect(settings.database_url)
    try:
        with db.session() as s:
            return {t.__tablename__: s.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in (IntelReport, IntelReporter, IntelAttachment, IntelMessage)}  # fmt: skip
    finally:
        db.dispose()


def check_headers(r) -> None:  # type: ignore[no-untyped-def]
    for name, value in SECURITY.items():
        assert value in r.headers.get(name, ""), (r.request.url, name, r.headers.get(name))
    assert "set-cookie" not in r.headers
    assert "server" not in r.headers or "uvicorn" not in r.headers["server"]


def test_security_headers_on_every_response(intake: TestClient, settings: IntakeSettings) -> None:
    big = b"x" * (settings.max_body + 10)
    answers = [
        intake.get("/"), intake.get("/return"), intake.get("/static/intake.css"), intake.get("/nowhere"),
        intake.put("/report"), intake.post("/report", data={"what": ""}),
        intake.post("/report", content=big, headers={"content-type": "multipart/form-data; boundary=b"}),
        intake.post("/return", data={"codename": "not it"}),
    ]  # fmt: skip
    assert [r.status_code for r in answers] == [200, 200, 200, 404, 405, 400, 413, 403]
    for r in answers:
        check_headers(r)
    policy = answers[0].headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script at all


def test_bad_input_gives_a_clear_page_and_stores_nothing(
    intake: TestClient, settings: IntakeSettings
) -> None:
    before = rows(settings)
    r = intake.post("/report", data={"what": "   "})
    assert r.status_code == 400 and "that box is empty" in r.text and "Nothing was saved" in r.text
    r = intake.post("/report", data={"what": "a van, every night"},
                    files=[("photos", ("a.jpg", gps_photo(), "image/jpeg")),
                           ("photos", ("b.jpg", b"GIF89a but not really a picture", "image/jpeg"))])  # fmt: skip
    assert r.status_code == 400 and "photo 2" in r.text and "not a picture" in r.text
    huge = b"\xff\xd8" + b"0" * (settings.max_photo_bytes + 100)
    r = intake.post("/report", data={"what": "x"}, files=[("photos", ("big.jpg", huge, "image/jpeg"))])
    assert r.status_code in (400, 413) and "Nothing was saved" in r.text
    r = intake.post("/report", data={"what": "somewhere", "lat": "north", "lon": "-0.1"})
    assert r.status_code == 400 and "numbers" in r.text
    r = intake.post("/report", data={"what": "y" * (settings.max_text + 1)})
    assert r.status_code == 400
    assert rows(settings) == before  # nothing half-way: no report, no photo, no codename record


def test_a_flood_is_refused_without_storing_it(settings: IntakeSettings) -> None:
    limited = IntakeSettings(**{**settings.__dict__, "per_client": 0, "per_minute": 3})
    with TestClient(create_app(limited)) as c:
        codes = [c.post("/report", data={"what": f"report {n}"}).status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert rows(settings)["intel_reports"] == 3


def test_codename_round_trip(intake: TestClient, ws: Workspace, team_key) -> None:  # type: ignore[no-untyped-def]
    r = intake.post("/report", data={"what": "cars swapping bags at the garage"})
    name = codename_of(r.text)
    words = name.split()
    assert len(words) == codename.WORDS and set(words) <= set(codename.wordlist())
    assert "cannot" in r.text.lower() or "nobody can get it back" in r.text.lower()
    rid = ws.intel_reports(actor="t")[0]["id"]
    ws.intel_reply(rid, "Which garage, and what time?", actor="t")
    page = intake.post("/return", data={"codename": "  " + name.upper().replace(" ", " - ") + " "})
    assert page.status_code == 200 and "Which garage, and what time?" in page.text
    assert (
        intake.post("/return/add", data={"codename": name, "more": "the one on Dock Street, 2am"}).status_code
        == 200
    )
    shown = ws.intel_show(team_key, rid, actor="t")
    assert [m["text"] for m in shown.opened.messages if m["direction"] == "in"] == [
        "the one on Dock Street, 2am"
    ]
    assert intake.post("/return/add", data={"codename": name + " extra", "more": "x"}).status_code == 403


def test_wrong_codenames_are_refused_at_a_constant_cost() -> None:
    right = codename.new_codename()
    wrong = [codename.new_codename(), "a", "x" * 5000, right.replace(right.split()[0], "zzz")]

    def cost(text: str) -> float:
        times = []
        for _ in range(7):
            t = time.perf_counter()
            codename.derive(text)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    base = cost(right)
    for w in wrong:
        assert codename.derive(w).lookup != codename.derive(right).lookup
        assert 0.6 < cost(w) / base < 1.6, w[:20]
    assert codename.derive(right.upper()).lookup == codename.derive(right).lookup


def test_photo_exif_gps_is_stripped() -> None:
    original = gps_photo()
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(0x8825)  # the test photo does carry GPS
    clean = photos.clean(original)
    with Image.open(io.BytesIO(clean)) as img:
        assert img.format == "JPEG"
        assert not img.getexif() and not img.getexif().get_ifd(0x8825)
        assert "exif" not in img.info and "icc_profile" not in img.info
    assert b"ProbePhone-57" not in clean and b"Exif" not in clean


def test_non_images_named_as_images_are_refused() -> None:
    for data in (b"%PDF-1.7\n...", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"\x00" * 100, b""):
        with pytest.raises(Exception, match=r"picture|empty"):
            photos.clean(data, "photo.jpg")


def test_the_form_page_is_plain_and_works_without_script(intake: TestClient) -> None:
    html = intake.get("/").text
    assert "<script" not in html and 'enctype="multipart/form-data"' in html
    assert 'name="viewport"' in html and "999" in html


def test_an_unexpected_error_is_a_plain_page_and_logs_only_its_kind(
    settings: IntakeSettings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from safestreets.intel import records

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom while storing {args[3]!r}")  # a message that would carry the report

    monkeypatch.setattr(records, "store_report", broken)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        r = c.post("/report", data={"what": "the words Quentin Blackthorn must never reach a log"},
                   headers={"user-agent": "Agent-Probe-500"})  # fmt: skip
    assert r.status_code == 500 and "Nothing was saved" in r.text and "Quentin" not in r.text
    check_headers(r)
    logged = "\n".join(rec.getMessage() + str(rec.exc_info or "") for rec in caplog.records)
    assert "internal error" in logged and "RuntimeError" in logged
    assert "Quentin" not in logged and "Agent-Probe-500" not in logged and "boom" not in logged
    assert rows(settings)["intel_reports"] == 0
