"""Access to reads as the National ANPR Standards ask: a stated purpose for every query, the default reach
(90 days) and, further back, a recorded authorisation for the one account that asks.

Every query is written to the audit trail with its purpose, its window and the authorisation it relied on;
a refused one is written too, as denied. Authorisations are granted by an admin, for a reason, until an
expiry; they are never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from safestreets.db import Database, audit
from safestreets.db.accountability import audit_in
from safestreets.db.anpr import AccessAuthorisation
from safestreets.errors import AccessRefused, ParameterError

MIN_PURPOSE = 5


@dataclass(frozen=True)
class Authorisation:
    id: int
    username: str
    reason: str
    reach_from: datetime
    expires_at: datetime
    granted_by: str
    granted_at: datetime


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _auth(a: AccessAuthorisation) -> Authorisation:
    return Authorisation(a.id, a.username, a.reason, _utc(a.reach_from), _utc(a.expires_at), a.granted_by,
                         _utc(a.granted_at))  # fmt: skip


def authorise(db: Database, username: str, *, reason: str, reach_from: datetime, expires_at: datetime,
              actor: str, now: datetime | None = None) -> Authorisation:  # fmt: skip
    """Let ``username`` query reads back to ``reach_from`` until ``expires_at`` (audited)."""
    now = now or datetime.now(UTC)
    if not reason or len(reason.strip()) < 10:
        raise ParameterError("an authorisation needs a reason (at least 10 characters)")
    if _utc(expires_at) <= now:
        raise ParameterError("the authorisation's expiry has passed")
    if _utc(reach_from) >= now:
        raise ParameterError("reach_from must be in the past")
    with db.session() as s:
        a = AccessAuthorisation(username=username, reason=reason.strip(), reach_from=_utc(reach_from),
                                expires_at=_utc(expires_at), granted_by=actor, granted_at=now)  # fmt: skip
        s.add(a)
        s.flush()
        audit_in(s, actor=actor, action="change", target="anpr.access.authorise",
                 params={"authorisation": a.id, "username": username, "reach_from": a.reach_from.isoformat(),
                         "expires_at": a.expires_at.isoformat()})  # fmt: skip
        return _auth(a)


def authorisations(db: Database, username: str | None = None) -> list[Authorisation]:
    with db.session() as s:
        q = select(AccessAuthorisation).order_by(AccessAuthorisation.id.desc())
        if username is not None:
            q = q.where(AccessAuthorisation.username == username)
        return [_auth(a) for a in s.execute(q).scalars()]


def check_query(db: Database, *, actor: str, purpose: str | None, since: datetime, until: datetime | None = None,
                what: str, reach_days: float, now: datetime | None = None) -> Authorisation | None:  # fmt: skip
    """Allow (and log) a query of reads from ``since``, or refuse (and log) it.

    Within the default reach any purpose will do; further back, the actor needs an authorisation, current
    now, that reaches back to ``since``. Returns the authorisation relied on (None within the reach)."""
    now = now or datetime.now(UTC)
    since = _utc(since)
    params = {"purpose": (purpose or "").strip(), "since": since.isoformat(),
              "until": _utc(until).isoformat() if until else None}  # fmt: skip
    if len(params["purpose"] or "") < MIN_PURPOSE:
        audit.record(db, actor=actor, action="query", target=what, params=params, outcome="denied")
        raise AccessRefused("every ANPR query needs its purpose (at least 5 characters): --purpose '...'")
    reach = now - timedelta(days=reach_days)
    if since >= reach:
        audit.record(db, actor=actor, action="query", target=what, params=params)
        return None
    for a in authorisations(db, actor):
        if a.reach_from <= since and a.expires_at > now:
            audit.record(db, actor=actor, action="query", target=what, params={**params, "authorisation": a.id})
            return a
    audit.record(db, actor=actor, action="query", target=what, params=params, outcome="denied")
    raise AccessRefused(
        f"reads before {reach:%Y-%m-%d} are past the {reach_days:g}-day reach: an admin must record an "
        f"authorisation for {actor} first ('safestreets anpr authorise')"
    )
