"""Tables of the accountability registers: operations (versioned), their tallies, Section 60 authorisations.

Nothing here is ever overwritten. An edit to an operation is a new row in ``operation_versions`` (the
operation row only points at its newest version); a corrected tally is a new row that names the one it
replaces; each row says who entered it and when. Every change also appends to the audit trail in the same
transaction (:func:`audit_in`), so a change and its audit entry are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from safestreets.db.audit import canonical, entry_hash
from safestreets.db.models import AuditEntry, AuditHead, Base

#: Tally fields, as the press release counts them.
TALLIES = ("knives", "weapons", "drugs", "arrests", "community_events", "sweeps", "searches", "visits")


class Operation(Base):
    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OperationVersion(Base):
    """One version of an operation as entered: areas and tactics as JSON lists."""

    __tablename__ = "operation_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)
    areas: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: [{"kind": "bcu", "code": ...}, ...]
    tactics: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of TACTICS slugs
    plan_id: Mapped[int | None] = mapped_column(Integer)  # the stored patrol plan it followed
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    entered_by: Mapped[str] = mapped_column(String(128), nullable=False)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (UniqueConstraint("operation_id", "version", name="uq_operation_version"),)


class OperationTally(Base):
    """What one day of an operation produced, in one BCU and by one tactic (either may be blank)."""

    __tablename__ = "operation_tallies"
    __table_args__ = (Index("ix_operation_tallies_operation", "operation_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    bcu: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    tactic: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    knives: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    weapons: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    drugs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    arrests: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    community_events: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sweeps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    searches: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    visits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    replaces: Mapped[int | None] = mapped_column(ForeignKey("operation_tallies.id"))  # a correction
    source: Mapped[str] = mapped_column(String(255), nullable=False, default="")  # cli, web, api, a CSV
    entered_by: Mapped[str] = mapped_column(String(128), nullable=False)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class S60Authorisation(Base):
    """A Section 60 authorisation: where (polygon WKT in WGS84, or a named place with a radius), when, by
    whom, why; extensions as JSON; the limits check's verdict and problems as entered."""

    __tablename__ = "s60_authorisations"
    __table_args__ = (Index("ix_s60_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    place: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    polygon_wkt: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # before extensions
    authorised_by: Mapped[str] = mapped_column(String(128), nullable=False)
    rank: Mapped[str] = mapped_column(String(64), nullable=False)
    extensions: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON [{until, rank, by}]
    grounds: Mapped[str] = mapped_column(Text, nullable=False)
    incident: Mapped[str] = mapped_column(Text, nullable=False, default="")
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)  # lawful | flagged
    problems: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list of text
    entered_by: Mapped[str] = mapped_column(String(128), nullable=False)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


def now() -> datetime:
    return datetime.now(UTC)


def audit_in(session: Session, *, actor: str, action: str, target: str, params: Mapping[str, Any] | None = None,
             outcome: str = "ok") -> int:  # fmt: skip
    """Append one audit entry inside ``session``'s transaction (the chain rule of ``db.audit.record``)."""
    text = canonical(params or {})
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    at = now()
    entry_id = head.last_id + 1
    digest = entry_hash(head.last_hash, entry_id, at, actor, action, target, text, outcome)
    session.add(AuditEntry(id=entry_id, at=at, actor=actor, action=action, target=target, params=text,
                           outcome=outcome, prev_hash=head.last_hash, hash=digest))  # fmt: skip
    head.last_id, head.last_hash = entry_id, digest
    return entry_id
