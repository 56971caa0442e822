"""The Section 60 register: authorisations checked against the lawful limits, and the searches made under
them.

An authorisation's area is a polygon (WKT in lon/lat) or a named place with a radius. :func:`check` tests
it against the limits (configuration: ``config.section60_limits``, as ``plan.incident.Section60Limits``):
the authorising officer's rank, the first period, each extension's rank and the whole duration. A breach
is refused (nothing stored) or, when asked, stored *flagged* with its problems, each naming its field.

Searches are linked by what police.uk publishes: legislation "section 60", a time inside the authorised
window (extensions included), and a point inside the area; searches in the window without a location are
counted apart, since they cannot be placed.

Public functions (the impact evaluation reads the register through these): :func:`add_authorisation`,
:func:`extend_authorisation`, :func:`get_authorisation` (``session, auth_id``), :func:`list_authorisations`,
:func:`authorisation_geometry`, :func:`linked_searches`, :func:`authorisation_report`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from safestreets.accountability.searches import NOT_RECORDED, POSITIVE_SQL, SELF_GROUP_SQL
from safestreets.db import Database
from safestreets.db.accountability import S60Authorisation, audit_in, now
from safestreets.errors import NotFoundError, ParameterError
from safestreets.plan.incident import Section60Limits

#: Ranks, lowest first; Met titles sit beside their county equivalents.
RANKS: tuple[tuple[str, ...], ...] = (
    ("constable", "pc"), ("sergeant", "ps"), ("inspector", "insp"), ("chief inspector", "ci"),
    ("superintendent", "supt"), ("chief superintendent", "ch supt"), ("commander", "assistant chief constable", "acc"),
    ("deputy assistant commissioner", "deputy chief constable", "dcc"),
    ("assistant commissioner", "chief constable", "cc"), ("deputy commissioner",), ("commissioner",),
)  # fmt: skip


def rank_level(rank: str) -> int:
    key = " ".join(rank.strip().lower().replace(".", "").split())
    for level, names in enumerate(RANKS):
        if key in names:
            return level
    raise ParameterError(f"rank: unknown rank {rank!r} (e.g. inspector, chief inspector, superintendent)")


def rank_name(rank: str) -> str:
    return RANKS[rank_level(rank)][0]


@dataclass(frozen=True)
class Extension:
    until: datetime
    rank: str
    by: str


@dataclass(frozen=True)
class Authorisation:
    id: int | None
    reference: str
    place: str
    lon: float | None
    lat: float | None
    radius_m: float | None
    polygon_wkt: str | None
    starts_at: datetime
    ends_at: datetime  # before extensions
    authorised_by: str
    rank: str
    extensions: tuple[Extension, ...]
    grounds: str
    incident: str
    verdict: str = "lawful"
    problems: tuple[str, ...] = ()
    entered_by: str = ""
    entered_at: datetime | None = None

    @property
    def final_end(self) -> datetime:
        return max([self.ends_at, *[e.until for e in self.extensions]])

    @property
    def hours(self) -> float:
        return (self.final_end - self.starts_at).total_seconds() / 3600

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extensions"] = [
            {"until": e.until.isoformat(), "rank": e.rank, "by": e.by} for e in self.extensions
        ]
        for k in ("starts_at", "ends_at", "entered_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["final_end"], d["hours"], d["problems"] = (
            self.final_end.isoformat(),
            round(self.hours, 2),
            list(self.problems),
        )
        return d


def aware(value: datetime | str, field_name: str) -> datetime:
    """A date-time as typed (ISO 8601); without an offset it is taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ParameterError(
                f"{field_name}: {value!r} is not a date-time like 2024-05-01T18:00"
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check(a: Authorisation, limits: Section60Limits) -> list[str]:
    """Every breach of the limits and every gap in the record, each starting with the field it concerns."""
    problems: list[str] = []
    if a.polygon_wkt is None and (a.lon is None or a.lat is None or not a.radius_m or a.radius_m <= 0):
        problems.append("area: give a polygon, or a place with a position and a radius above 0 m")
    if not a.grounds.strip():
        problems.append("grounds: the stated grounds are required")
    if a.ends_at <= a.starts_at:
        problems.append(
            f"ends_at: {a.ends_at:%Y-%m-%d %H:%M} is not after starts_at {a.starts_at:%Y-%m-%d %H:%M}"
        )
    first = (a.ends_at - a.starts_at).total_seconds() / 3600
    if rank_level(a.rank) < rank_level(limits.authorising_rank):
        problems.append(
            f"rank: a {rank_name(a.rank)} may not authorise (needs {limits.authorising_rank} or above)"
        )
    if first > limits.initial_hours + 1e-9:
        problems.append(
            f"ends_at: {first:g} h authorised at first, more than the {limits.initial_hours:g} h allowed"
        )
    prev = a.ends_at
    for i, e in enumerate(a.extensions, start=1):
        if rank_level(e.rank) < rank_level(limits.extending_rank):
            problems.append(f"extensions[{i}].rank: a {rank_name(e.rank)} may not extend (needs "
                            f"{limits.extending_rank} or above)")  # fmt: skip
        if e.until <= prev:
            problems.append(
                f"extensions[{i}].until: {e.until:%Y-%m-%d %H:%M} does not extend the end {prev:%Y-%m-%d %H:%M}"
            )
        elif (e.until - prev).total_seconds() / 3600 > limits.extension_hours + 1e-9:
            problems.append(f"extensions[{i}].until: extends by {(e.until - prev).total_seconds() / 3600:g} h, more "
                            f"than {limits.extension_hours:g} h")  # fmt: skip
        prev = max(prev, e.until)
    if a.hours > limits.max_hours + 1e-9:
        problems.append(f"extensions: {a.hours:g} h in all, more than the {limits.max_hours:g} h allowed")
    return problems


def _as_auth(r: S60Authorisation) -> Authorisation:
    exts = tuple(Extension(aware(e["until"], "until"), e["rank"], e["by"]) for e in json.loads(r.extensions))
    return Authorisation(r.id, r.reference, r.place, r.lon, r.lat, r.radius_m, r.polygon_wkt, aware(r.starts_at, "starts_at"),
                         aware(r.ends_at, "ends_at"), r.authorised_by, r.rank, exts, r.grounds, r.incident, r.verdict,
                         tuple(json.loads(r.problems)), r.entered_by, r.entered_at)  # fmt: skip


def add_authorisation(db: Database, a: Authorisation, limits: Section60Limits, *, actor: str,
                      flag: bool = False) -> Authorisation:  # fmt: skip
    """Check and store. A breach raises ParameterError naming each field (nothing stored) unless ``flag``,
    which stores it marked *flagged* with its problems. Either way the audit trail has the attempt."""
    problems = check(a, limits)
    if problems and not flag:
        raise ParameterError("Section 60 authorisation refused: " + "; ".join(problems))
    verdict = "flagged" if problems else "lawful"
    with db.session() as s:
        row = S60Authorisation(
            reference=a.reference, place=a.place, lon=a.lon, lat=a.lat, radius_m=a.radius_m, polygon_wkt=a.polygon_wkt,
            # In UTC: SQLite keeps no offset, so a local time stored as it is would be read back hours out.
            starts_at=a.starts_at.astimezone(UTC), ends_at=a.ends_at.astimezone(UTC), authorised_by=a.authorised_by,
            rank=rank_name(a.rank),
            extensions=json.dumps([{"until": e.until.isoformat(), "rank": rank_name(e.rank), "by": e.by}
                                   for e in a.extensions]),
            grounds=a.grounds, incident=a.incident, verdict=verdict, problems=json.dumps(problems), entered_by=actor,
            entered_at=now(),
        )  # fmt: skip
        s.add(row)
        s.flush()
        out = _as_auth(row)
        audit_in(s, actor=actor, action="change", target=f"s60/{row.id}", params={"do": "add", **out.to_dict()},
                 outcome=verdict)  # fmt: skip
    return out


def extend_authorisation(db: Database, auth_id: int, ext: Extension, limits: Section60Limits, *, actor: str,
                         flag: bool = False) -> Authorisation:  # fmt: skip
    """Add an extension, checked as a whole against the limits (refused, or flagged when asked)."""
    with db.session() as s:
        row = s.get(S60Authorisation, auth_id)
        if row is None:
            raise NotFoundError(f"no Section 60 authorisation {auth_id}")
        cur = _as_auth(row)
        new = Authorisation(**{**asdict(cur), "extensions": (*cur.extensions, ext)})
        problems = check(new, limits)
        if problems and not flag:
            raise ParameterError("extension refused: " + "; ".join(problems))
        row.extensions = json.dumps([{"until": e.until.isoformat(), "rank": rank_name(e.rank), "by": e.by}
                                     for e in new.extensions])  # fmt: skip
        row.verdict, row.problems = ("flagged" if problems else "lawful"), json.dumps(problems)
        s.flush()
        out = _as_auth(row)
        audit_in(s, actor=actor, action="change", target=f"s60/{auth_id}",
                 params={"do": "extend", "until": ext.until.isoformat(), "rank": ext.rank, "by": ext.by},
                 outcome=out.verdict)  # fmt: skip
    return out


def get_authorisation(session: Session, auth_id: int) -> Authorisation:
    row = session.get(S60Authorisation, auth_id)
    if row is None:
        raise NotFoundError(f"no Section 60 authorisation {auth_id}: see 'safestreets s60 list'")
    return _as_auth(row)


def list_authorisations(session: Session, *, since: datetime | None = None,
                        until: datetime | None = None) -> list[Authorisation]:  # fmt: skip
    """Authorisations newest first; ``since``/``until``: only those whose window overlaps."""
    rows = [
        _as_auth(r)
        for r in session.execute(
            select(S60Authorisation).order_by(S60Authorisation.starts_at.desc())
        ).scalars()
    ]
    return [
        a for a in rows if (since is None or a.final_end >= since) and (until is None or a.starts_at <= until)
    ]


def authorisation_geometry(a: Authorisation, crs: str) -> Any:
    """The area as a shapely geometry in ``crs`` (metres): the polygon, or the circle around the place."""
    import numpy as np
    import shapely

    from safestreets.geo.project import lonlat_to_crs

    if a.polygon_wkt:
        g = shapely.from_wkt(a.polygon_wkt)

        def project(xy: Any) -> Any:
            x, y = lonlat_to_crs(xy[:, 0], xy[:, 1], crs)
            return np.column_stack([x, y])

        return shapely.transform(g, project)
    x, y = lonlat_to_crs(np.array([a.lon]), np.array([a.lat]), crs)
    return shapely.Point(float(x[0]), float(y[0])).buffer(float(a.radius_m or 0), quad_segs=32)


@dataclass
class AuthorisationResult:
    authorisation: Authorisation
    searches: int
    positive: int
    linked_finds: int
    arrests: int
    unlocated: int  # section 60 searches in the window with no location
    who: dict[str, dict[str, int]] = field(default_factory=dict)  # dimension -> value -> searches

    def to_dict(self) -> dict[str, Any]:
        return {**self.authorisation.to_dict(), "searches": self.searches, "positive": self.positive,
                "linked_finds": self.linked_finds, "arrests": self.arrests, "unlocated": self.unlocated,
                "who": self.who}  # fmt: skip


def linked_searches(con: Any, a: Authorisation) -> Any:
    """The stored Section 60 searches inside ``a``'s area and window, as an Arrow table."""
    import shapely

    from safestreets.store import get_setting

    geom = authorisation_geometry(a, get_setting(con, "crs"))
    xmin, ymin, xmax, ymax = geom.bounds
    con.complete()
    t = con.sql(
        "SELECT * FROM stop_searches WHERE legislation ILIKE '%section 60%' AND occurred_at >= ? AND occurred_at <= ? "
        "AND x BETWEEN ? AND ? AND y BETWEEN ? AND ?", params=[a.starts_at, a.final_end, xmin, xmax, ymin, ymax],
    ).to_arrow_table()  # fmt: skip
    if t.num_rows == 0:
        return t
    import pyarrow as pa

    inside = shapely.contains_xy(geom, t.column("x").to_numpy(), t.column("y").to_numpy())
    return t.filter(pa.array(inside))


def authorisation_report(con: Any, a: Authorisation) -> AuthorisationResult:
    """Searches, finds, arrests and who was searched under one authorisation."""
    if con is None or (a.lon is None and a.polygon_wkt is None):
        return AuthorisationResult(a, 0, 0, 0, 0, 0)
    t = linked_searches(con, a)
    con.register("_ss_s60", t)
    try:
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {POSITIVE_SQL}), count(*) FILTER (WHERE outcome_linked), "
            "count(*) FILTER (WHERE outcome = 'Arrest') FROM _ss_s60"
        ).fetchall()[0]  # fmt: skip
        who: dict[str, dict[str, int]] = {}
        for dim, expr in (("ethnicity", SELF_GROUP_SQL.format(c="self_defined_ethnicity")), ("age", "age_range"),
                          ("gender", "gender")):  # fmt: skip
            got = con.execute(
                f"SELECT coalesce({expr}, '{NOT_RECORDED}'), count(*) FROM _ss_s60 GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
            who[dim] = {str(k): int(n) for k, n in got}
    finally:
        con.unregister("_ss_s60")
    unlocated = con.execute(
        "SELECT count(*) FROM stop_searches WHERE legislation ILIKE '%section 60%' AND occurred_at >= ? AND occurred_at <= ? "
        "AND (x IS NULL OR y IS NULL)", [a.starts_at, a.final_end]
    ).fetchall()[0][0]  # fmt: skip
    return AuthorisationResult(a, int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(unlocated), who)


def near(authorisations: Sequence[Authorisation], lon: float, lat: float, when: datetime, *, crs: str = "EPSG:27700",
         within_m: float = 2000.0, recent_days: float = 7.0) -> list[dict[str, Any]]:  # fmt: skip
    """Authorisations active at ``when`` or ended within ``recent_days`` before it, whose area comes within
    ``within_m`` of the point: plain dicts the incident decision support prints."""
    import numpy as np
    import shapely

    from safestreets.geo.project import lonlat_to_crs

    px, py = lonlat_to_crs(np.array([lon]), np.array([lat]), crs)
    pt = shapely.Point(float(px[0]), float(py[0]))
    out = []
    for a in authorisations:
        if a.starts_at > when or a.final_end < when - timedelta(days=recent_days):
            continue
        geom = authorisation_geometry(a, crs)
        distance = float(shapely.distance(geom, pt))
        if distance <= within_m:
            out.append({"id": a.id, "reference": a.reference, "place": a.place, "starts_at": a.starts_at.isoformat(),
                        "final_end": a.final_end.isoformat(), "active": a.final_end >= when, "distance_m": round(distance),
                        "verdict": a.verdict})  # fmt: skip
    return out
