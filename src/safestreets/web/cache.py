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
per snapshot, not once per worker. Within a worker, one request computes a missing answer; the others
asking for it meanwhile get the previous snapshot's answer if there is one (for the moment it takes,
as the store reader serves the previous snapshot while a new one is copied), else wait for it. The audit
trail is written per request by the routes, cache or not.
"""

from __future__ import annotations

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


class AnswerCache:
    """The answers of one workspace, in memory (the newest ``size``) and in ``tmp/answers``."""

    def __init__(self, workspace: Path, size: int = 64) -> None:
        self.folder = workspace / "tmp" / ANSWERS
        self.size = size
        self._memory: OrderedDict[tuple[str, str], Answer] = OrderedDict()
        self._values: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[tuple[str, ...], threading.Lock] = {}
        self._snapshot: str | None = None
        self._older: list[str] = []  # snapshots this worker has moved on from, newest last
        self._stale: dict[str, Answer] = {}  # the previous snapshot's answers, by key
        self._stale_values: dict[str, Any] = {}

    @staticmethod
    def key(endpoint: str, params: dict[str, Any], role: str) -> str:
        text = json.dumps([endpoint, sorted(params.items()), role], default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def answer(self, snapshot: str, key: str, make: Callable[[], tuple[bytes, str, dict[str, Any]]]) -> Answer:
        """The answer for ``key`` on ``snapshot``: from memory, else from the shared files, else made
        (``make`` returns the raw body, its media type and the audit meta) and kept in both."""
        full = (snapshot, key)
        self._seen(snapshot)
        hit = self._remembered(full)
        if hit is not None:
            return hit
        maker = self._maker(full)
        if not maker.acquire(blocking=False):
            # Another request is computing it: answer as the snapshot before did meanwhile, if it did
            # (as the reader does while a new snapshot is taken), rather than queue behind it.
            stale = self._stale.get(key) if snapshot == self._snapshot else None
            if stale is not None:
                return stale
            maker.acquire()
        try:
            hit = self._remembered(full) or self._read(full)
            if hit is None:
                raw, media_type, meta = make()
                hit = Answer.make(raw, media_type, meta)
                self._write(full, hit)
            self._remember(full, hit)
        finally:
            maker.release()
        self._made(full)
        return hit

    def value(self, snapshot: str, key: str, make: Callable[[], Any]) -> Any:
        """A computed object kept in this process's memory only (for pages rendered per request)."""
        full = (snapshot, key)
        self._seen(snapshot)
        with self._lock:
            if full in self._values:
                self._values.move_to_end(full)
                return self._values[full]
        maker = self._maker(("value", *full))
        if not maker.acquire(blocking=False):
            stale = self._stale_values.get(key, _MISSING) if snapshot == self._snapshot else _MISSING
            if stale is not _MISSING:
                return stale
            maker.acquire()
        try:
            with self._lock:
                made = self._values.get(full, _MISSING)
            if made is _MISSING:
                made = make()
                with self._lock:
                    self._values[full] = made
                    while len(self._values) > self.size:
                        self._values.popitem(last=False)
        finally:
            maker.release()
        self._made(("value", *full))
        return made

    # --- memory -----------------------------------------------------------------------------------

    def _maker(self, full: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._making.setdefault(full, threading.Lock())

    def _made(self, full: tuple[str, ...]) -> None:
        # Whoever still waits on the lock finds the answer kept; a later request needs no lock.
        with self._lock:
            self._making.pop(full, None)

    def _remembered(self, full: tuple[str, str]) -> Answer | None:
        with self._lock:
            hit = self._memory.get(full)
            if hit is not None:
                self._memory.move_to_end(full)
            return hit

    def _remember(self, full: tuple[str, str], answer: Answer) -> None:
        with self._lock:
            self._memory[full] = answer
            while len(self._memory) > self.size:
                self._memory.popitem(last=False)

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
            self._snapshot = snapshot
            self._stale = {f[1]: a for f, a in self._memory.items() if f[0] == previous}
            self._stale_values = {f[1]: v for f, v in self._values.items() if f[0] == previous}
            for store in (self._memory, self._values):
                for full in [f for f in store if f[0] != snapshot]:
                    del store[full]
        self._prune(snapshot)

    # --- files shared by the workers ----------------------------------------------------------------

    def _path(self, full: tuple[str, str]) -> Path:
        snapshot, key = full
        return self.folder / snapshot.removesuffix(".duckdb") / f"{key}.answer"

    def _read(self, full: tuple[str, str]) -> Answer | None:
        try:
            return Answer.from_file(self._path(full).read_bytes())
        except (OSError, ValueError, KeyError, struct.error):  # missing, or not ours: make it again
            return None

    def _write(self, full: tuple[str, str], answer: Answer) -> None:
        path = self._path(full)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            partial.write_bytes(answer.to_file())
            os.replace(partial, path)  # other workers see the whole file or none
        except OSError:
            pass  # sharing is an optimisation: the answer is still served from memory

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


def value(request: Request, ws: Workspace, endpoint: str, make: Callable[[], Any]) -> Any:
    """A computed object (not role-dependent) kept per snapshot in this worker's memory."""
    if ws.snapshot_id is None:
        return make()
    return of(request).value(ws.snapshot_id, endpoint, make)
