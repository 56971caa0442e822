"""Hotlists: vehicles of interest, each with a reason, a source and an expiry, or not at all.

An entry is stored as the plate's pseudonym (to match reads) and its sealed plate (to show it to an allowed
role), never in clear. An entry is ended, not edited or deleted, until retention purges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select

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


def add_many(db: Database, key: PlateKey, rows: list[dict[str, str]], *, label: str, actor: str,
             now: datetime | None = None) -> list[Entry]:  # fmt: skip
    """Add entries from rows with plate, reason, source and expires (ISO date or time, UTC unless it says):
    all of them, or, at the first row without a reason, source or valid expiry, none (that row named)."""
    from safestreets.errors import InputError

    now = now or datetime.now(UTC)
    checked = []
    for i, r in enumerate(rows, start=1):
        try:
            text = (r.get("expires") or "").strip()
            try:
                expires = datetime.fromisoformat(text) if text else None
            except ValueError:
                raise ParameterError("expires: not a date (YYYY-MM-DD) or time") from None
            if expires is not None and len(text) <= 10:  # a day: until its end
                expires = expires.replace(hour=23, minute=59, second=59)
            expires = _utc(expires) if expires else None
            plate = check(r.get("plate") or "", r.get("reason"), r.get("source"), expires, now)
        except ParameterError as exc:
            raise InputError(label, str(exc), row=i, column=_field_of(str(exc))) from None
        checked.append((plate, r["reason"].strip(), r["source"].strip(), expires))
    with db.session() as s:
        made = [HotlistEntry(vehicle=key.vehicle(p), sealed=key.seal(p), reason=reason, source=src, expires_at=exp,
                             added_by=actor, added_at=now) for p, reason, src, exp in checked]  # fmt: skip
        s.add_all(made)
        s.flush()
        audit_in(s, actor=actor, action="change", target="anpr.hotlist.import",
                 params={"file": label, "entries": [e.id for e in made]})  # fmt: skip
        return [_entry(e) for e in made]


def _field_of(message: str) -> str:
    for field, words in (("plate", "plate:"), ("reason", "a reason"), ("source", "a source")):
        if words in message:
            return field
    return "expires"


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


def current_for(db: Database, vehicles: list[str], at: datetime, chunk: int = 5000) -> dict[str, list[int]]:
    """The entries current at ``at`` for these vehicles, by vehicle. A hotlist smaller than the batch is read
    whole; a larger one (a national list against a small batch) only for the batch's vehicles, on the index."""
    current = (HotlistEntry.added_at <= at, HotlistEntry.expires_at > at,
               or_(HotlistEntry.removed_at.is_(None), HotlistEntry.removed_at > at))  # fmt: skip
    found: dict[str, list[int]] = {}
    wanted = set(vehicles)
    with db.session() as s:
        n = s.execute(select(func.count()).select_from(HotlistEntry).where(*current)).scalar_one()
        if n <= len(vehicles):
            queries = [select(HotlistEntry.vehicle, HotlistEntry.id).where(*current)]
        else:
            queries = [select(HotlistEntry.vehicle, HotlistEntry.id).where(
                HotlistEntry.vehicle.in_(vehicles[i : i + chunk]), *current) for i in range(0, len(vehicles), chunk)]  # fmt: skip
        for q in queries:
            for vehicle, entry in s.execute(q).all():
                if vehicle in wanted:
                    found.setdefault(vehicle, []).append(entry)
    return found


def sealed_of(db: Database, entry_id: int) -> tuple[Entry, bytes]:
    with db.session() as s:
        e = s.get(HotlistEntry, entry_id)
        if e is None:
            raise NotFoundError(f"no hotlist entry {entry_id}")
        return _entry(e), bytes(e.sealed)
