"""Tables of the community intelligence channel (issue 18): sealed reports, their attachments, the
reporters' codename records and the messages between staff and reporters.

What the intake service writes here is ciphertext plus the least routing metadata a team needs: the day a
report came in (never the time), whether the reporter said someone is in danger now, and when it expires.
Staff-side fields (triage, grading, the kept reason) are written later by the analysts. Ids are random
strings, not counters, so an id does not tell the order reports arrived in.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safestreets.db.models import Base


class IntelReporter(Base):
    """A codename's record: a lookup digest derived from an Argon2id hash of the codename, and the public
    key (derived from the same hash) that staff replies are sealed to. The codename itself is never kept."""

    __tablename__ = "intel_reporters"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    lookup: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_day: Mapped[date] = mapped_column(Date, nullable=False)


class IntelReport(Base):
    __tablename__ = "intel_reports"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    reporter_id: Mapped[str] = mapped_column(
        ForeignKey("intel_reporters.id", ondelete="CASCADE"), nullable=False
    )
    received_day: Mapped[date] = mapped_column(Date, nullable=False)
    expires_day: Mapped[date] = mapped_column(Date, nullable=False)
    #: The per-report key, sealed to the team's public key: destroying it makes the ciphertexts noise.
    sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # padded JSON, secretbox
    danger_now: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Staff side (plain routing and grading facts, never the words of the report):
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="new")
    category: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    threat_to_life: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    area_code: Mapped[str | None] = mapped_column(String(32))  # an LSOA code or a snap-point cell
    area_kind: Mapped[str | None] = mapped_column(String(16))  # lsoa or snap
    week: Mapped[date | None] = mapped_column(Date)  # Monday of the week the report came in
    source_eval: Mapped[str | None] = mapped_column(String(1))  # 3x5x2: 1, 2, 3
    intel_assessment: Mapped[str | None] = mapped_column(String(1))  # A..E
    handling_code: Mapped[str | None] = mapped_column(String(1))  # P or C
    handling_conditions: Mapped[str | None] = mapped_column(Text)
    redacted: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed to the team key too
    keep_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_intel_reports_expires", "expires_day"),
        Index("ix_intel_reports_area_week", "area_code", "week"),
    )


class IntelAttachment(Base):
    """A photo, re-encoded without its metadata and then encrypted with the report's key."""

    __tablename__ = "intel_attachments"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("intel_reports.id", ondelete="CASCADE"), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class IntelMessage(Base):
    """More detail from a reporter (``in``: sealed to the team key) or a staff reply (``out``: sealed to the
    reporter's public key). Replies expire; additions live as long as their report."""

    __tablename__ = "intel_messages"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("intel_reports.id", ondelete="CASCADE"), nullable=False)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    expires_day: Mapped[date] = mapped_column(Date, nullable=False)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # order within a report
