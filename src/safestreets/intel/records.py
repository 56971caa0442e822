"""Reading and writing the channel's tables (db/intel.py). The intake side only ever calls
:func:`store_report`, :func:`add_detail` and :func:`replies_for`; everything else is the staff side.

Every write is one transaction: a report, its photos and its codename record are stored together or not
at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from nacl.public import PrivateKey, PublicKey
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from safestreets.db import Database
from safestreets.db.intel import IntelAttachment, IntelMessage, IntelReport, IntelReporter
from safestreets.errors import NotFoundError
from safestreets.intel import sealing
from safestreets.intel.codename import Derived

REPORT_DAYS = 180  # reports kept half a year unless kept with a reason
REPLY_DAYS = 30  # a staff question waits a month for its reporter


def new_id() -> str:
    return secrets.token_hex(6)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def store_report(db: Database, team: PublicKey, reporter: Derived, doc: dict[str, Any], photos: Sequence[bytes], *,
                 danger_now: bool, today: date, report_days: int = REPORT_DAYS) -> str:  # fmt: skip
    """Seal and store a new report with its (already cleaned) photos and a new codename record."""
    key = sealing.new_key()
    rid = new_id()
    with db.session() as s:
        reporter_id = new_id()
        s.add(IntelReporter(id=reporter_id, lookup=reporter.lookup, public_key=reporter.public_key,
                            created_day=today))  # fmt: skip
        s.flush()  # the codename record before the report that points at it
        s.add(IntelReport(id=rid, reporter_id=reporter_id, received_day=today, week=monday(today),
                          expires_day=today + timedelta(days=report_days), sealed_key=sealing.seal(team, key),
                          ciphertext=sealing.encrypt(key, sealing.encode(doc)), danger_now=danger_now))  # fmt: skip
        s.flush()
        for photo in photos:
            s.add(IntelAttachment(id=new_id(), report_id=rid, ciphertext=sealing.encrypt(key, photo)))
    return rid


def _reporter(s: Any, lookup: str) -> IntelReporter | None:
    return s.execute(select(IntelReporter).where(IntelReporter.lookup == lookup)).scalar_one_or_none()


@dataclass
class ReporterView:
    found: bool
    replies: list[tuple[date, str]] = field(default_factory=list)
    reports: int = 0


def replies_for(db: Database, reporter: Derived, today: date) -> ReporterView:
    """What a returning reporter may read: staff replies sealed to their key, not yet expired."""
    with db.session() as s:
        found = _reporter(s, reporter.lookup)
        if found is None:
            return ReporterView(False)
        ids = [r for (r,) in s.execute(select(IntelReport.id).where(IntelReport.reporter_id == found.id))]
        rows = s.execute(
            select(IntelMessage.day, IntelMessage.sealed)
            .where(IntelMessage.report_id.in_(ids), IntelMessage.direction == "out",
                   IntelMessage.expires_day > today)
            .order_by(IntelMessage.day, IntelMessage.seq)
        ).all()  # fmt: skip
    return ReporterView(True, [(day, sealing.unseal_text(reporter.private_key, sealed)) for day, sealed in rows],
                        len(ids))  # fmt: skip


def add_detail(db: Database, team: PublicKey, reporter: Derived, text: str, today: date) -> bool:
    """More detail from a returning reporter, sealed to the team, on their latest report; False if the
    codename is unknown."""
    with db.session() as s:
        found = _reporter(s, reporter.lookup)
        if found is None:
            return False
        report = s.execute(
            select(IntelReport).where(IntelReport.reporter_id == found.id).order_by(IntelReport.received_day.desc())
        ).scalars().first()  # fmt: skip
        if report is None:
            return False
        _message(s, report, "in", sealing.seal_text(team, text), today, report.expires_day)
    return True


def _message(s: Any, report: IntelReport, direction: str, sealed: bytes, today: date, expires: date) -> None:
    seq = s.execute(select(func.count()).where(IntelMessage.report_id == report.id)).scalar_one()
    s.add(IntelMessage(id=new_id(), report_id=report.id, direction=direction, day=today, expires_day=expires,
                       sealed=sealed, seq=seq))  # fmt: skip


# --- staff side ------------------------------------------------------------------------------------------

META = ("id", "received_day", "expires_day", "danger_now", "status", "category", "urgency", "threat_to_life",
        "area_code", "area_kind", "week", "source_eval", "intel_assessment", "handling_code",
        "handling_conditions", "keep_reason")  # fmt: skip
URGENCY_ORDER = {"immediate": 0, "priority": 1, "routine": 2}


def meta(report: IntelReport) -> dict[str, Any]:
    return {k: getattr(report, k) for k in META}


def list_reports(db: Database, *, status: str | None = None) -> list[dict[str, Any]]:
    """Metadata only (never contents): danger and threat to life first, then urgency, newest first."""
    with db.session() as s:
        q = select(IntelReport)
        if status:
            q = q.where(IntelReport.status == status)
        rows = [meta(r) for r in s.execute(q).scalars()]
    rows.sort(key=lambda r: (not (r["danger_now"] or r["threat_to_life"]),
                             URGENCY_ORDER.get(r["urgency"] or "", 1), -r["received_day"].toordinal(), r["id"]))  # fmt: skip
    return rows


def get(db: Database, rid: str) -> dict[str, Any]:
    with db.session() as s:
        report = s.get(IntelReport, rid)
        if report is None:
            raise NotFoundError(f"no report {rid!r} (deleted by retention, or never received)")
        return meta(report)


@dataclass
class Opened:
    meta: dict[str, Any]
    doc: dict[str, Any]
    photos: list[bytes]
    messages: list[dict[str, Any]]  # direction, day, text (replies are sealed to the reporter: not shown)
    redacted: str | None


def open_report(db: Database, team: PrivateKey, rid: str) -> Opened:
    """Decrypt a report, its photos, the reporter's additions and the stored redaction."""
    with db.session() as s:
        report = s.get(IntelReport, rid)
        if report is None:
            raise NotFoundError(f"no report {rid!r} (deleted by retention, or never received)")
        if report.sealed_key is None:
            raise NotFoundError(f"report {rid!r} has had its key destroyed")
        key = sealing.unseal(team, report.sealed_key)
        doc = sealing.decode(sealing.decrypt(key, report.ciphertext))
        photos = [sealing.decrypt(key, a.ciphertext) for a in s.execute(
            select(IntelAttachment).where(IntelAttachment.report_id == rid).order_by(IntelAttachment.id)).scalars()]  # fmt: skip
        msgs = s.execute(
            select(IntelMessage).where(IntelMessage.report_id == rid).order_by(IntelMessage.seq)
        ).scalars()
        messages = [{"direction": m.direction, "day": m.day,
                     "text": sealing.unseal_text(team, m.sealed) if m.direction == "in" else None} for m in msgs]  # fmt: skip
        redacted = sealing.unseal_text(team, report.redacted) if report.redacted else None
        return Opened(meta(report), doc, photos, messages, redacted)


def update_fields(db: Database, rid: str, **values: Any) -> dict[str, Any]:
    with db.session() as s:
        report = s.get(IntelReport, rid)
        if report is None:
            raise NotFoundError(f"no report {rid!r}")
        for k, v in values.items():
            setattr(report, k, v)
        return meta(report)


def reply(db: Database, rid: str, text: str, today: date, reply_days: int = REPLY_DAYS) -> None:
    """A staff question sealed to the reporter's public key (staff cannot read it back either)."""
    with db.session() as s:
        report = s.get(IntelReport, rid)
        if report is None:
            raise NotFoundError(f"no report {rid!r}")
        reporter = s.get(IntelReporter, report.reporter_id)
        assert reporter is not None  # a foreign key
        sealed = sealing.seal_text(PublicKey(reporter.public_key), text)
        _message(s, report, "out", sealed, today, today + timedelta(days=reply_days))


@dataclass
class Purged:
    reports: list[str]
    replies: int
    reporters: int
    kept: int


def purge(db: Database, today: date, *, dry_run: bool = False) -> Purged:
    """Delete expired reports (unless kept with a reason) by first destroying their sealed keys and
    overwriting their ciphertexts, then their rows; expired replies; codename records left with no report."""
    sqlite = db.engine.url.get_backend_name() == "sqlite"
    with db.session() as s:
        if sqlite:  # freed pages are zeroed, not left for a forensic reader of the file
            s.connection().exec_driver_sql("PRAGMA secure_delete=ON")
        due = select(IntelReport.id).where(
            IntelReport.expires_day <= today, IntelReport.keep_reason.is_(None)
        )
        ids = [r for (r,) in s.execute(due)]
        kept = s.execute(select(func.count()).where(IntelReport.expires_day <= today,
                                                    IntelReport.keep_reason.is_not(None))).scalar_one()  # fmt: skip
        expired = select(IntelMessage.id).where(
            IntelMessage.direction == "out", IntelMessage.expires_day <= today
        )
        replies = len(s.execute(expired).all())
        if dry_run:
            return Purged(sorted(ids), replies, 0, kept)
        if ids:
            s.execute(update(IntelReport).where(IntelReport.id.in_(ids)).values(sealed_key=None, ciphertext=b"",
                                                                                 redacted=None))  # fmt: skip
            s.execute(
                update(IntelAttachment).where(IntelAttachment.report_id.in_(ids)).values(ciphertext=b"")
            )
            s.execute(update(IntelMessage).where(IntelMessage.report_id.in_(ids)).values(sealed=b""))
            s.execute(delete(IntelAttachment).where(IntelAttachment.report_id.in_(ids)))
            s.execute(delete(IntelMessage).where(IntelMessage.report_id.in_(ids)))
            s.execute(delete(IntelReport).where(IntelReport.id.in_(ids)))
        s.execute(update(IntelMessage).where(IntelMessage.id.in_(expired)).values(sealed=b""))
        s.execute(
            delete(IntelMessage).where(IntelMessage.direction == "out", IntelMessage.expires_day <= today)
        )
        orphans = select(IntelReporter.id).where(~IntelReporter.id.in_(select(IntelReport.reporter_id)))
        reporters = len(s.execute(orphans).all())
        s.execute(delete(IntelReporter).where(IntelReporter.id.in_(orphans)))
    if not dry_run and (ids or replies):
        _reclaim(db, sqlite)
    return Purged(sorted(ids), replies, reporters, kept)


def _reclaim(db: Database, sqlite: bool) -> None:
    """After a purge, outside any transaction: SQLite folds its write-ahead log back into the file (so the
    old pages leave it too); PostgreSQL vacuums the tables (dead row versions, which still hold the sealed
    keys an UPDATE replaced, become free space to be overwritten)."""
    if sqlite:
        raw = db.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    elif db.engine.url.get_backend_name() == "postgresql":
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM intel_messages, intel_attachments, intel_reports, intel_reporters")
        except SQLAlchemyError:  # a role that does not own the tables: autovacuum will get there
            pass


def counts(db: Database, *, since: date | None = None) -> list[dict[str, Any]]:
    """Reports per area and week (triaged ones with a place): numbers, never contents."""
    with db.session() as s:
        q = (select(IntelReport.area_code, IntelReport.area_kind, IntelReport.week, func.count())
             .where(IntelReport.area_code.is_not(None))
             .group_by(IntelReport.area_code, IntelReport.area_kind, IntelReport.week))  # fmt: skip
        if since is not None:
            q = q.where(IntelReport.week >= since)
        return [{"area_code": a, "area_kind": k, "week": w, "reports": n} for a, k, w, n in s.execute(q)]


def reseal(db: Database, old: PrivateKey, new: PublicKey) -> int:
    """Seal every stored report key, redaction and reporter's addition to a new team key, in one
    transaction (all or nothing); returns the number of reports. What the old key sealed is replaced."""
    n = 0
    with db.session() as s:
        for report in s.execute(select(IntelReport).where(IntelReport.sealed_key.is_not(None))).scalars():
            assert report.sealed_key is not None
            report.sealed_key = sealing.seal(new, sealing.unseal(old, report.sealed_key))
            if report.redacted:
                report.redacted = sealing.seal(new, sealing.unseal(old, report.redacted))
            n += 1
        for m in s.execute(select(IntelMessage).where(IntelMessage.direction == "in")).scalars():
            m.sealed = sealing.seal(new, sealing.unseal(old, m.sealed))
    return n
