"""The briefing's accountability sections: stop and search over the last 12 months of data (outcome rates
and disproportionality), the operations of the last four weeks with their results, and the Section 60
authorisations of the last four weeks with the searches made under them. Each section says why it is
empty rather than failing the briefing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from safestreets.accountability import operations as ops
from safestreets.accountability import s60
from safestreets.accountability.disproportionality import disproportionality
from safestreets.accountability.searches import analyse, scope
from safestreets.errors import SafestreetsError

LOOKBACK_DAYS = 28


def stop_search_section(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The last 12 months of stop and search in the store."""
    row = con.execute("SELECT max(month) FROM stop_searches").fetchall()[0]
    if row[0] is None:
        return {"note": "No stop-and-search data loaded."}
    last: date = row[0]
    first = date(last.year - 1, last.month, 1) + timedelta(days=32)
    months = f"{first:%Y-%m}:{last:%Y-%m}"
    try:
        a = analyse(con, scope(months=months), ["legislation"])
    except SafestreetsError as exc:
        return {"note": str(exc)}
    out: dict[str, Any] = {"months": months, "summary": a.summary, "legislation": a.by("legislation")[:5],
                           "notes": list(a.notes)}  # fmt: skip
    try:
        d = disproportionality(con, scope(months=months))
        out["rates"] = d.rates.to_pylist()
        out["missing"] = d.missing["self_missing_share"]
        out["notes"] += d.warnings
    except SafestreetsError as exc:
        out["notes"].append(f"Disproportionality: {exc}")
    return out


def operations_section(db: Any, week_start: date) -> dict[str, Any]:
    since = week_start - timedelta(days=LOOKBACK_DAYS)
    with db.session() as session:
        recent = [
            o
            for o in ops.list_operations(session)
            if o.end >= since and o.start <= week_start + timedelta(days=6)
        ]
        rows = [{"name": o.name, "start": o.start, "end": o.end, "headline": ops.operation_report(session, o.id).headline}
                for o in recent]  # fmt: skip
    return {"rows": rows, "since": since, "note": None if rows else f"No operations recorded since {since}."}


def s60_section(db: Any, con: duckdb.DuckDBPyConnection, week_start: date) -> dict[str, Any]:
    since = datetime.combine(week_start - timedelta(days=LOOKBACK_DAYS), datetime.min.time(), UTC)
    until = datetime.combine(week_start + timedelta(days=7), datetime.min.time(), UTC)
    with db.session() as session:
        auths = s60.list_authorisations(session, since=since, until=until)
    rows = []
    for a in auths:
        r = s60.authorisation_report(con, a)
        rows.append({"place": a.place or "polygon", "from": a.starts_at, "to": a.final_end, "hours": a.hours,
                     "verdict": a.verdict, "searches": r.searches, "positive": r.positive, "arrests": r.arrests})  # fmt: skip
    return {
        "rows": rows,
        "note": None if rows else f"No Section 60 authorisations recorded since {since:%Y-%m-%d}.",
    }


def accountability_sections(con: duckdb.DuckDBPyConnection, db: Any, week_start: date) -> dict[str, Any]:
    """Everything the briefing's accountability part shows (``db`` None: the registers are not consulted)."""
    out: dict[str, Any] = {"stop_search": stop_search_section(con)}
    if db is not None:
        out["operations"] = operations_section(db, week_start)
        out["s60"] = s60_section(db, con, week_start)
    return out
