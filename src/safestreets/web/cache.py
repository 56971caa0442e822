"""Answers computed from a store snapshot, kept while that snapshot is the newest.

A snapshot never changes (:mod:`safestreets.store.reader`), so an answer computed from one (a map layer's
GeoJSON, the overview) stays right until the store changes and a new snapshot is taken. Each is kept
once, gzip-compressed, keyed by the snapshot's identity, the endpoint, its validated parameters and the
asker's role (an answer made for one role is never served to another), and served:

- with an ``ETag``; a client that sends it back in ``If-None-Match`` gets ``304 Not Modified`` and no
  body (the browser's copy is still right);
- gzip-encoded to clients that accept it (every browser), decompressed for the others;
- with ``Cache-Control: private, no-cache``: a browser may keep the answer but must ask again each time
  (so a new snapshot shows at once), and no shared cache may keep it. These are aggregate map layers and
  the overview, never records about a person; everything else the dashboard answers stays ``no-store``.

The two workers share answers through files under the workspace's ``tmp/answers/<snapshot>/`` (written
to a temporary name and renamed, so a reader sees a whole file or none), so each answer is computed once
per snapshot, not once per worker: a lock file beside each answer says which worker is computing it.
Within a worker, answers are computed one at a time; a request whose answer is being computed (here or
by the other worker), or under load waits its turn, gets the previous snapshot's answer if there is
one (for the moment it takes, as the store reader serves the previous snapshot while a new one is
copied), else waits for it. The audit trail is written per request by the routes, cache or not.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import shutil
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from safestreets.api import Workspace

ANSWERS = "answers"
#: Revalidate every time: the browser keeps the body, the server says whether it is still right.
CACHE_CONTROL = "private, no-cache"
#: Folders of answers from older snapshots are removed once they have not been written for this long
#: (a worker still on the older snapshot for a moment keeps its files meanwhile).
STALE_SECONDS = 60.0
#: More requests in progress than this in a worker is load (a browser asks for at most six things at once
#: from one server: one analyst is never load).
BUSY = 6
_HEADER = struct.Struct(">I")
_MISSING = object()


@dataclass(frozen=True)
class Answer:
    """One computed answer: its gzip-compressed body, its ETag and media type, and ``meta``, what the
    audit entry records about it (feature counts, the run or plan it resolved to)."""

    body: bytes
    etag: str
    media_type: str
    meta: dict[str, Any]

    def to_file(self) -> bytes:
        head = json.dumps({"etag": self.etag, "media_type": self.media_type, "meta": self.meta}).encode()
        return _HEADER.pack(len(head)) + head + self.body

    @classmethod
    def from_file(cls, blob: bytes) -> Answer:
        (n,) = _HEADER.unpack_from(blob)
        head = json.loads(blob[_HEADER.size : _HEADER.size + n])
        return cls(blob[_HEADER.size + n :], head["etag"], head["media_type"], head["meta"])

    @classmethod
    def make(cls, raw: bytes, media_type: str, meta: dict[str, Any]) -> Answer:
        etag = 'W/"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        return cls(gzip.compress(raw, compresslevel=6, mtime=0), etag, media_type, meta)


def dumps(data: Any) -> bytes:
    """JSON as FastAPI's JSONResponse writes it (compact, UTF-8, no NaN)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _try_flock(file: Any) -> bool:
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class InFlight:
    """ASGI middleware counting this worker's HTTP requests in progress: the answer cache's measure of
    load. Counted on the event loop only, read from any thread."""

    def __init__(self, app: Any, counter: list[int]) -> None:
        self.app, self.counter = app, counter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter[0] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter[0] -= 1


class Codec:
    """How a kept value is written to the shared files and read back (answers: :class:`Answer`'s own)."""

    def __init__(self, dump: Callable[[Any], bytes], load: Callable[[bytes], Any]) -> None:
        self.dump, self.load = dump, load


ANSWER_CODEC = Codec(lambda a: a.to_file(), Answer.from_file)


class AnswerCache:
    """The answers of one workspace, in memory (the newest ``size``) and in ``tmp/answers``.

    A worker computes one answer at a time, and one worker computes each (the others read its file).
    ``busy`` says whether the worker is under load (see :class:`InFlight`): then a request whose answer
    would wait its turn gets the snapshot before's answer meanwhile. Computing the answers for a new
    snapshot all at once, each in its own thread and in both workers, held the interpreter's lock away
    from the event loop, and every request waited: a p99 of half a second at 50 clients each time an
    ingest ended. Without load a request waits its turn and gets the new answer, so one analyst looking
    after an ingest sees the new data at once.
    """

    def __init__(self, workspace: Path, size: int = 64, busy: Callable[[], bool] | None = None) -> None:
        self.folder = workspace / "tmp" / ANSWERS
        self.size = size
        self._busy = busy or (lambda: False)
        self._memory: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._values: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[tuple[str, ...], threading.Lock] = {}
        self._slot = threading.Lock()  # the one computation under way while busy
        self._snapshot: str | None = None
        self._previous: str | None = None  # the snapshot before, whose answers are kept aside
        self._older: list[str] = []  # snapshots this worker has moved on from, newest last
        self._stale: dict[str, Any] = {}  # the previous snapshot's answers, by key
        self._stale_values: dict[str, Any] = {}

    @staticmethod
    def key(endpoint: str, params: dict[str, Any], role: str) -> str:
        text = json.dumps([endpoint, sorted(params.items()), role], default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def answer(
        self, snapshot: str, key: str, make: Callable[[], tuple[bytes, str, dict[str, Any]]]
    ) -> Answer:
        """The answer for ``key`` on ``snapshot``: from memory, else from the shared files, else made
        (``make`` returns the raw body, its media type and the audit meta) and kept in both."""

        def build() -> Answer:
            raw, media_type, meta = make()
            return Answer.make(raw, media_type, meta)

        return self._get("answer", snapshot, key, build, ANSWER_CODEC)  # type: ignore[no-any-return]

    def value(self, snapshot: str, key: str, make: Callable[[], Any], codec: Codec | None = None) -> Any:
        """A computed object for pages rendered per request: kept in this process's memory and, given a
        ``codec``, shared with the other workers through the files like an answer."""
        return self._get("value", snapshot, key, make, codec)

    def _get(self, kind: str, snapshot: str, key: str, make: Callable[[], Any], codec: Codec | None) -> Any:
        full = (snapshot, key)
        self._seen(snapshot)
        with self._lock:
            # Taken after _seen, which replaces the answers kept aside when the snapshot moves on.
            store, stale_store = (self._memory, self._stale) if kind == "answer" else (self._values, self._stale_values)
            if full in store:
                store.move_to_end(full)
                return store[full]
            before = snapshot in (self._snapshot, self._previous)
            stale = stale_store.get(key, _MISSING) if before else _MISSING
        if stale is not _MISSING and snapshot != self._snapshot:
            return stale  # a request still reading the snapshot before: that snapshot's own answer
        maker = self._maker((kind, *full))
        if not maker.acquire(blocking=False):
            # Another request is computing it: answer as the snapshot before did meanwhile, if it did
            # (as the reader does while a new snapshot is taken), rather than queue behind it.
            if stale is not _MISSING:
                return stale
            maker.acquire()
        try:
            with self._lock:
                made = store.get(full, _MISSING)
            if made is _MISSING and codec is not None:
                made = self._read(kind, full, codec)
            if made is _MISSING:
                made, fresh = self._compute(kind, full, make, codec, stale)
                if not fresh:
                    return made
            with self._lock:
                store[full] = made
                while len(store) > self.size:
                    store.popitem(last=False)
        finally:
            maker.release()
            self._made((kind, *full))
        return made

    def _compute(self, kind: str, full: tuple[str, str], make: Callable[[], Any], codec: Codec | None,
                 stale: Any) -> tuple[Any, bool]:  # fmt: skip
        """Compute a missing answer, once for all the workers: (the answer, True), or (the stale answer,
        False) when another worker, or under load another request here, is computing meanwhile."""
        lock = self._file_lock(kind, full) if codec is not None else None
        try:
            if lock is not None:
                if not _try_flock(lock):  # another worker is making it
                    if stale is not _MISSING:
                        return stale, False
                    fcntl.flock(lock, fcntl.LOCK_EX)  # wait for it, then read what it wrote
                made = self._read(kind, full, codec)  # type: ignore[arg-type]
                if made is not _MISSING:
                    return made, True
            # One computation at a time: under load, whoever would wait for it takes the answer before.
            if not self._slot.acquire(blocking=stale is _MISSING or not self._busy()):
                return stale, False
            try:
                made = make()
            finally:
                self._slot.release()
            if codec is not None:
                self._write(kind, full, codec.dump(made))
            return made, True
        finally:
            if lock is not None:
                lock.close()  # lets the lock go

    # --- memory -----------------------------------------------------------------------------------

    def _maker(self, full: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._making.setdefault(full, threading.Lock())

    def _made(self, full: tuple[str, ...]) -> None:
        # Whoever still waits on the lock finds the answer kept; a later request needs no lock.
        with self._lock:
            self._making.pop(full, None)

    def _seen(self, snapshot: str) -> None:
        """A newer snapshot: forget what older ones answered, here and (once stale) on disk, keeping the
        previous snapshot's answers aside to answer with while the new ones are computed. A request
        still reading an older snapshot (the reader hands it out while a new one is being taken) changes
        nothing: a worker's snapshots only move forward."""
        if snapshot == self._snapshot:
            return
        with self._lock:
            if snapshot == self._snapshot or snapshot in self._older:
                return
            previous = self._snapshot
            if previous is not None:
                self._older = [*self._older[-15:], previous]
            self._snapshot, self._previous = snapshot, previous
            self._stale = {f[1]: a for f, a in self._memory.items() if f[0] == previous}
            self._stale_values = {f[1]: v for f, v in self._values.items() if f[0] == previous}
            for store in (self._memory, self._values):
                for full in [f for f in store if f[0] != snapshot]:
                    del store[full]
        self._prune(snapshot)

    # --- files shared by the workers ----------------------------------------------------------------

    def _path(self, kind: str, full: tuple[str, str]) -> Path:
        snapshot, key = full
        return self.folder / snapshot.removesuffix(".duckdb") / f"{key}.{kind}"

    def _read(self, kind: str, full: tuple[str, str], codec: Codec) -> Any:
        try:
            return codec.load(self._path(kind, full).read_bytes())
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            struct.error,
        ):  # missing, or not ours: make it again
            return _MISSING

    def _write(self, kind: str, full: tuple[str, str], blob: bytes) -> None:
        path = self._path(kind, full)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            partial.write_bytes(blob)
            os.replace(partial, path)  # other workers see the whole file or none
        except OSError:
            pass  # sharing is an optimisation: the answer is still served from memory

    def _file_lock(self, kind: str, full: tuple[str, str]) -> Any:
        """An open lock file for computing this answer (None if it cannot be made: then compute)."""
        path = self._path(kind, full)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return open(path.with_name(f"{path.name}.lock"), "a")
        except OSError:
            return None

    def _prune(self, snapshot: str) -> None:
        current = snapshot.removesuffix(".duckdb")
        try:
            folders = [p for p in self.folder.iterdir() if p.is_dir() and p.name != current]
        except OSError:
            return
        now = time.time()
        for old in folders:
            try:
                if now - old.stat().st_mtime > STALE_SECONDS:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass


def respond(request: Request, answer: Answer, *, download: str | None = None) -> Response:
    """The answer as an HTTP response: 304 when the client's copy is current, gzip when accepted.
    ``download``: a file name to save it as (then ``no-store``: an export is not kept by the browser)."""
    headers = {"ETag": answer.etag, "Vary": "Accept-Encoding, Cookie"}
    if download is not None:
        headers["Cache-Control"] = "no-store"
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    else:
        headers["Cache-Control"] = CACHE_CONTROL
        sent = request.headers.get("if-none-match", "")
        if sent and (sent.strip() == "*" or answer.etag in (t.strip() for t in sent.split(","))):
            return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(answer.body, media_type=answer.media_type, headers=headers)
    return Response(gzip.decompress(answer.body), media_type=answer.media_type, headers=headers)


def of(request: Request) -> AnswerCache:
    return request.app.state.answers  # type: ignore[no-any-return]


def cached(
    request: Request,
    ws: Workspace,
    endpoint: str,
    params: dict[str, Any],
    role: str,
    make: Callable[[], tuple[bytes, str, dict[str, Any]]],
) -> Answer:
    """The answer to ``endpoint`` with ``params`` for ``role`` on the request's snapshot."""
    if ws.snapshot_id is None:  # not a snapshot: nothing to key on, so nothing is kept
        return Answer.make(*make())
    return of(request).answer(ws.snapshot_id, AnswerCache.key(endpoint, params, role), make)


def value(
    request: Request, ws: Workspace, endpoint: str, make: Callable[[], Any], codec: Codec | None = None
) -> Any:
    """A computed object (not role-dependent) kept per snapshot in this worker's memory, and shared with
    the other workers through files if it has a ``codec``."""
    if ws.snapshot_id is None:
        return make()
    return of(request).value(ws.snapshot_id, endpoint, make, codec)
