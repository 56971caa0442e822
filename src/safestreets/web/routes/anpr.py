"""ANPR (analysts; reveals: admins): alerts that refresh by polling, the hotlist, posted batches of reads,
one vehicle's reads within the reach, and the audited reveal of a plate. Plates are shown only by a reveal;
everything else speaks of pseudonyms. The API writes every view, change, query and reveal to the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from safestreets.api import Workspace
from safestreets.api.anpr import Anpr
from safestreets.db import Database
from safestreets.db.sessions import Active
from safestreets.errors import ParameterError
from safestreets.web.deps import Admin, Analyst, database, workspace
from safestreets.web.render import page

router = APIRouter()

Vehicle = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
Text = Annotated[str, Form(max_length=2000)]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_BODY = 20 << 20  # a batch of reads: 100,000 rows fit well within


def _anpr(ws: Workspace, db: Database) -> Anpr:
    return Anpr(ws, db)


def instant(text: str, field: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or time (UTC unless it says otherwise); a bare date is its start, or with ``end_of_day``
    its last second (an expiry date covers the whole day)."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"{field}: {text!r} is not a date (YYYY-MM-DD) or time") from None
    if len(text) <= 10 and end_of_day:
        t = datetime.combine(t.date(), time(23, 59, 59))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _alert_json(a: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in a.items()}


@router.get("/api/anpr/alerts", tags=["anpr"], summary="Hotlist alerts, newest first (after: only newer ids)")
def api_alerts(after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0, open_only: bool = False, active: Active = Analyst,
               db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> list[dict[str, Any]]:  # fmt: skip
    return [_alert_json(a) for a in _anpr(ws, db).alerts(actor=active.account.username, after_id=after,
                                                          open_only=open_only)]  # fmt: skip


@router.post("/api/anpr/alerts/{alert_id}/ack", tags=["anpr"], summary="Acknowledge an alert")
def api_ack(alert_id: AlertId, active: Active = Analyst, db: Database = Depends(database),
            ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    _anpr(ws, db).acknowledge(alert_id, actor=active.account.username)
    return {"acknowledged": alert_id}


@router.get("/api/anpr/hotlist", tags=["anpr"], summary="Hotlist entries: pseudonyms, reasons, expiries (no plates)")
def api_hotlist(current: bool = False, active: Active = Analyst, db: Database = Depends(database),
                ws: Workspace = Depends(workspace)) -> list[dict[str, Any]]:  # fmt: skip
    return [_alert_json(e.__dict__) for e in _anpr(ws, db).hotlist(actor=active.account.username, current_only=current)]


@router.post("/api/anpr/reads", tags=["anpr"], summary="A batch of reads (JSON or CSV): matched at once, staged for the store")
async def api_reads(request: Request, active: Active = Analyst, db: Database = Depends(database),
                    ws: Workspace = Depends(workspace)) -> dict[str, Any]:  # fmt: skip
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ParameterError(f"a batch is at most {MAX_BODY >> 20} MB")
    return _anpr(ws, db).receive(body, request.headers.get("content-type", ""), actor=active.account.username)


@router.get("/api/anpr/vehicles/{vehicle}/reads", tags=["anpr"], summary="One vehicle's reads (purpose required)")
def api_vehicle_reads(vehicle: Vehicle, purpose: Annotated[str, Query(max_length=500)] = "",
                      since: Annotated[str | None, Query(max_length=40)] = None, active: Active = Analyst,
                      db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> list[dict[str, Any]]:  # fmt: skip
    start = instant(since, "since") if since else None
    t = _anpr(ws, db).vehicle_reads(vehicle, actor=active.account.username, purpose=purpose, since=start)
    return [_alert_json(r) for r in t.to_pylist()]


@router.get("/anpr", response_class=HTMLResponse, include_in_schema=False)
def anpr_page(request: Request, active: Active = Analyst, db: Database = Depends(database),
              ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    a = _anpr(ws, db)
    who = active.account.username
    return page(request, "anpr.html.j2", alerts=a.alerts(actor=who, limit=50), entries=a.hotlist(actor=who),
                settings=a.settings, admin=active.account.can("admin"), revealed=None)  # fmt: skip


@router.post("/anpr/hotlist", include_in_schema=False)
def add_entry(plate: Annotated[str, Form(max_length=20)], reason: Text = "", source: Text = "",
              expires: Annotated[str, Form(max_length=40)] = "", active: Active = Analyst,
              db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> RedirectResponse:  # fmt: skip
    if not expires:
        raise ParameterError("a hotlist entry needs an expiry")
    _anpr(ws, db).hotlist_add(plate, reason=reason, source=source, expires_at=instant(expires, "expires", end_of_day=True),
                              actor=active.account.username)  # fmt: skip
    return RedirectResponse("/anpr", status_code=303)


@router.post("/anpr/alerts/{alert_id}/ack", include_in_schema=False)
def ack(alert_id: AlertId, active: Active = Analyst, db: Database = Depends(database),
        ws: Workspace = Depends(workspace)) -> RedirectResponse:  # fmt: skip
    _anpr(ws, db).acknowledge(alert_id, actor=active.account.username)
    return RedirectResponse("/anpr", status_code=303)


@router.post("/anpr/reveal", response_class=HTMLResponse, include_in_schema=False)
def reveal(request: Request, reason: Text = "", vehicle: Annotated[str, Form(max_length=32)] = "",
           entry: Annotated[str, Form(max_length=9)] = "", active: Active = Admin,
           db: Database = Depends(database), ws: Workspace = Depends(workspace)) -> HTMLResponse:  # fmt: skip
    a = _anpr(ws, db)
    if entry and not entry.isdigit():
        raise ParameterError("entry: a hotlist entry number")
    plate = a.reveal(actor=active.account.username, reason=reason, vehicle=vehicle or None,
                     entry=int(entry) if entry else None)  # fmt: skip
    who = active.account.username
    return page(request, "anpr.html.j2", alerts=a.alerts(actor=who, limit=50), entries=a.hotlist(actor=who),
                settings=a.settings, admin=True, revealed={"plate": plate, "vehicle": vehicle, "entry": entry})  # fmt: skip
