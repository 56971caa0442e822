"""Answers kept per store snapshot (web.cache): ETag and 304, gzip, a new answer once an ingest changes the
store, one answer per role, shared between workers through files; every answer still audited."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safestreets.api import Workspace, accounts
from safestreets.db import Database, audit
from safestreets.web import cache, create_app, settings_for
from web.test_web_access import check_headers
from web.web_support import Signed, sign_in

LAYER = "/api/layers/hubs"


def _last(db: Database, n: int = 1) -> list[dict[str, object]]:
    return list(audit.entries(db, limit=n))


def test_an_answer_is_revalidated_by_etag_and_still_audited(as_role: dict[str, Signed]) -> None:
    viewer = as_role["viewer"]
    first = viewer.get(LAYER)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"
    assert "Accept-Encoding" in first.headers["vary"]
    db = viewer.client.app.state.db  # type: ignore[attr-defined]
    before = _last(db)[0]["id"]
    again = viewer.get(LAYER, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    check_headers(again)
    entry = _last(db)[0]
    assert entry["id"] == int(before) + 1  # type: ignore[call-overload]
    assert entry["action"] == "view" and entry["target"] == LAYER and entry["actor"] == viewer.account.username
    assert viewer.get(LAYER, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_gzip_when_accepted_and_plain_otherwise(as_role: dict[str, Signed]) -> None:
    viewer = as_role["viewer"]
    zipped = viewer.get(LAYER, headers={"Accept-Encoding": "gzip"})
    plain = viewer.get(LAYER, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()  # the client decompressed the first
    assert plain.json()["type"] == "FeatureCollection"
    assert plain.headers["content-type"].startswith("application/geo+json")
    assert zipped.headers["etag"] == plain.headers["etag"]


def test_a_download_is_not_kept_and_needs_the_analyst_role(as_role: dict[str, Signed]) -> None:
    etag = as_role["analyst"].get(LAYER).headers["etag"]
    r = as_role["analyst"].get(f"{LAYER}?download=true", headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.headers["content-disposition"] == 'attachment; filename="hubs-station.geojson"'
    assert r.json()["type"] == "FeatureCollection"
    assert as_role["viewer"].get(f"{LAYER}?download=true").status_code == 403


def test_the_favicon_is_served_with_the_security_headers(anonymous: TestClient) -> None:
    r = anonymous.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.content.lstrip().startswith(b"<svg")
    check_headers(r)
    assert anonymous.get("/static/app/favicon.svg").status_code == 200


# --- the cache itself ---------------------------------------------------------------------------------


def _maker(calls: list[str], text: str):  # type: ignore[no-untyped-def]
    def make() -> tuple[bytes, str, dict[str, object]]:
        calls.append(text)
        return json.dumps({"meta": {"count": 1}, "text": text}).encode(), "application/json", {"count": 1}

    return make


def test_one_answer_per_role_and_snapshot(tmp_path: Path) -> None:
    answers, calls = cache.AnswerCache(tmp_path), []  # type: ignore[var-annotated]
    viewer = cache.AnswerCache.key("/api/layers/x", {"a": 1}, "viewer")
    analyst = cache.AnswerCache.key("/api/layers/x", {"a": 1}, "analyst")
    assert viewer != analyst
    a = answers.answer("store-1.duckdb", viewer, _maker(calls, "for viewers"))
    b = answers.answer("store-1.duckdb", analyst, _maker(calls, "for analysts"))
    assert json.loads(gzip.decompress(a.body))["text"] == "for viewers"
    assert json.loads(gzip.decompress(b.body))["text"] == "for analysts"  # never the viewers' answer
    assert answers.answer("store-1.duckdb", viewer, _maker(calls, "again")) == a
    assert calls == ["for viewers", "for analysts"]
    c = answers.answer("store-2.duckdb", viewer, _maker(calls, "new data"))  # the store changed
    assert calls[-1] == "new data" and c.etag != a.etag


def test_workers_share_answers_through_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, calls = cache.AnswerCache(tmp_path), cache.AnswerCache(tmp_path), []  # type: ignore[var-annotated]
    key = cache.AnswerCache.key("/api/layers/x", {}, "viewer")
    made = first.answer("store-1.duckdb", key, _maker(calls, "once"))
    assert second.answer("store-1.duckdb", key, _maker(calls, "twice")) == made
    assert calls == ["once"]
    assert not [p for p in (tmp_path / "tmp" / "answers").rglob(".*")]  # no partial file left behind
    monkeypatch.setattr(cache, "STALE_SECONDS", -1.0)
    second.answer("store-2.duckdb", key, _maker(calls, "new"))
    assert [p.name for p in (tmp_path / "tmp" / "answers").iterdir()] == ["store-2"]  # the old ones go


# --- an ingest changes the store -----------------------------------------------------------------------

STREET_FILE = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
    "Last outcome category,Context\n"
    "n1,2019-02,City of London Police,City of London Police,-0.091,51.515,On or near Cheapside,E01032739,"
    "City of London 001F,Burglary,,\n"
    "n2,2019-02,City of London Police,City of London Police,-0.092,51.514,On or near Cheapside,E01032739,"
    "City of London 001F,Robbery,,\n"
)


def test_an_ingest_brings_a_new_answer(web_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(web_ws, ws, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    app = create_app(settings_for(ws))
    account, _ = accounts.add_user(app.state.db, "cache-viewer", "viewer", actor="test")
    viewer = sign_in(app, account).client
    first = viewer.get("/api/overview")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert viewer.get("/api/overview", headers={"If-None-Match": etag}).status_code == 304
    events = first.json()["status"]
    new = tmp_path / "2019-02-city-of-london-street.csv"
    new.write_text(STREET_FILE, "utf-8")
    with Workspace(ws) as writer:  # what 'safestreets ingest' does, while the app keeps its reader open
        writer.ingest(new)
    after = viewer.get("/api/overview", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.json()["status"] != events
    assert (ws / "tmp" / "answers").is_dir()


def test_one_snapshot_connection_per_process_reopened_when_the_store_changes(web_ws: Path, tmp_path: Path) -> None:
    import threading

    ws = tmp_path / "ws"
    shutil.copytree(web_ws, ws, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    first, second = Workspace.snapshot(ws), Workspace.snapshot(ws)
    assert first.snapshot_id == second.snapshot_id
    assert first._view.con is second._view.con  # one connection per process
    assert first.con is not second.con  # each view its own cursor on it
    seen: list[object] = []
    other = threading.Thread(target=lambda: seen.append(Workspace.snapshot(ws)._view.con))
    other.start()
    other.join()
    assert seen[0] is first._view.con
    (before,) = first.con.execute("SELECT count(*) FROM batches").fetchone()  # type: ignore[misc]
    new = tmp_path / "2019-02-city-of-london-street.csv"
    new.write_text(STREET_FILE, "utf-8")
    with Workspace(ws) as writer:  # the store can be written while readers hold the snapshot
        writer.ingest(new)
    assert Workspace.snapshot_ready(ws) is None  # the store changed: refreshing may copy, so not here
    third = Workspace.snapshot(ws)
    assert third.snapshot_id != first.snapshot_id
    assert third.con.execute("SELECT count(*) FROM batches").fetchone()[0] == before + 1  # type: ignore[index]
    assert first.con.execute("SELECT count(*) FROM batches").fetchone()[0] == before  # type: ignore[index]
    ready = Workspace.snapshot_ready(ws)
    assert ready is not None and ready.snapshot_id == third.snapshot_id
    for view in (first, second, third, ready):
        view.close()


def test_while_a_new_answer_is_computed_the_others_get_the_one_before(tmp_path: Path) -> None:
    import threading

    answers, calls = cache.AnswerCache(tmp_path), []  # type: ignore[var-annotated]
    key = cache.AnswerCache.key("/api/layers/x", {}, "viewer")
    old = answers.answer("store-1.duckdb", key, _maker(calls, "old"))
    started, release, got = threading.Event(), threading.Event(), []

    def slow() -> tuple[bytes, str, dict[str, object]]:
        started.set()
        assert release.wait(60)
        return b'{"new":true}', "application/json", {"count": 1}

    computing = threading.Thread(target=lambda: got.append(answers.answer("store-2.duckdb", key, slow)))
    computing.start()
    assert started.wait(60)
    assert answers.answer("store-2.duckdb", key, _maker(calls, "never")) == old  # not queued behind it
    # A request still reading the older snapshot does not turn the worker back to it.
    assert answers.answer("store-1.duckdb", key, _maker(calls, "never")) == old  # from the shared file
    release.set()
    computing.join(60)
    new = got[0]
    assert new != old and json.loads(gzip.decompress(new.body)) == {"new": True}
    assert answers.answer("store-2.duckdb", key, _maker(calls, "never")) == new
    assert calls == ["old"]
