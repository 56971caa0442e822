"""Community intelligence, staff side: one function per job over the workspace's operational database.

Every decryption, change, reply, export and purge is written to the audit trail, with the report id and
never its contents. The team private key is unlocked with its passphrase by :func:`unlock` and passed in;
it is never stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey

from safestreets.db import Database, audit
from safestreets.errors import NotFoundError, ParameterError
from safestreets.intel import keys, records, sealing, triage
from safestreets.intel.places import Areas

KEY_ENV = "SAFESTREETS_INTEL_KEY"


def key_paths(root: Path) -> tuple[Path, Path]:
    """The team key file (``SAFESTREETS_INTEL_KEY`` or ``<workspace>/intel/team.key``) and its public file."""
    private = Path(os.environ.get(KEY_ENV) or root / "intel" / "team.key")
    return private, private.with_suffix(".pub")


def today() -> date:
    return datetime.now(UTC).date()


def keygen(
    db: Database, root: Path, passphrase: str, *, strength: str = "moderate", actor: str
) -> keys.KeyFiles:
    private, public = key_paths(root)
    made = keys.keygen(private, public, passphrase, strength=strength)
    audit.record(
        db, actor=actor, action="change", target="intel.keygen", params={"fingerprint": made.fingerprint}
    )
    return made


def rotate(db: Database, root: Path, old_passphrase: str, new_passphrase: str, *, strength: str = "moderate",
           actor: str) -> tuple[keys.KeyFiles, int]:  # fmt: skip
    """A new team key: every stored report re-sealed to it in one transaction, then the key files replaced.
    The intake must be given the new public key (and restarted) before it takes another report."""
    private, public = key_paths(root)
    made, n = keys.rotate(private, public, old_passphrase, new_passphrase, strength=strength,
                          reseal=lambda old, new: records.reseal(db, old, new))  # fmt: skip
    audit.record(db, actor=actor, action="change", target="intel.rotate",
                 params={"fingerprint": made.fingerprint, "reports": n})  # fmt: skip
    return made, n


def unlock(root: Path, passphrase: str) -> PrivateKey:
    return keys.unlock(key_paths(root)[0], passphrase)


@dataclass(frozen=True)
class Team:
    """The team key as a page holds it: the workspace and the passphrase typed into the form, unlocked
    only when a function needs to decrypt (a wrong passphrase is then audited as a denied decryption)."""

    root: Path
    passphrase: str

    def key(self) -> PrivateKey:
        return unlock(self.root, self.passphrase)


Key = PrivateKey | Team


def _private(key: Key) -> PrivateKey:
    return key.key() if isinstance(key, Team) else key


def list_reports(db: Database, *, status: str | None = None, actor: str) -> list[dict[str, Any]]:
    audit.record(db, actor=actor, action="view", target="intel.list", params={"status": status})
    return records.list_reports(db, status=status)


@dataclass
class Shown:
    opened: records.Opened
    suggestion: triage.Suggestion


def show(db: Database, key: Key, rid: str, *, actor: str) -> Shown:
    """Decrypt one report (written to the audit trail before anything is shown)."""
    try:
        opened = records.open_report(db, _private(key), rid)
    except (ParameterError, NotFoundError):
        audit.record(db, actor=actor, action="decrypt", target=f"intel.report:{rid}", outcome="denied")
        raise
    audit.record(db, actor=actor, action="decrypt", target=f"intel.report:{rid}",
                 params={"photos": len(opened.photos), "messages": len(opened.messages)})  # fmt: skip
    text = " ".join([opened.doc.get("what", ""), opened.doc.get("where", ""), opened.doc.get("when", "")]
                    + [m["text"] or "" for m in opened.messages])  # fmt: skip
    return Shown(opened, triage.suggest(text, danger_now=bool(opened.doc.get("danger_now"))))


def lsoa_areas(con: Any, crs: str) -> Areas:
    rows = con.execute(
        "SELECT code, geometry FROM areas WHERE kind LIKE 'lsoa%' AND geometry IS NOT NULL ORDER BY code"
    ).fetchall()
    return Areas([(c, bytes(g)) for c, g in rows], crs)


def triage_report(db: Database, key: Key, rid: str, *, areas: Areas | None, category: str | None = None,
                  urgency: str | None = None, threat_to_life: bool | None = None, area: str | None = None,
                  actor: str) -> dict[str, Any]:  # fmt: skip
    """Category, urgency and a coarse place; unset values come from the suggestion. A threat to life is
    raised at once: urgency immediate, and an ``alert`` entry in the audit trail."""
    triage.check_triage(category, urgency)
    shown = show(db, key, rid, actor=actor)
    s = shown.suggestion
    ttl = s.threat_to_life if threat_to_life is None else threat_to_life
    level = "immediate" if ttl else (urgency or s.urgency)
    place: tuple[str | None, str | None] = (area, "lsoa") if area else (None, None)
    point = shown.opened.doc.get("point")
    if not area and point and areas is not None:
        p = areas.coarsen(point[1], point[0])
        place = (p.code, p.kind)
    row = records.update_fields(db, rid, category=category or s.category, urgency=level, threat_to_life=ttl,
                                area_code=place[0], area_kind=place[1], status="triaged")  # fmt: skip
    audit.record(db, actor=actor, action="change", target=f"intel.report:{rid}",
                 params={"triage": {"category": row["category"], "urgency": level, "threat_to_life": ttl,
                                    "area": place[0]}})  # fmt: skip
    if ttl:
        audit.record(db, actor=actor, action="alert", target=f"intel.report:{rid}",
                     params={"threat_to_life": True})  # fmt: skip
    return row


def grade(db: Database, rid: str, source_eval: str, intel_assessment: str, handling_code: str,
          conditions: str | None = None, *, actor: str) -> dict[str, Any]:  # fmt: skip
    g = triage.parse_grade(source_eval, intel_assessment, handling_code, conditions)
    row = records.update_fields(db, rid, source_eval=g.source_eval, intel_assessment=g.intel_assessment,
                                handling_code=g.handling_code, handling_conditions=g.conditions, status="graded")  # fmt: skip
    audit.record(db, actor=actor, action="change", target=f"intel.report:{rid}", params={"grade": g.code})
    return row


def redact(db: Database, root: Path, key: Key, rid: str, *, extra: list[str] | None = None,
           text: str | None = None, actor: str) -> str:  # fmt: skip
    """The shareable text: the analyst's own (``text``) or the report's with identifying details replaced;
    stored sealed to the team key like the report itself."""
    if text is None:
        opened = show(db, key, rid, actor=actor).opened
        parts = [opened.doc.get("what", "")] + [m["text"] for m in opened.messages if m["text"]]
        text = triage.redact("\n\n".join(p for p in parts if p), extra)
    public = keys.load_public(key_paths(root)[1])
    records.update_fields(db, rid, redacted=sealing.seal_text(public, text))
    audit.record(db, actor=actor, action="change", target=f"intel.report:{rid}",
                 params={"redacted": True, "terms": len(extra or [])})  # fmt: skip
    return text


def reply(db: Database, rid: str, text: str, *, actor: str) -> None:
    if not text.strip():
        raise ParameterError("the reply is empty")
    records.reply(db, rid, text.strip(), today())
    audit.record(db, actor=actor, action="change", target=f"intel.report:{rid}", params={"reply": True})


def keep(db: Database, rid: str, reason: str | None, *, actor: str) -> dict[str, Any]:
    """Keep a report past its retention date (``reason`` written down), or release it (``None``)."""
    if reason is not None and len(reason.strip()) < 10:
        raise ParameterError("say why the report is kept (at least 10 characters): the reason is recorded")
    row = records.update_fields(db, rid, keep_reason=reason.strip() if reason else None)
    audit.record(db, actor=actor, action="change", target=f"intel.report:{rid}",
                 params={"keep": reason.strip() if reason else None})  # fmt: skip
    return row


def export(db: Database, key: Key, rid: str, out: Path, *, actor: str) -> Path:
    """A graded, redacted report as JSON for a force's intelligence system (never the original words)."""
    opened = show(db, key, rid, actor=actor).opened
    m = opened.meta
    if not m["source_eval"]:
        raise ParameterError(f"report {rid} is not graded yet: grade it first (3x5x2)")
    if opened.redacted is None:
        raise ParameterError(f"report {rid} has no redacted text yet: redact it first")
    doc = {
        "format": "safestreets-intel-export/1",
        "reference": rid,
        "received_week": m["week"].isoformat() if m["week"] else None,
        "category": m["category"], "category_label": triage.CATEGORIES.get(m["category"] or "", None),
        "urgency": m["urgency"], "threat_to_life": m["threat_to_life"],
        "area": {"code": m["area_code"], "kind": m["area_kind"]},
        "grading": {
            "system": "3x5x2",
            "code": f"{m['source_eval']}{m['intel_assessment']}{m['handling_code']}",
            "source_evaluation": {"code": m["source_eval"], "label": triage.SOURCE_EVAL[m["source_eval"]]},
            "intelligence_assessment": {"code": m["intel_assessment"],
                                        "label": triage.INTEL_ASSESSMENT[m["intel_assessment"]]},
            "handling": {"code": m["handling_code"], "label": triage.HANDLING[m["handling_code"]],
                         "conditions": m["handling_conditions"]},
        },
        "text": opened.redacted,
        "photos": len(opened.photos),
        "source": "anonymous community report (no identity held)",
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False), "utf-8")
    audit.record(db, actor=actor, action="export", target=f"intel.report:{rid}",
                 params={"grade": doc["grading"]["code"], "file": out.name})  # fmt: skip
    return out


def purge(db: Database, *, on: date | None = None, dry_run: bool = False, actor: str) -> records.Purged:
    done = records.purge(db, on or today(), dry_run=dry_run)
    audit.record(db, actor=actor, action="change" if not dry_run else "view", target="intel.purge",
                 params={"reports": done.reports, "replies": done.replies, "reporters": done.reporters,
                         "kept": done.kept, "dry_run": dry_run})  # fmt: skip
    return done


#: Counts below this are shown as suppressed: one or two reports in an LSOA-week could point to a reporter.
MIN_COUNT = 3


def counts(
    db: Database, *, since: date | None = None, min_count: int = MIN_COUNT, actor: str
) -> list[dict[str, Any]]:
    """Reports per area and week; counts under ``min_count`` are suppressed (``reports`` None)."""
    audit.record(db, actor=actor, action="view", target="intel.counts", params={"since": since})
    rows = records.counts(db, since=since)
    for r in rows:
        r["suppressed"] = r["reports"] < min_count
        if r["suppressed"]:
            r["reports"] = None
    rows.sort(key=lambda r: (r["week"], r["area_code"]))
    return rows


def brief_counts(root: Path) -> list[dict[str, Any]] | None:
    """Raw counts per area and week for the briefing's section, or None where the workspace's database has
    no intel reports (or cannot be opened: a briefing never fails for want of this section)."""
    from safestreets.db import DatabaseError, connect, database_url

    try:
        db = connect(database_url(root))
    except DatabaseError:
        return None
    try:
        return records.counts(db) or None
    except DatabaseError:
        return None
    finally:
        db.dispose()


def counts_geojson(db: Database, con: Any, crs: str, *, weeks: int = 8, min_count: int = MIN_COUNT,
                   every_area: bool = False, actor: str) -> dict[str, Any]:  # fmt: skip
    """A map layer: reports per LSOA over the last ``weeks`` weeks, suppressed under ``min_count``;
    ``every_area``: LSOAs without reports too (zero), as the ground of a choropleth."""
    from datetime import timedelta

    from safestreets.api import geojson

    since = records.monday(today()) - timedelta(weeks=weeks - 1)
    totals: dict[str, int] = {}
    for r in records.counts(db, since=since):
        if r["area_kind"] == "lsoa":
            totals[r["area_code"]] = totals.get(r["area_code"], 0) + r["reports"]
    audit.record(db, actor=actor, action="view", target="intel.layer", params={"weeks": weeks})
    if every_area:
        rows = dict(con.execute("SELECT code, geometry FROM areas WHERE kind LIKE 'lsoa%' AND geometry IS NOT NULL "
                                "ORDER BY code").fetchall())  # fmt: skip
    else:
        wanted = sorted(totals)
        rows = dict(con.execute("SELECT code, geometry FROM areas WHERE kind LIKE 'lsoa%' AND list_contains(?, code)",
                                [wanted]).fetchall()) if wanted else {}  # fmt: skip
    codes = sorted(rows)
    feats = []
    for c in codes:
        n = totals.get(c, 0)
        hidden = 0 < n < min_count
        feats.append({"id": c, "area": c, "reports": None if hidden else n, "suppressed": hidden})
    geoms = geojson.geometries(crs, [bytes(rows[c]) for c in codes])
    return geojson.collection(feats, geoms, {"layer": "intel_counts", "since": since.isoformat(), "weeks": weeks,
                                             "min_count": min_count, "unplaced": sum(n for c, n in totals.items()
                                                                                     if c not in rows)})  # fmt: skip


@dataclass
class Overview:
    reports: list[dict[str, Any]]
    counts: list[dict[str, Any]]
    layer: dict[str, Any] | None


def overview(db: Database, con: Any, crs: str | None, *, weeks: int = 8, actor: str) -> Overview:
    """What the dashboard's intel page shows: reports' metadata, counts per area and week, and the map layer
    over every LSOA (None where the store has no LSOAs or cannot be read)."""
    layer = (
        counts_geojson(db, con, crs, weeks=weeks, every_area=True, actor=actor)
        if con is not None and crs
        else None
    )
    if layer is not None and not layer["features"]:
        layer = None
    return Overview(list_reports(db, actor=actor), counts(db, actor=actor), layer)


def pick_map(con: Any, crs: str, out: Path, *, kind: str | None = None) -> Any:
    """The outline map reporters can pick a place on (no script): boroughs if loaded, else BCUs, else
    LSOAs, drawn from the store; an SVG and its JSON sidecar for ``intake serve --pick-map``."""
    from shapely.geometry import shape

    from safestreets.api import geojson
    from safestreets.errors import NoDataError
    from safestreets.intel import pickmap

    kinds = [
        r[0] for r in con.execute("SELECT DISTINCT kind FROM areas WHERE geometry IS NOT NULL").fetchall()
    ]
    chosen = kind or next((k for k in ("borough", "bcu", "lsoa21", "lsoa11", "lsoa") if k in kinds), None)
    if chosen is None or chosen not in kinds:
        raise NoDataError(f"no {kind or 'borough, BCU or LSOA'} boundaries in the store: load areas first")
    rows = con.execute("SELECT coalesce(name, code), geometry FROM areas WHERE kind = ? AND geometry IS NOT NULL "
                       "ORDER BY code", [chosen]).fetchall()  # fmt: skip
    geoms = [g for g in geojson.geometries(crs, [bytes(r[1]) for r in rows]) if g]
    labels = []
    if len(rows) <= 40:  # names only where they can be read
        for (name, _), g in zip(rows, geoms, strict=True):
            p = shape(g).representative_point()
            labels.append((p.x, p.y, str(name)))
    return pickmap.draw(geoms, labels, out)
