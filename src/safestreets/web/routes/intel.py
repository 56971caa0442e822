"""Community intelligence (analysts only): the reports' metadata, decryption with the team passphrase
(typed per action, never kept), triage, grading, redaction, replies, keeping past retention, export, and
the counts per area and week. Every decryption and change is audited by the API; every form carries the
session's CSRF token."""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from safestreets.api import Workspace, intel
from safestreets.db import Database
from safestreets.db.sessions import Active
from safestreets.intel import triage
from safestreets.web.deps import Analyst, database, workspace
from safestreets.web.render import page

router = APIRouter()

ReportId = Annotated[str, Path(min_length=6, max_length=24, pattern=r"^[0-9a-f]+$")]
Passphrase = Annotated[str, Form(min_length=1, max_length=1000)]
Weeks = Annotated[int, Query(ge=1, le=104, description="weeks back from this one")]


class ReportMeta(BaseModel):
    """What the list shows of a report: routing, triage and grading facts, never its words."""

    id: str
    received_day: date
    expires_day: date
    danger_now: bool
    status: str
    category: str | None
    urgency: str | None
    threat_to_life: bool
    area_code: str | None
    area_kind: str | None
    week: date | None
    source_eval: str | None
    intel_assessment: str | None
    handling_code: str | None
    handling_conditions: str | None
    keep_reason: str | None


class AreaWeek(BaseModel):
    area_code: str
    area_kind: str | None
    week: date | None
    reports: int | None  # None: fewer than the suppression threshold
    suppressed: bool


def _team(request: Request, passphrase: str) -> intel.Team:
    return intel.Team(request.app.state.settings.workspace, passphrase)


@router.get("/api/intel/reports", tags=["intel"], summary="Community reports: metadata only, never contents")
def api_reports(active: Active = Analyst, db: Database = Depends(database)) -> list[ReportMeta]:
    return [ReportMeta(**r) for r in intel.list_reports(db, actor=active.account.username)]


@router.get(
    "/api/intel/counts", tags=["intel"], summary="Reports per area and week (small counts suppressed)"
)
def api_counts(active: Active = Analyst, db: Database = Depends(database)) -> list[AreaWeek]:
    return [AreaWeek(**r) for r in intel.counts(db, actor=active.account.username)]


@router.get("/api/intel/layer", tags=["intel"], summary="Map layer: reports per LSOA over recent weeks")
def api_layer(weeks: Weeks = 8, active: Active = Analyst, db: Database = Depends(database),
              ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    return intel.counts_geojson(db, ws.con, ws.crs, weeks=weeks, actor=active.account.username)


@router.get("/intel", response_class=HTMLResponse, include_in_schema=False)
def intel_page(request: Request, weeks: Weeks = 8, active: Active = Analyst, db: Database = Depends(database),
               ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    from safestreets.web.intel_map import choropleth

    o = intel.overview(db, ws.con, ws.crs, weeks=weeks, actor=active.account.username)
    return page(request, "intel.html.j2", reports=o.reports, counts=o.counts, weeks=weeks,
                svg=choropleth(o.layer) if o.layer else "", categories=triage.CATEGORIES)  # fmt: skip


def _report_page(request: Request, db: Database, rid: str, active: Active, shown: Any = None,
                 note: str | None = None) -> HTMLResponse:  # fmt: skip
    from safestreets.intel import records

    meta = records.get(db, rid)
    photos = [base64.b64encode(p).decode("ascii") for p in shown.opened.photos] if shown else []
    return page(request, "intel_report.html.j2", r=meta, shown=shown, photos=photos, note=note,
                categories=triage.CATEGORIES, urgencies=triage.URGENCIES, sources=triage.SOURCE_EVAL,
                assessments=triage.INTEL_ASSESSMENT, handling=triage.HANDLING)  # fmt: skip


@router.get("/intel/{rid}", response_class=HTMLResponse, include_in_schema=False)
def report_page(request: Request, rid: ReportId, active: Active = Analyst,
                db: Database = Depends(database)) -> HTMLResponse:  # fmt: skip
    return _report_page(request, db, rid, active)


@router.post("/intel/{rid}/open", response_class=HTMLResponse, include_in_schema=False)
def open_report(request: Request, rid: ReportId, passphrase: Passphrase, active: Active = Analyst,
                db: Database = Depends(database)) -> HTMLResponse:  # fmt: skip
    shown = intel.show(db, _team(request, passphrase), rid, actor=active.account.username)
    return _report_page(request, db, rid, active, shown)


@router.post("/intel/{rid}/triage", response_class=HTMLResponse, include_in_schema=False)
def triage_report(
    request: Request, rid: ReportId, passphrase: Passphrase,
    category: Annotated[str, Form(max_length=32)] = "", urgency: Annotated[str, Form(max_length=16)] = "",
    threat: Annotated[str, Form(max_length=8)] = "", area: Annotated[str, Form(max_length=32)] = "",
    active: Active = Analyst, db: Database = Depends(database), ws: Workspace = Depends(workspace),
) -> HTMLResponse:  # fmt: skip
    ttl = {"yes": True, "no": False}.get(threat)
    row = intel.triage_report(db, _team(request, passphrase), rid, areas=intel.lsoa_areas(ws.con, ws.crs),
                              category=category or None, urgency=urgency or None, threat_to_life=ttl,
                              area=area or None, actor=active.account.username)  # fmt: skip
    note = "Triaged." + (" THREAT TO LIFE: act now." if row["threat_to_life"] else "")
    return _report_page(request, db, rid, active, note=note)


@router.post("/intel/{rid}/grade", response_class=HTMLResponse, include_in_schema=False)
def grade_report(
    request: Request, rid: ReportId, source: Annotated[str, Form(max_length=1)],
    assessment: Annotated[str, Form(max_length=1)], handling: Annotated[str, Form(max_length=1)],
    conditions: Annotated[str, Form(max_length=2000)] = "", active: Active = Analyst,
    db: Database = Depends(database),
) -> HTMLResponse:  # fmt: skip
    row = intel.grade(
        db, rid, source, assessment, handling, conditions or None, actor=active.account.username
    )
    return _report_page(request, db, rid, active, note=f"Graded {row['source_eval']}{row['intel_assessment']}"
                        f"{row['handling_code']}.")  # fmt: skip


@router.post("/intel/{rid}/redact", response_class=HTMLResponse, include_in_schema=False)
def redact_report(request: Request, rid: ReportId, passphrase: Passphrase,
                  terms: Annotated[str, Form(max_length=4000)] = "", active: Active = Analyst,
                  db: Database = Depends(database)) -> HTMLResponse:  # fmt: skip
    extra = [t.strip() for t in terms.replace("\n", ",").split(",") if t.strip()]
    shared = intel.redact(db, request.app.state.settings.workspace, _team(request, passphrase), rid, extra=extra,
                          actor=active.account.username)  # fmt: skip
    return _report_page(request, db, rid, active, note=f"Redacted text stored: {shared}")


@router.post("/intel/{rid}/reply", response_class=HTMLResponse, include_in_schema=False)
def reply_report(request: Request, rid: ReportId, text: Annotated[str, Form(min_length=1, max_length=4000)],
                 active: Active = Analyst, db: Database = Depends(database)) -> HTMLResponse:  # fmt: skip
    intel.reply(db, rid, text, actor=active.account.username)
    return _report_page(request, db, rid, active, note="Reply sealed to the reporter.")


@router.post("/intel/{rid}/keep", response_class=HTMLResponse, include_in_schema=False)
def keep_report(request: Request, rid: ReportId, reason: Annotated[str, Form(max_length=2000)] = "",
                active: Active = Analyst, db: Database = Depends(database)) -> HTMLResponse:  # fmt: skip
    row = intel.keep(db, rid, reason or None, actor=active.account.username)
    return _report_page(request, db, rid, active, note="Kept: " + row["keep_reason"] if row["keep_reason"] else
                        "Released to normal retention.")  # fmt: skip


@router.post("/intel/{rid}/export", include_in_schema=False)
def export_report(request: Request, rid: ReportId, passphrase: Passphrase, active: Active = Analyst,
                  db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> Response:  # fmt: skip
    path = intel.export(db, _team(request, passphrase), rid, ws.root / "outputs" / "intel" / f"{rid}.json",
                        actor=active.account.username)  # fmt: skip
    return Response(path.read_bytes(), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="intel-{rid}.json"'})  # fmt: skip
