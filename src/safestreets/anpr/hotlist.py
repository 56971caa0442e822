"""Hotlists: vehicles of interest, each with a reason, a source and an expiry, or not at all.

An entry is stored as the plate's pseudonym (to match reads) and its sealed plate (to show it to an allowed
role), never in clear. An entry is ended, not edited or deleted, until retention purges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select

from safestreets.anpr.pseudonym import PlateKey
from safestreets.db import Database
from safestreets.db.accountability import audit_in
from safestreets.db.anpr import HotlistEntry
from safestreets.errors import NotFoundError, ParameterError
from safestreets.sources.anpr import normalise_plate, plate_problem

MIN_REASON = 10  # "intel" is not a reason a reviewer can weigh


@dataclass(frozen=True)
class Entry:
    id: int
    vehicle: str
    reason: str
    source: str
    expires_at: datetime
    added_by: str
    added_at: datetime
    removed_at: datetime | None

    def current(self, at: datetime) -> bool:
        return self.removed_at is None and self.added_at <= at < self.expires_at


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _entry(e: HotlistEntry) -> Entry:
    return Entry(e.id, e.vehicle, e.reason, e.source, _utc(e.expires_at), e.added_by, _utc(e.added_at),
                 _utc(e.removed_at) if e.removed_at else None)  # fmt: skip


def check(plate: str, reason: str | None, source: str | None, expires_at: datetime | None, now: datetime) -> str:
    """The normalised plate, if the entry may be added; else a ParameterError saying what is missing."""
    problem = plate_problem(plate)
    if problem:
        raise ParameterError(f"plate: {problem}")
    if not reason or len(reason.strip()) < MIN_REASON:
        raise ParameterError(f"a hotlist entry needs a reason (at least {MIN_REASON} characters)")
    if not source or not source.strip():
        raise ParameterError("a hotlist entry needs a source (PNC, a local intelligence reference, ...)")
    if expires_at is None:
        raise ParameterError("a hotlist entry needs an expiry")
    if _utc(expires_at) <= now:
        raise ParameterError(f"the expiry {expires_at:%Y-%m-%d %H:%M} has passed")
    plate_n = normalise_plate(plate)
    assert plate_n is not None
    return plate_n


def add(db: Database, key: PlateKey, plate: str, *, reason: str | None, source: str | None,
        expires_at: datetime | None, actor: str, now: datetime | None = None) -> Entry:  # fmt: skip
    """Add one entry (audited with its id and pseudonym, never the plate)."""
    now = now or datetime.now(UTC)
    plate_n = check(plate, reason, source, expires_at, now)
    assert reason and source and expires_at
    with db.session() as s:
        e = HotlistEntry(vehicle=key.vehicle(plate_n), sealed=key.seal(plate_n), reason=reason.strip(),
                         source=source.strip(), expires_at=_utc(expires_at), added_by=actor, added_at=now)  # fmt: skip
        s.add(e)
        s.flush()
        audit_in(s, actor=actor, action="change", target="anpr.hotlist.add",
                 params={"entry": e.id, "vehicle": e.vehicle, "source": e.source,
                         "expires_at": e.expires_at.isoformat()})  # fmt: skip
        return _entry(e)


def remove(db: Database, entry_id: int, *, actor: str, now: datetime | None = None) -> Entry:
    now = now or datetime.now(UTC)
    with db.session() as s:
        e = s.get(HotlistEntry, entry_id)
        if e is None:
            raise NotFoundError(f"no hotlist entry {entry_id}")
        if e.removed_at is None:
            e.removed_at, e.removed_by = now, actor
            audit_in(s, actor=actor, action="change", target="anpr.hotlist.remove", params={"entry": entry_id})
        return _entry(e)


def entries(db: Database, *, current_at: datetime | None = None) -> list[Entry]:
    """Every entry (newest first), or only those current at ``current_at``."""
    with db.session() as s:
        q = select(HotlistEntry).order_by(HotlistEntry.id.desc())
        if current_at is not None:
            q = q.where(HotlistEntry.added_at <= current_at, HotlistEntry.expires_at > current_at,
                        or_(HotlistEntry.removed_at.is_(None), HotlistEntry.removed_at > current_at))  # fmt: skip
        return [_entry(e) for e in s.execute(q).scalars()]


def sealed_of(db: Database, entry_id: int) -> tuple[Entry, bytes]:
    with db.session() as s:
        e = s.get(HotlistEntry, entry_id)
        if e is None:
            raise NotFoundError(f"no hotlist entry {entry_id}")
        return _entry(e), bytes(e.sealed)
