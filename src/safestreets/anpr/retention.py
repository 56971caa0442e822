"""Retention: reads (and what only they justify) are kept for the configured period, then purged.

Due for purging, at ``now`` with a retention of N days: reads taken before ``now - N days``; the sealed
plates of vehicles no remaining read refers to; alerts on reads that old; hotlist entries that expired or
were ended before then (their alerts with them). A dry run counts exactly what a purge would delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
from sqlalchemy import delete, func, or_, select

from safestreets.db import Database, audit
from safestreets.db.anpr import Alert, HotlistEntry
from safestreets.store.anpr import purge_due


@dataclass(frozen=True)
class Purge:
    cutoff: datetime
    dry_run: bool
    reads: int
    plates: int
    alerts: int
    hotlist_entries: int


def cutoff(now: datetime, retention_days: float) -> datetime:
    return now - timedelta(days=retention_days)


def purge(con: duckdb.DuckDBPyConnection, db: Database, *, retention_days: float, actor: str,
          now: datetime | None = None, dry_run: bool = False) -> Purge:  # fmt: skip
    now = now or datetime.now(UTC)
    before = cutoff(now, retention_days)
    store = purge_due(con, before, dry_run=dry_run)
    ended = or_(HotlistEntry.expires_at < before, HotlistEntry.removed_at < before)
    with db.session() as s:
        old_entries = select(HotlistEntry.id).where(ended)
        alert_due = or_(Alert.read_at < before, Alert.hotlist_id.in_(old_entries))
        n_alerts = s.execute(select(func.count()).select_from(Alert).where(alert_due)).scalar_one()
        n_entries = s.execute(select(func.count()).select_from(HotlistEntry).where(ended)).scalar_one()
        if not dry_run:
            s.execute(delete(Alert).where(alert_due))
            s.execute(delete(HotlistEntry).where(ended))
    result = Purge(before, dry_run, store["reads"], store["plates"], int(n_alerts), int(n_entries))
    audit.record(db, actor=actor, action="purge" if not dry_run else "view", target="anpr.retention",
                 params={**result.__dict__, "cutoff": before.isoformat(), "retention_days": retention_days})  # fmt: skip
    return result
