"""Alerts: reads of vehicles on the current hotlist, stored as they arrive (or found in history).

Matching a batch is a set lookup of its pseudonyms against the entries current at the moment of matching
(an expired or ended entry never fires); each match is stored with the time the read arrived and the time
the alert was stored, so the latency promised on the dashboard is measured, not assumed. A read matched
twice (posted, then also found in the watched folder) is one alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from safestreets.anpr import hotlist
from safestreets.db import Database
from safestreets.db.accountability import audit_in
from safestreets.db.anpr import Alert, HotlistEntry
from safestreets.errors import NotFoundError


@dataclass(frozen=True)
class Matched:
    """What matching one batch did: reads looked at, alerts newly stored, and how long storing took."""

    reads: int
    alerts: int
    arrived_at: datetime
    stored_at: datetime | None

    @property
    def latency_seconds(self) -> float | None:
        """From the batch's arrival to its alerts being stored (None when it raised none)."""
        return None if self.stored_at is None else (self.stored_at - self.arrived_at).total_seconds()


def _insert(db: Database) -> Any:
    dialect = db.engine.dialect.name
    table = Alert.__table__
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(constraint="uq_anpr_alerts_read")
    return sqlite.insert(table).on_conflict_do_nothing()


def match(db: Database, reads: pa.Table, *, arrived_at: datetime, kind: str = "live",
          now: datetime | None = None, actor: str = "anpr-matcher") -> Matched:  # fmt: skip
    """Match ``reads`` (``vehicle, read_at, camera_id``) against the entries current now; store alerts."""
    now = now or datetime.now(UTC)
    if reads.num_rows == 0:
        return Matched(0, 0, arrived_at, None)
    by_vehicle = hotlist.current_for(db, pc.unique(reads.column("vehicle")).to_pylist(), now)
    if not by_vehicle:
        return Matched(reads.num_rows, 0, arrived_at, None)
    hit = reads.filter(pc.is_in(reads.column("vehicle"), pa.array(list(by_vehicle), pa.string())))
    rows = hit.select(["vehicle", "read_at", "camera_id"]).to_pylist()
    with db.session() as s:
        raised = datetime.now(UTC)
        values = [
            # In UTC: SQLite keeps wall-clock time without its offset, so a zone's summer time would shift it.
            {"hotlist_id": entry, "vehicle": r["vehicle"], "read_at": _utc(r["read_at"]), "camera_id": r["camera_id"],
             "kind": kind, "arrived_at": arrived_at, "raised_at": raised}
            for r in rows for entry in by_vehicle[r["vehicle"]]
        ]  # fmt: skip
        # RETURNING gives the rows this insert stored (not those another writer stored meanwhile).
        stored = len(s.execute(_insert(db).returning(Alert.__table__.c.id), values).all())
        if stored:
            audit_in(s, actor=actor, action="change", target="anpr.alerts.raise",
                     params={"kind": kind, "alerts": stored, "entries": sorted({v["hotlist_id"] for v in values})})  # fmt: skip
    return Matched(reads.num_rows, int(stored), arrived_at, raised if stored else None)


def alerts(db: Database, *, after_id: int = 0, limit: int = 100, open_only: bool = False) -> list[dict[str, Any]]:
    """Alerts newest first (``after_id``: only newer ones, for a page that polls), with their entry's reason."""
    with db.session() as s:
        q = (select(Alert, HotlistEntry.reason, HotlistEntry.source).join(HotlistEntry)
             .where(Alert.id > after_id).order_by(Alert.id.desc()).limit(limit))  # fmt: skip
        if open_only:
            q = q.where(Alert.acknowledged_at.is_(None))
        out = []
        for a, reason, source in s.execute(q).all():
            out.append({
                "id": a.id, "hotlist_id": a.hotlist_id, "vehicle": a.vehicle, "read_at": _utc(a.read_at),
                "camera_id": a.camera_id, "kind": a.kind, "arrived_at": _utc(a.arrived_at),
                "raised_at": _utc(a.raised_at), "latency_ms": round((_utc(a.raised_at) - _utc(a.arrived_at))
                                                                    .total_seconds() * 1000, 1),
                "acknowledged_by": a.acknowledged_by, "reason": reason, "source": source,
            })  # fmt: skip
        return out


def acknowledge(db: Database, alert_id: int, *, actor: str) -> None:
    with db.session() as s:
        a = s.get(Alert, alert_id)
        if a is None:
            raise NotFoundError(f"no alert {alert_id}")
        if a.acknowledged_at is None:
            a.acknowledged_by, a.acknowledged_at = actor, datetime.now(UTC)
            audit_in(s, actor=actor, action="change", target="anpr.alerts.acknowledge", params={"alert": alert_id})


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
