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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
    """Append one entry; returns its id."""
    text = canonical(params or {})
    with db.session() as s:
        head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
        at = datetime.now(UTC)
        entry_id = head.last_id + 1
        digest = entry_hash(head.last_hash, entry_id, at, actor, action, target, text, outcome)
        s.add(AuditEntry(id=entry_id, at=at, actor=actor, action=action, target=target, params=text,
                         outcome=outcome, prev_hash=head.last_hash, hash=digest))  # fmt: skip
        head.last_id, head.last_hash = entry_id, digest
    return entry_id


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
