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
    assert answers.answer("store-1.duckdb", key, _maker(calls, "never")) == old  # kept aside, not recomputed
    release.set()
    computing.join(60)
    new = got[0]
    assert new != old and json.loads(gzip.decompress(new.body)) == {"new": True}
    assert answers.answer("store-2.duckdb", key, _maker(calls, "never")) == new
    assert calls == ["old"]


# --- a new snapshot under load: computed once, one at a time ----------------------------------------------


def _slow(started: object, release: object, text: str):  # type: ignore[no-untyped-def]
    def make() -> tuple[bytes, str, dict[str, object]]:
        started.set()  # type: ignore[attr-defined]
        assert release.wait(60)  # type: ignore[attr-defined]
        return json.dumps({"text": text}).encode(), "application/json", {"count": 1}

    return make


def _text(answer: cache.Answer) -> str:
    return str(json.loads(gzip.decompress(answer.body))["text"])


def test_while_another_worker_computes_an_answer_this_one_answers_as_before(tmp_path: Path) -> None:
    import threading

    first, second, calls = cache.AnswerCache(tmp_path), cache.AnswerCache(tmp_path), []  # type: ignore[var-annotated]
    key = cache.AnswerCache.key("/api/layers/x", {}, "viewer")
    old = first.answer("store-1.duckdb", key, _maker(calls, "old"))
    assert second.answer("store-1.duckdb", key, _maker(calls, "never")) == old  # read from the file
    started, release, got = threading.Event(), threading.Event(), []
    computing = threading.Thread(
        target=lambda: got.append(first.answer("store-2.duckdb", key, _slow(started, release, "new")))
    )
    computing.start()
    assert started.wait(60)
    # The other worker does not compute it too: it answers as the snapshot before did meanwhile.
    assert second.answer("store-2.duckdb", key, _maker(calls, "twice")) == old
    release.set()
    computing.join(60)
    assert _text(got[0]) == "new"
    assert second.answer("store-2.duckdb", key, _maker(calls, "twice")) == got[0]  # then reads the new one
    assert calls == ["old"]


def test_with_no_answer_before_a_worker_waits_for_the_other_to_finish(tmp_path: Path) -> None:
    import threading

    first, second, calls = cache.AnswerCache(tmp_path), cache.AnswerCache(tmp_path), []  # type: ignore[var-annotated]
    key = cache.AnswerCache.key("/api/layers/x", {}, "viewer")
    started, release, got = threading.Event(), threading.Event(), []
    computing = threading.Thread(
        target=lambda: got.append(first.answer("store-1.duckdb", key, _slow(started, release, "only")))
    )
    computing.start()
    assert started.wait(60)
    waiting = threading.Thread(target=lambda: got.append(second.answer("store-1.duckdb", key, _maker(calls, "x"))))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()  # nothing to answer with: it waits rather than computing it a second time
    release.set()
    computing.join(60)
    waiting.join(60)
    assert [_text(a) for a in got] == ["only", "only"] and calls == []


@pytest.mark.parametrize("busy", [True, False])
def test_answers_for_a_new_snapshot_are_computed_one_at_a_time(tmp_path: Path, busy: bool) -> None:
    """Under load another request gets the answer before rather than computing beside the first; without
    load it waits its turn and gets the new answer (one analyst sees the new data at once)."""
    import threading

    answers, calls = cache.AnswerCache(tmp_path, busy=lambda: busy), []  # type: ignore[var-annotated]
    one, two = (cache.AnswerCache.key(f"/api/layers/{k}", {}, "viewer") for k in ("one", "two"))
    answers.answer("store-1.duckdb", one, _maker(calls, "one before"))
    two_before = answers.answer("store-1.duckdb", two, _maker(calls, "two before"))
    started, release, got = threading.Event(), threading.Event(), {}
    computing = threading.Thread(
        target=lambda: got.update(one=answers.answer("store-2.duckdb", one, _slow(started, release, "one new")))
    )
    computing.start()
    assert started.wait(60)
    other = threading.Thread(
        target=lambda: got.update(two=answers.answer("store-2.duckdb", two, _maker(calls, "two new")))
    )
    other.start()
    other.join(0.3)
    if busy:
        assert not other.is_alive() and got["two"] == two_before and calls[-1] == "two before"
    else:
        assert other.is_alive()  # waiting for the one computation under way to finish
    release.set()
    computing.join(60)
    other.join(60)
    assert _text(got["one"]) == "one new"
    if not busy:
        assert _text(got["two"]) == "two new"
    assert _text(answers.answer("store-2.duckdb", two, _maker(calls, "two new"))) == "two new"


def test_a_request_still_on_the_snapshot_before_computes_nothing(tmp_path: Path) -> None:
    answers, calls = cache.AnswerCache(tmp_path), []  # type: ignore[var-annotated]
    figures = cache.Codec(lambda v: json.dumps(v).encode(), json.loads)
    assert answers.value("store-1.duckdb", "overview", lambda: calls.append("old") or {"v": 1}, figures) == {"v": 1}
    assert answers.value("store-2.duckdb", "overview", lambda: calls.append("new") or {"v": 2}, figures) == {"v": 2}
    # The reader handed this request the snapshot before (a new one was being taken): its own figures.
    assert answers.value("store-1.duckdb", "overview", lambda: calls.append("again") or {"v": 3}) == {"v": 1}
    assert calls == ["old", "new"]


def test_the_overview_figures_are_computed_by_one_worker(
    web_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safestreets.web.routes import overview

    ws = tmp_path / "ws"
    shutil.copytree(web_ws, ws, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    first = create_app(settings_for(ws))
    account, _ = accounts.add_user(first.state.db, "figures-viewer", "viewer", actor="test")
    page = sign_in(first, account).client.get("/")
    assert page.status_code == 200 and "<svg" in page.text

    def never(ws: object) -> object:
        raise AssertionError("the second worker computed the overview again")

    monkeypatch.setattr(overview, "_overview", never)
    second = create_app(settings_for(ws))  # another worker: its own memory, the same files
    again = sign_in(second, account).client.get("/")
    assert again.status_code == 200
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert svg in again.text  # the sparklines came through the file as markup, not escaped text


def test_requests_in_progress_are_counted() -> None:
    import asyncio

    counter, seen = [0], []

    async def inner(scope: object, receive: object, send: object) -> None:
        seen.append(counter[0])

    counted = cache.InFlight(inner, counter)
    asyncio.run(counted({"type": "http"}, None, None))
    asyncio.run(counted({"type": "lifespan"}, None, None))
    assert seen == [1, 0] and counter == [0]


def test_a_write_ahead_log_gone_between_two_looks_is_no_error(
    web_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer removes the store's .wal as it checkpoints; every request stats both files, so one may
    find the log there and gone a moment later. That is a store without a log, not a missing store."""
    from safestreets.config import resolve_workspace
    from safestreets.store import reader

    ws = tmp_path / "ws"
    shutil.copytree(web_ws, ws, ignore=shutil.ignore_patterns("tmp", "*.sqlite*"))
    paths = resolve_workspace(ws)
    wal = paths.db_path.with_name(paths.db_path.name + ".wal")
    wal.write_bytes(b"")
    stamp = reader._stamp

    def vanishing(path: Path) -> str:
        if path == wal:
            wal.unlink()
        return stamp(path)

    monkeypatch.setattr(reader, "_stamp", vanishing)
    assert reader._store_stamp(paths) == stamp(paths.db_path)
    paths.db_path.unlink()
    with pytest.raises(reader.WorkspaceError, match="no store at"):
        reader._store_stamp(paths)
