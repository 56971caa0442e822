"""Tables of ANPR operations (issue 19): hotlist entries, the alerts they raise, and access authorisations.

A hotlist entry holds the vehicle's pseudonym (to match reads) and its plate sealed with the workspace's
ANPR key (to show it to an allowed role), never the clear plate; it must say why, where from and until when.
An alert records which entry a read matched, when the read was taken, when it arrived and when the alert was
stored (the latency the dashboard promises). An access authorisation lets one account query reads older than
the default reach, for a stated reason, until it expires. Entries are never edited, only ended (removed_at)
or acknowledged; every change is audited in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safestreets.db.models import Base


class HotlistEntry(Base):
    __tablename__ = "anpr_hotlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vehicle: Mapped[str] = mapped_column(String(64), nullable=False)  # the plate's keyed pseudonym
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # the plate, secretbox-sealed
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)  # e.g. PNC, local intelligence ref
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    added_by: Mapped[str] = mapped_column(String(128), nullable=False)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    removed_by: Mapped[str | None] = mapped_column(String(128))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_anpr_hotlist_vehicle", "vehicle"),)


class Alert(Base):
    __tablename__ = "anpr_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotlist_id: Mapped[int] = mapped_column(ForeignKey("anpr_hotlist.id", ondelete="CASCADE"), nullable=False)
    vehicle: Mapped[str] = mapped_column(String(64), nullable=False)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    camera_id: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # live (as reads arrive) or history
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The same read matched twice (a batch posted and also dropped in the watched folder) is one alert.
        UniqueConstraint("hotlist_id", "read_at", "camera_id", name="uq_anpr_alerts_read"),
        Index("ix_anpr_alerts_raised", "raised_at"),
    )


class AccessAuthorisation(Base):
    """Leave for one account to query reads back to ``reach_from`` (past the default reach) until expiry."""

    __tablename__ = "anpr_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    reach_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    granted_by: Mapped[str] = mapped_column(String(128), nullable=False)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_anpr_access_user", "username"),)
