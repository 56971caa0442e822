"""The operations register: what an operation was (name, dates, areas, tactics, the plan it followed) and
what it produced (tallies per day, BCU and tactic), kept as history, and the results a press release quotes.

Public functions (the impact evaluation reads operations through these):

- :func:`add_operation`, :func:`edit_operation` (a new version; nothing is overwritten),
  :func:`add_tallies` (all rows checked first, then written together), :func:`correct_tally`;
- :func:`get_operation` (``session, op_id``), :func:`list_operations`, :func:`operation_history`,
  :func:`operation_tallies`, :func:`operation_geometry` (the areas as one shapely geometry, workspace CRS);
- :func:`operation_report`: totals, per day, per BCU, per tactic, and the plan delivered.

Every change writes its audit entry in the same transaction (``db.accountability.audit_in``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safestreets import vocab
from safestreets.db import Database
from safestreets.db.accountability import TALLIES, OperationTally, OperationVersion, audit_in, now
from safestreets.db.accountability import Operation as OperationRow
from safestreets.errors import InputError, NotFoundError, ParameterError
from safestreets.sources.tallies import parse_count, parse_day, parse_tactic

AREA_KINDS = ("bcu", "borough", "polygon", "name")


@dataclass(frozen=True)
class Operation:
    """One version of an operation (the newest unless asked otherwise). ``areas``: dicts with ``kind``
    (bcu, borough, polygon, name) and ``code`` (a polygon's ``code`` is WKT in WGS84 lon/lat)."""

    id: int
    version: int
    name: str
    start: date
    end: date
    areas: tuple[dict[str, str], ...]
    tactics: tuple[str, ...]
    plan_id: int | None
    notes: str
    entered_by: str
    entered_at: datetime
    created_by: str
    created_at: datetime
    geometry: Any = None  # the areas as one shapely geometry (store CRS), when read with a store connection

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def bcus(self) -> tuple[str, ...]:
        return tuple(a["code"] for a in self.areas if a["kind"] == "bcu")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "name": self.name, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "areas": [dict(a) for a in self.areas], "tactics": list(self.tactics),
                "plan_id": self.plan_id, "notes": self.notes, "entered_by": self.entered_by,
                "entered_at": self.entered_at.isoformat(), "created_by": self.created_by,
                "created_at": self.created_at.isoformat()}  # fmt: skip


def parse_areas(
    texts: Iterable[str], known: Mapping[str, tuple[str, str]] | None = None
) -> list[dict[str, str]]:
    """Areas as typed: ``bcu:CODE``, ``borough:CODE``, a polygon as WKT in lon/lat, or a loaded BCU or
    borough's code or name (``known``: lower-case code or name -> (kind, code)). Without loaded areas a
    bare name is kept as kind ``name``."""
    import shapely

    out: list[dict[str, str]] = []
    for raw in texts:
        text = raw.strip()
        if not text:
            continue
        if text.upper().startswith(("POLYGON", "MULTIPOLYGON")):
            try:
                geom = shapely.from_wkt(text)
            except shapely.errors.GEOSException:
                raise ParameterError(f"areas: {text[:40]!r} is not valid WKT") from None
            if not geom.is_valid or geom.is_empty:
                raise ParameterError(f"areas: the polygon {text[:40]!r} is empty or not valid")
            out.append({"kind": "polygon", "code": shapely.to_wkt(geom, rounding_precision=6)})
            continue
        kind, sep, code = text.partition(":")
        if sep and kind.lower() in ("bcu", "borough"):
            out.append({"kind": kind.lower(), "code": code.strip()})
            continue
        if known:
            hit = known.get(text.lower())
            if hit is None:
                import difflib

                close = difflib.get_close_matches(text.lower(), list(known), n=1)
                raise ParameterError(f"areas: unknown BCU or borough {text!r}"
                                     + (f": did you mean {close[0]!r}?" if close else ""))  # fmt: skip
            out.append({"kind": hit[0], "code": hit[1]})
        else:
            out.append({"kind": "name", "code": text})
    if not out:
        raise ParameterError("areas: name at least one BCU, borough or polygon")
    return out


def parse_tactics(texts: Iterable[str]) -> list[str]:
    out = []
    for t in texts:
        if not t.strip():
            continue
        slug = vocab.tactic_slug(t)
        if slug is None:
            raise ParameterError(f"tactics: unknown tactic {t!r} (one of: {', '.join(vocab.TACTICS)})")
        if slug not in out:
            out.append(slug)
    return out


def _check_dates(start: date | str, end: date | str) -> tuple[date, date]:
    s = parse_day("operation", None, "start", start) if not isinstance(start, date) else start
    e = parse_day("operation", None, "end", end) if not isinstance(end, date) else end
    if e < s:
        raise ParameterError(f"end: {e.isoformat()} is before start {s.isoformat()} (dates out of order)")
    return s, e


def _as_operation(op: OperationRow, v: OperationVersion) -> Operation:
    return Operation(
        id=op.id, version=v.version, name=v.name, start=v.start_date, end=v.end_date,
        areas=tuple(json.loads(v.areas)), tactics=tuple(json.loads(v.tactics)), plan_id=v.plan_id, notes=v.notes,
        entered_by=v.entered_by, entered_at=v.entered_at, created_by=op.created_by, created_at=op.created_at,
    )  # fmt: skip


def add_operation(db: Database, *, name: str, start: date | str, end: date | str, areas: Sequence[dict[str, str]],
                  tactics: Sequence[str], plan_id: int | None = None, notes: str = "", actor: str) -> Operation:  # fmt: skip
    """Record a new operation (version 1). ``areas`` from :func:`parse_areas`."""
    if not name.strip():
        raise ParameterError("name: an operation needs a name")
    s, e = _check_dates(start, end)
    slugs = parse_tactics(tactics)
    if not areas:
        raise ParameterError("areas: name at least one BCU, borough or polygon")
    at = now()
    with db.session() as session:
        op = OperationRow(current_version=1, created_by=actor, created_at=at)
        session.add(op)
        session.flush()
        v = OperationVersion(operation_id=op.id, version=1, name=name.strip(), start_date=s, end_date=e,
                             areas=json.dumps(list(areas)), tactics=json.dumps(slugs), plan_id=plan_id, notes=notes,
                             entered_by=actor, entered_at=at)  # fmt: skip
        session.add(v)
        session.flush()
        result = _as_operation(op, v)
        audit_in(session, actor=actor, action="change", target=f"operations/{op.id}",
                 params={"do": "add", **result.to_dict()})  # fmt: skip
    return result


def edit_operation(db: Database, op_id: int, *, actor: str, **changes: Any) -> Operation:
    """A new version with ``changes`` (name, start, end, areas, tactics, plan_id, notes); earlier versions
    stay as they were."""
    allowed = {"name", "start", "end", "areas", "tactics", "plan_id", "notes"}
    bad = set(changes) - allowed
    if bad:
        raise ParameterError(f"cannot change {', '.join(sorted(bad))} (can: {', '.join(sorted(allowed))})")
    with db.session() as session:
        cur = get_operation(session, op_id)
        fields = cur.to_dict() | {k: v for k, v in changes.items() if v is not None}
        s, e = _check_dates(fields["start"], fields["end"])
        slugs = parse_tactics(fields["tactics"])
        op = session.get(OperationRow, op_id)
        assert op is not None
        at = now()
        v = OperationVersion(operation_id=op_id, version=cur.version + 1, name=str(fields["name"]).strip(),
                             start_date=s, end_date=e, areas=json.dumps(list(fields["areas"])), tactics=json.dumps(slugs),
                             plan_id=fields["plan_id"], notes=fields["notes"] or "", entered_by=actor,
                             entered_at=at)  # fmt: skip
        session.add(v)
        op.current_version = cur.version + 1
        session.flush()
        result = _as_operation(op, v)
        changed = {k: result.to_dict()[k] for k in ("name", "start", "end", "areas", "tactics", "plan_id", "notes")
                   if result.to_dict()[k] != cur.to_dict()[k]}  # fmt: skip
        audit_in(session, actor=actor, action="change", target=f"operations/{op_id}",
                 params={"do": "edit", "version": result.version, "changed": changed})  # fmt: skip
    return result


def get_operation(session: Session, op_id: int, version: int | None = None, con: Any = None) -> Operation:
    """An operation as recorded now (or at ``version``); with ``con`` (the store), its ``geometry`` too."""
    op = session.get(OperationRow, op_id)
    if op is None:
        raise NotFoundError(f"no operation {op_id}: see 'safestreets operation list'")
    want = version or op.current_version
    v = session.execute(select(OperationVersion).where(OperationVersion.operation_id == op_id,
                                                       OperationVersion.version == want)).scalar_one_or_none()  # fmt: skip
    if v is None:
        raise NotFoundError(f"operation {op_id} has no version {want} (it has 1..{op.current_version})")
    found = _as_operation(op, v)
    if con is not None:
        import dataclasses

        found = dataclasses.replace(found, geometry=operation_geometry(con, found))
    return found


def list_operations(session: Session) -> list[Operation]:
    """Every operation as recorded now, newest start first."""
    rows = session.execute(
        select(OperationRow, OperationVersion).join(OperationVersion, (OperationVersion.operation_id == OperationRow.id)
                                                    & (OperationVersion.version == OperationRow.current_version))
    ).all()  # fmt: skip
    return sorted((_as_operation(o, v) for o, v in rows), key=lambda o: (o.start, o.id), reverse=True)


def operation_history(session: Session, op_id: int) -> list[Operation]:
    """Every version of an operation, oldest first."""
    op = session.get(OperationRow, op_id)
    if op is None:
        raise NotFoundError(f"no operation {op_id}")
    vs = session.execute(select(OperationVersion).where(OperationVersion.operation_id == op_id)
                         .order_by(OperationVersion.version)).scalars()  # fmt: skip
    return [_as_operation(op, v) for v in vs]


def find_operation(session: Session, ref: str | int) -> Operation:
    """An operation by id or by its current name (case-insensitive)."""
    text = str(ref).strip()
    if text.isdigit():
        return get_operation(session, int(text))
    hits = [o for o in list_operations(session) if o.name.lower() == text.lower()]
    if not hits:
        raise NotFoundError(f"no operation named {text!r}: see 'safestreets operation list'")
    if len(hits) > 1:
        raise ParameterError(
            f"{len(hits)} operations are named {text!r}: give the id ({', '.join(str(o.id) for o in hits)})"
        )
    return hits[0]


@dataclass(frozen=True)
class Tally:
    id: int
    operation_id: int
    day: date
    bcu: str
    tactic: str
    counts: dict[str, int]
    replaces: int | None
    source: str
    entered_by: str
    entered_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "operation_id": self.operation_id, "day": self.day.isoformat(), "bcu": self.bcu,
                "tactic": self.tactic, **self.counts, "replaces": self.replaces, "source": self.source,
                "entered_by": self.entered_by, "entered_at": self.entered_at.isoformat()}  # fmt: skip


def _tally(t: OperationTally) -> Tally:
    return Tally(t.id, t.operation_id, t.day, t.bcu, t.tactic, {k: getattr(t, k) for k in TALLIES}, t.replaces,
                 t.source, t.entered_by, t.entered_at)  # fmt: skip


def check_tally_rows(op: Operation, rows: Sequence[Mapping[str, Any]], source: str,
                     known_bcus: Mapping[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Every row checked (counts whole and not negative, day within the operation, tactic known, BCU known
    where BCUs are loaded), naming the row and field of the first problem; returns clean rows."""
    clean = []
    for i, r in enumerate(rows, start=1):
        row = i if len(rows) > 1 or source.endswith(".csv") else None
        day = parse_day(source, row, "date", r.get("day", r.get("date")))
        if not op.start <= day <= op.end:
            raise InputError(source, f"{day} is outside the operation ({op.start}..{op.end})", row=row, column="date",
                             value=str(day))  # fmt: skip
        tactic = parse_tactic(source, row, "tactic", r.get("tactic"))
        bcu = str(r.get("bcu") or "").strip()
        if bcu and known_bcus:
            code = known_bcus.get(bcu.lower())
            if code is None:
                raise InputError(source, "unknown BCU", row=row, column="bcu", value=bcu)
            bcu = code
        counts = {k: parse_count(source, row, k, r.get(k)) for k in TALLIES}
        clean.append({"day": day, "bcu": bcu, "tactic": tactic, **counts})
    if not clean:
        raise InputError(source, "no tally rows")
    return clean


def add_tallies(db: Database, op_id: int, rows: Sequence[Mapping[str, Any]], *, actor: str, source: str = "api",
                known_bcus: Mapping[str, str] | None = None) -> list[Tally]:  # fmt: skip
    """Check every row, then store them all in one transaction with one audit entry (or nothing)."""
    with db.session() as session:
        op = get_operation(session, op_id)
        clean = check_tally_rows(op, rows, source, known_bcus)
        at = now()
        made = [
            OperationTally(operation_id=op_id, source=source[:255], entered_by=actor, entered_at=at, **r)
            for r in clean
        ]
        session.add_all(made)
        session.flush()
        out = [_tally(t) for t in made]
        audit_in(session, actor=actor, action="change", target=f"operations/{op_id}/tallies",
                 params={"do": "add", "source": source, "rows": [t.to_dict() for t in out]})  # fmt: skip
    return out


def correct_tally(db: Database, tally_id: int, changes: Mapping[str, Any], *, actor: str) -> Tally:
    """A corrected tally: a new row that replaces ``tally_id`` (which stays, as history)."""
    with db.session() as session:
        old = session.get(OperationTally, tally_id)
        if old is None:
            raise NotFoundError(f"no tally {tally_id}")
        if session.execute(select(OperationTally.id).where(OperationTally.replaces == tally_id)).first():
            raise ParameterError(f"tally {tally_id} was already corrected: correct the newest one")
        op = get_operation(session, old.operation_id)
        merged = {"day": old.day, "bcu": old.bcu, "tactic": old.tactic, **{k: getattr(old, k) for k in TALLIES},
                  **changes}  # fmt: skip
        (clean,) = check_tally_rows(op, [merged], "correction")
        new = OperationTally(operation_id=old.operation_id, replaces=tally_id, source="correction", entered_by=actor,
                             entered_at=now(), **clean)  # fmt: skip
        session.add(new)
        session.flush()
        result = _tally(new)
        audit_in(session, actor=actor, action="change", target=f"operations/{old.operation_id}/tallies/{tally_id}",
                 params={"do": "correct", "new": result.to_dict()})  # fmt: skip
    return result


def operation_tallies(session: Session, op_id: int, *, history: bool = False) -> list[Tally]:
    """The operation's tallies in force (``history``: every row ever entered, corrections included)."""
    rows = [_tally(t) for t in session.execute(select(OperationTally).where(OperationTally.operation_id == op_id)
                                               .order_by(OperationTally.day, OperationTally.id)).scalars()]  # fmt: skip
    if history:
        return rows
    replaced = {t.replaces for t in rows if t.replaces is not None}
    return [t for t in rows if t.id not in replaced]


def operation_geometry(con: Any, op: Operation) -> Any:
    """The operation's areas as one shapely geometry in the store's CRS (BCUs and boroughs from the loaded
    areas, a BCU as the union of its boroughs when it has no polygon of its own; polygons reprojected from
    lon/lat). None when no area has a geometry."""
    import shapely

    from safestreets.geo.project import lonlat_to_crs
    from safestreets.store import get_setting

    crs = get_setting(con, "crs")
    parts = []
    for a in op.areas:
        if a["kind"] == "polygon":
            g = shapely.from_wkt(a["code"])
            parts.append(shapely.transform(g, lambda xy: _project(lonlat_to_crs, xy, crs)))
        elif a["kind"] in ("bcu", "borough"):
            rows = con.execute(
                "SELECT geometry FROM areas WHERE geometry IS NOT NULL AND ((kind = ? AND code = ?) "
                "OR (? = 'bcu' AND kind = 'borough' AND parent = ?))", [a["kind"], a["code"], a["kind"], a["code"]]
            ).fetchall()  # fmt: skip
            parts += [shapely.from_wkb(bytes(r[0])) for r in rows]
    return shapely.union_all(parts) if parts else None


def _project(project: Any, xy: Any, crs: str) -> Any:
    import numpy as np

    x, y = project(xy[:, 0], xy[:, 1], crs)
    return np.column_stack([x, y])


@dataclass
class OperationReport:
    operation: Operation
    totals: dict[str, int]
    by_day: list[dict[str, Any]]
    by_bcu: list[dict[str, Any]]
    by_tactic: list[dict[str, Any]]
    delivery: list[dict[str, Any]]  # bcu, planned, recorded, delivered share
    headline: str
    notes: list[str] = field(default_factory=list)


def _sum_by(tallies: Sequence[Tally], key: str) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, int]] = {}
    for t in tallies:
        k = t.day.isoformat() if key == "day" else getattr(t, key) or "(not given)"
        g = groups.setdefault(k, dict.fromkeys(TALLIES, 0))
        for c in TALLIES:
            g[c] += t.counts[c]
    return [{key: k, **v} for k, v in sorted(groups.items())]


def headline(op: Operation, totals: Mapping[str, int]) -> str:
    """The sentence a press release quotes: the non-zero results, in the Met's order."""
    words = {"knives": "knives", "weapons": "other offensive weapons", "drugs": "drugs and illegal items seized",
             "arrests": "arrests", "community_events": "community events", "sweeps": "weapons sweeps",
             "searches": "stop and searches"}  # fmt: skip
    bits = [f"{totals[k]:,} {w}" for k, w in words.items() if totals.get(k)]
    span = f"{op.start:%-d %B %Y}" + ("" if op.start == op.end else f" to {op.end:%-d %B %Y}")
    return f"{op.name} ({span}): " + (", ".join(bits) if bits else "no results recorded yet") + "."


def operation_report(session: Session, op_id: int, planned: Mapping[tuple[str, date], int] | None = None,
                     bcu_names: Mapping[str, str] | None = None) -> OperationReport:  # fmt: skip
    """Totals, per day, per BCU and per tactic; with ``planned`` visits per (BCU, day) from the patrol plan
    it followed, the share of the planned visits recorded as made."""
    op = get_operation(session, op_id)
    ts = operation_tallies(session, op_id)
    totals = {c: sum(t.counts[c] for t in ts) for c in TALLIES}
    names = bcu_names or {}
    by_bcu = _sum_by(ts, "bcu")
    for r in by_bcu:
        r["label"] = names.get(r["bcu"], r["bcu"])
    notes = []
    delivery = []
    if planned:
        in_window = {k: v for k, v in planned.items() if op.start <= k[1] <= op.end}
        recorded: dict[str, int] = {}
        for t in ts:
            recorded[t.bcu] = recorded.get(t.bcu, 0) + t.counts["visits"]
        bcus = sorted({b for b, _ in in_window} | {b for b in recorded if b})
        for b in bcus:
            p = sum(v for (bb, _), v in in_window.items() if bb == b)
            rec = recorded.get(b, 0)
            delivery.append({"bcu": b, "label": names.get(b, b), "planned": p, "recorded": rec,
                             "delivered": rec / p if p else None})  # fmt: skip
        if not in_window:
            notes.append(f"plan {op.plan_id} has no visits in the operation's dates")
    elif op.plan_id is not None:
        notes.append(f"plan {op.plan_id} is not in the store: no planned visits to compare")
    if not ts:
        notes.append("no tallies recorded yet")
    return OperationReport(op, totals, _sum_by(ts, "day"), by_bcu, _sum_by(ts, "tactic"), delivery,
                           headline(op, totals), notes)  # fmt: skip
