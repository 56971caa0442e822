"""The staff side: decryption needs the team key (and is audited), triage raises threats to life, grading
is 3x5x2, redaction and export, retention destroys keys and rows, counts never show contents."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import shapely
from nacl.public import PrivateKey
from sqlalchemy import select

from intel.intel_support import PASSPHRASE
from safestreets.api import Workspace
from safestreets.api import intel as api
from safestreets.db import audit
from safestreets.db.intel import IntelAttachment, IntelMessage, IntelReport, IntelReporter
from safestreets.errors import ParameterError
from safestreets.intel import codename, keys, records, triage
from safestreets.intel.places import Areas

TODAY = date(2026, 12, 7)


def submit(ws: Workspace, what: str, *, photos: tuple[bytes, ...] = (), point: list[float] | None = None,
           day: date = TODAY, name: str | None = None) -> tuple[str, str]:  # fmt: skip
    name = name or codename.new_codename()
    team = keys.load_public(ws.root / "intel" / "team.pub")
    rid = records.store_report(ws.db, team, codename.derive(name), {"what": what, "point": point}, list(photos),
                               danger_now=False, today=day)  # fmt: skip
    return rid, name


def test_decryption_is_impossible_without_the_team_key(ws: Workspace) -> None:
    rid, _ = submit(ws, "the blue door on Fenwick Lane")
    with ws.db.session() as s:
        row = s.get(IntelReport, rid)
        assert b"Fenwick" not in row.ciphertext and b"Fenwick" not in row.sealed_key
    with pytest.raises(ParameterError, match="wrong passphrase"):
        ws.intel_unlock("not the passphrase at all")
    with pytest.raises(ParameterError, match="not sealed to this key"):
        ws.intel_show(PrivateKey.generate(), rid, actor="mallory")
    entries = list(audit.entries(ws.db, limit=1))
    assert entries[0]["action"] == "decrypt" and entries[0]["outcome"] == "denied"
    # The reporter's own key (from the codename) opens replies only, never the report.
    shown = ws.intel_show(ws.intel_unlock(PASSPHRASE), rid, actor="analyst1")
    assert shown.opened.doc["what"] == "the blue door on Fenwick Lane"
    e = next(iter(audit.entries(ws.db, limit=1)))
    assert (e["actor"], e["action"], e["target"]) == ("analyst1", "decrypt", f"intel.report:{rid}")
    assert "Fenwick" not in json.dumps(list(audit.entries(ws.db)))
    assert audit.verify(ws.db).ok


def test_triage_raises_a_threat_to_life_and_coarsens_the_place(ws: Workspace, team_key) -> None:  # type: ignore[no-untyped-def]
    rid, _ = submit(ws, "He has a gun and says he will kill him tonight", point=[51.5154, -0.0921])
    calm, _ = submit(ws, "people selling weed by the swings")
    row = ws.intel_triage(team_key, rid, actor="a1")
    assert row["threat_to_life"] and row["urgency"] == "immediate" and row["category"] == "weapons"
    assert row["area_kind"] == "snap" and row["area_code"].endswith(":500")
    assert next(iter(audit.entries(ws.db, limit=1)))["action"] == "alert"
    row2 = ws.intel_triage(team_key, calm, category="drug_supply", area="E01000001", actor="a1")
    assert (row2["category"], row2["urgency"], row2["area_code"]) == ("drug_supply", "routine", "E01000001")
    assert next(r["id"] for r in ws.intel_reports(actor="a1")) == rid  # threats to life first
    with pytest.raises(ParameterError, match="category"):
        ws.intel_triage(team_key, calm, category="burglary", actor="a1")


def test_places_coarsen_to_the_lsoa_they_fall_in() -> None:
    crs = "EPSG:27700"
    square = shapely.box(532000, 181000, 533000, 182000)
    areas = Areas([("E01000099", shapely.to_wkb(square))], crs)
    assert areas.coarsen(-0.0921, 51.5154).code == "E01000099"
    far = areas.coarsen(-1.5, 53.8)
    assert far.kind == "snap" and far.code.startswith("snap:")


def test_grading_redaction_and_export(ws: Workspace, team_key, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rid, _ = submit(ws, "Kez from Arden Road deals from the chip shop; my brother saw it, text 07700 900123")
    with pytest.raises(ParameterError, match="conditions"):
        ws.intel_grade(rid, "2", "C", "C", actor="a1")
    with pytest.raises(ParameterError, match="intelligence assessment"):
        ws.intel_grade(rid, "2", "F", "P", actor="a1")
    with pytest.raises(ParameterError, match="not graded"):
        ws.intel_export(team_key, rid, tmp_path / "x.json", actor="a1")
    row = ws.intel_grade(rid, "2", "c", "c", "not to be shared outside the VRU", actor="a1")
    assert row["status"] == "graded" and row["handling_conditions"] == "not to be shared outside the VRU"
    with pytest.raises(ParameterError, match="redact"):
        ws.intel_export(team_key, rid, tmp_path / "x.json", actor="a1")
    shared = ws.intel_redact(team_key, rid, extra=["Kez"], actor="a1")
    assert (
        "Kez" not in shared and "07700" not in shared and "my brother" not in shared and "chip shop" in shared
    )
    doc = json.loads(ws.intel_export(team_key, rid, tmp_path / "x.json", actor="a1").read_text())
    assert doc["grading"]["code"] == "2CC" and doc["grading"]["handling"]["conditions"]
    assert doc["text"] == shared and "Kez" not in json.dumps(doc)
    assert next(iter(audit.entries(ws.db, limit=1)))["action"] == "export"


def test_retention_destroys_keys_and_rows(ws: Workspace, team_key) -> None:  # type: ignore[no-untyped-def]
    old, old_name = submit(ws, "an old report", photos=(b"jpeg bytes",), day=TODAY - timedelta(days=200))
    kept, _ = submit(ws, "an old report kept for a case", day=TODAY - timedelta(days=200))
    new, new_name = submit(ws, "a new report")
    ws.intel_reply(new, "a question", actor="a1")
    records.add_detail(ws.db, keys.load_public(ws.root / "intel" / "team.pub"), codename.derive(old_name), "more",
                       TODAY - timedelta(days=199))  # fmt: skip
    with pytest.raises(ParameterError, match="say why"):
        ws.intel_keep(kept, "case", actor="a1")
    ws.intel_keep(kept, "linked to operation Larch, court date in March", actor="a1")
    dry = ws.intel_purge(on=TODAY, dry_run=True, actor="a1")
    assert dry.reports == [old] and dry.kept == 1
    done = ws.intel_purge(on=TODAY, actor="a1")
    assert done.reports == [old] and done.reporters == 1
    with ws.db.session() as s:
        assert s.get(IntelReport, old) is None
        assert not s.execute(select(IntelAttachment).where(IntelAttachment.report_id == old)).all()
        assert not s.execute(select(IntelMessage).where(IntelMessage.report_id == old)).all()
        assert (
            s.execute(
                select(IntelReporter).where(IntelReporter.lookup == codename.derive(old_name).lookup)
            ).first()
            is None
        )
        assert s.get(IntelReport, kept) is not None
    # A reply expires after its days, and the reporter no longer sees it.
    assert records.replies_for(ws.db, codename.derive(new_name), TODAY).replies
    later = ws.intel_purge(on=TODAY + timedelta(days=records.REPLY_DAYS), actor="a1")
    assert later.replies == 1 and not later.reports
    assert records.replies_for(ws.db, codename.derive(new_name), TODAY).replies == []
    db_file = (ws.root / "safestreets.sqlite").read_bytes()
    assert b"an old report" not in db_file  # plaintext was never there; the ciphertext is gone too


def test_counts_never_show_contents_and_suppress_small_numbers(ws: Workspace, team_key) -> None:  # type: ignore[no-untyped-def]
    for n in range(4):
        rid, _ = submit(ws, f"report {n}")
        ws.intel_triage(team_key, rid, area="E01000001", actor="a1")
    rid, _ = submit(ws, "lonely report")
    ws.intel_triage(team_key, rid, area="E01000002", actor="a1")
    rows = {r["area_code"]: r for r in ws.intel_counts(actor="a1")}
    assert rows["E01000001"]["reports"] == 4 and rows["E01000002"]["reports"] is None
    assert rows["E01000002"]["suppressed"] and set(rows["E01000001"]) == {"area_code", "area_kind", "week",
                                                                        "reports", "suppressed"}  # fmt: skip


def test_suggest_and_redact_rules() -> None:
    assert triage.suggest("they are cuckooing a flat, county lines runners").category == "county_lines"
    assert not triage.suggest("someone keeps leaving litter").threat_to_life
    assert triage.suggest("nothing much", danger_now=True).urgency == "immediate"
    assert triage.redact("mail me at a.b@example.org or @kezz99") == "mail me at [email] or [handle]"
    assert api.MIN_COUNT == 3


def test_rotating_the_team_key_reseals_every_report(ws: Workspace, team_key) -> None:  # type: ignore[no-untyped-def]
    rid, name = submit(ws, "the old key sealed this")
    records.add_detail(ws.db, keys.load_public(ws.root / "intel" / "team.pub"), codename.derive(name), "and this",
                       TODAY)  # fmt: skip
    ws.intel_redact(team_key, rid, actor="a1")
    old_pub = (ws.root / "intel" / "team.pub").read_text()
    made, n = ws.intel_rotate(PASSPHRASE, "a brand new passphrase", strength="interactive", actor="a1")
    assert n == 1 and (ws.root / "intel" / "team.pub").read_text() != old_pub
    assert not list((ws.root / "intel").glob("*.new"))
    with pytest.raises(ParameterError, match="wrong passphrase"):
        ws.intel_unlock(PASSPHRASE)
    with pytest.raises(ParameterError, match="not sealed to this key"):
        ws.intel_show(team_key, rid, actor="a1")  # the old key opens nothing any more
    new_key = ws.intel_unlock("a brand new passphrase")
    shown = ws.intel_show(new_key, rid, actor="a1")
    assert shown.opened.doc["what"] == "the old key sealed this"
    assert [m["text"] for m in shown.opened.messages] == ["and this"] and shown.opened.redacted
    e = next(iter(audit.entries(ws.db, limit=3, offset=2)))
    assert e["target"] == "intel.rotate" and made.fingerprint in e["params"]


def test_a_failed_rotation_changes_nothing(ws: Workspace, team_key) -> None:  # type: ignore[no-untyped-def]
    submit(ws, "still sealed to the old key")
    before = (ws.root / "intel" / "team.pub").read_text()
    with pytest.raises(ParameterError, match="wrong passphrase"):
        ws.intel_rotate("not the passphrase", "a brand new passphrase", strength="interactive", actor="a1")
    assert (ws.root / "intel" / "team.pub").read_text() == before
    assert ws.intel_show(team_key, ws.intel_reports(actor="a1")[0]["id"], actor="a1").opened.doc
