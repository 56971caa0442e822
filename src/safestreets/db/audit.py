"""The audit trail: every view of data, export and change, append-only and tamper-evident.

Each entry's ``hash`` is the SHA-256 of the entry before's hash and the entry's own canonical fields, so
editing or deleting any entry breaks the chain from there on; the head row (last id and hash) catches the
deletion of the newest entries. Appends never fork the chain: on PostgreSQL each locks the head row
(``SELECT ... FOR UPDATE``) in its transaction; on SQLite writers queue on a lock per process and a lock
file beside the database (:class:`safestreets.db.Writers`) and then take SQLite's write lock as their
transaction begins, so the head read is the head written over. Reading (verify, listing) takes no lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from safestreets.db import Database
from safestreets.db.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def entry_hash(prev_hash: str, entry_id: int, at: datetime, actor: str, action: str, target: str, params: str,
               outcome: str) -> str:  # fmt: skip
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps([entry_id, stamp, actor, action, target, params, outcome], separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def record(
    db: Database,
    *,
    actor: str,
    action: str,
    target: str,
    params: Mapping[str, Any] | None = None,
    outcome: str = "ok",
) -> int:
    """Append one entry (committed when this returns); returns its id."""
    pending = _Pending(actor, action, target, canonical(params or {}), outcome)
    if db.writers.owned():  # inside a transaction of our own: a queued write would wait for it forever
        _write(db, [pending])
        return pending.result()
    return _appender(db).append(pending)


@dataclass
class _Pending:
    actor: str
    action: str
    target: str
    params: str
    outcome: str
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # set when this request is handed the writing of the queue
    entry_id: int = 0
    error: BaseException | None = None

    def result(self) -> int:
        if self.error is not None:
            raise self.error
        return self.entry_id


class _Appender:
    """Group commit: requests that append at the same time are written in one transaction. The first
    to arrive writes everything queued by then, then hands the next batch to the oldest request still
    waiting; the others wait for their entry to be committed. Under load a worker so takes the
    writers' lock once per batch rather than once per request (the lock, queued for by every request,
    was what a busy dashboard spent its time on)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._writing = False

    def append(self, pending: _Pending) -> int:
        with self._lock:
            self._queue.append(pending)
            lead = not self._writing
            self._writing = True
        if not lead:
            pending.done.wait()
            if not pending.lead:
                return pending.result()
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            _write(self.db, batch)
        except BaseException as exc:  # every request of the batch fails as a lone write would
            for p in batch:
                p.error = exc
        for p in batch:
            p.done.set()
        with self._lock:
            if self._queue:
                following = self._queue[0]
                following.lead = True
                following.done.set()
            else:
                self._writing = False
        return pending.result()


_APPENDERS_LOCK = threading.Lock()


def _appender(db: Database) -> _Appender:
    with _APPENDERS_LOCK:
        found: _Appender | None = getattr(db, "_audit_appender", None)
        if found is None:
            found = _Appender(db)
            db._audit_appender = found  # type: ignore[attr-defined]
        return found


def _write(db: Database, batch: list[_Pending]) -> None:
    """Chain ``batch`` after the head, in one transaction."""
    with db.session() as s:
        head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
        at = datetime.now(UTC)
        last_id, last_hash = head.last_id, head.last_hash
        ids = []
        for p in batch:
            entry_id = last_id + 1
            digest = entry_hash(last_hash, entry_id, at, p.actor, p.action, p.target, p.params, p.outcome)
            s.add(AuditEntry(id=entry_id, at=at, actor=p.actor, action=p.action, target=p.target,
                             params=p.params, outcome=p.outcome, prev_hash=last_hash, hash=digest))  # fmt: skip
            ids.append(entry_id)
            last_id, last_hash = entry_id, digest
        head.last_id, head.last_hash = last_id, last_hash
    for p, entry_id in zip(batch, ids, strict=True):
        p.entry_id = entry_id


@dataclass
class Verdict:
    ok: bool
    entries: int
    problem: str | None = None
    at_id: int | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries:,} entries"
        return f"audit chain broken at entry {self.at_id}: {self.problem}"


def verify(db: Database) -> Verdict:
    """Walk the chain from the first entry: every id in order, every hash recomputed, the head matching."""
    prev, expected, n = GENESIS, 1, 0
    with db.reading() as s:
        head = s.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
        for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
            if e.id != expected:
                return Verdict(False, n, f"entry {expected} is missing (next is {e.id})", expected)
            if e.prev_hash != prev:
                return Verdict(False, n, "it does not follow the entry before (deleted or replaced)", e.id)
            at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)
            if entry_hash(prev, e.id, at, e.actor, e.action, e.target, e.params, e.outcome) != e.hash:
                return Verdict(False, n, "its contents were changed after it was written", e.id)
            prev, expected, n = e.hash, expected + 1, n + 1
        if head.last_id != n or head.last_hash != prev:
            return Verdict(False, n, f"the newest entries were removed (the head says {head.last_id})", n + 1)
    return Verdict(True, n)


def entries(
    db: Database, *, limit: int | None = None, offset: int = 0, before: int | None = None
) -> Iterator[dict[str, Any]]:
    """Entries newest first, as plain dicts (for the admin page and export); ``before``: only entries with
    a smaller id (a page that stays put while the trail grows)."""
    with db.reading() as s:
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).offset(offset)
        if before is not None:
            q = q.where(AuditEntry.id < before)
        if limit is not None:
            q = q.limit(limit)
        rows = [
            {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
             "params": e.params, "outcome": e.outcome, "hash": e.hash}
            for e in s.execute(q).scalars()
        ]  # fmt: skip
    yield from rows
