"""Hotlists and alerts, access and retention, on SQLite and PostgreSQL: alerts fire for hotlisted plates and
not others, expired entries do not fire, a query past the reach needs an authorisation (and every query is
logged), retention purges exactly what is due, reveals are audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from anpr.conftest import NOW, when, write_reads
from safestreets.anpr import hotlist
from safestreets.api import Workspace
from safestreets.db import audit
from safestreets.errors import AccessRefused, ParameterError

REASON, SOURCE = "stolen vehicle, crime ref 01/2345/26", "PNC"


def _audit(ws: Workspace, target_prefix: str) -> list[dict]:
    return [e for e in audit.entries(ws.db) if e["target"].startswith(target_prefix)]


def test_alerts_fire_for_hotlisted_plates_only_and_not_for_expired_entries(ows: Workspace, tmp_path: Path) -> None:
    a = ows.anpr
    hot = a.hotlist_add("AB12 CDE", reason=REASON, source=SOURCE, expires_at=NOW + timedelta(days=7), actor="ana")
    # An entry added a week ago that lapsed yesterday.
    gone = hotlist.add(ows.db, a.key, "XY12XYZ", reason=REASON, source=SOURCE, expires_at=NOW - timedelta(days=1),
                       actor="ana", now=NOW - timedelta(days=7))  # fmt: skip
    ended = a.hotlist_add("K123ABC", reason=REASON, source=SOURCE, expires_at=NOW + timedelta(days=7), actor="ana")
    a.hotlist_remove(ended.id, actor="ana")
    reads = write_reads(tmp_path / "r.parquet", [
        ("ab12cde", when(3), "C1", "N", 0.9), ("AB12CDE", when(2), "C2", "S", 0.9),
        ("XY12XYZ", when(2), "C1", "N", 0.9), ("K123ABC", when(2), "C3", "E", 0.9), ("ZZ99ZZZ", when(1), "C1", "N", 0.9),
    ])  # fmt: skip
    arrival = a.load(reads, actor="watch")
    assert arrival.matched.alerts == 2
    assert arrival.matched.latency_seconds is not None and arrival.matched.latency_seconds >= 0
    got = a.alerts(actor="ana")
    assert {x["hotlist_id"] for x in got} == {hot.id} and {x["camera_id"] for x in got} == {"C1", "C2"}
    assert all(x["raised_at"] >= x["arrived_at"] and x["latency_ms"] >= 0 for x in got)
    assert gone.id not in {x["hotlist_id"] for x in got}
    # Matching history again finds the same reads: no alert twice.
    m = a.match_history(actor="ana", purpose="check the hotlist against recent reads")
    assert m.alerts == 0 and m.reads == 2
    a.acknowledge(got[0]["id"], actor="ana")
    assert len(a.alerts(actor="ana", open_only=True)) == 1
    assert _audit(ows, "anpr.alerts.acknowledge")


def test_history_matching_raises_alerts_for_an_entry_added_later(ows: Workspace, tmp_path: Path) -> None:
    a = ows.anpr
    a.load(write_reads(tmp_path / "r.csv", [("AB12CDE", when(600), "C1", "N", 0.9)]), actor="t")
    assert a.alerts(actor="ana") == []
    a.hotlist_add("AB12CDE", reason=REASON, source=SOURCE, expires_at=NOW + timedelta(days=1), actor="ana")
    m = a.match_history(actor="ana", purpose="new entry: was it seen lately?")
    assert m.alerts == 1 and a.alerts(actor="ana")[0]["kind"] == "history"


@pytest.mark.parametrize(("reason", "source", "expires", "message"), [
    (None, SOURCE, 1, "needs a reason"), ("short", SOURCE, 1, "needs a reason"), (REASON, "", 1, "needs a source"),
    (REASON, SOURCE, None, "needs an expiry"), (REASON, SOURCE, -1, "has passed"),
])  # fmt: skip
def test_a_hotlist_entry_without_reason_source_or_expiry_is_refused(
    ws: Workspace, reason: str | None, source: str, expires: int | None, message: str
) -> None:
    at = None if expires is None else NOW + timedelta(days=expires)
    with pytest.raises(ParameterError, match=message):
        ws.anpr.hotlist_add("AB12CDE", reason=reason, source=source, expires_at=at, actor="ana")
    with pytest.raises(ParameterError, match="plate"):
        ws.anpr.hotlist_add("AB-12", reason=REASON, source=SOURCE, expires_at=NOW + timedelta(days=1), actor="ana")
    assert ws.anpr.hotlist(actor="ana") == []


def test_the_hotlist_holds_no_clear_plate_and_a_reveal_is_audited(ows: Workspace) -> None:
    import sqlalchemy as sa

    e = ows.anpr.hotlist_add("AB12 CDE", reason=REASON, source=SOURCE, expires_at=NOW + timedelta(days=1), actor="ana")
    with ows.db.engine.connect() as c:
        row = c.execute(sa.text("SELECT * FROM anpr_hotlist")).mappings().one()
    assert "AB12CDE" not in json.dumps({k: str(v) for k, v in row.items()})
    with pytest.raises(AccessRefused, match="needs a reason"):
        ows.anpr.reveal(actor="boss", reason="", entry=e.id)
    assert ows.anpr.reveal(actor="boss", reason="confirm the plate for a stop", entry=e.id) == "AB12CDE"
    reveals = _audit(ows, "anpr.reveal")
    assert [r["outcome"] for r in reveals] == ["ok", "denied"]
    assert "confirm the plate" in reveals[0]["params"] and "AB12CDE" not in json.dumps(list(audit.entries(ows.db)))
    assert ows.anpr.is_vehicle("ab12 cde", e.vehicle, actor="ana", purpose="stop check") is True
    assert ows.anpr.is_vehicle("AB12CDF", e.vehicle, actor="ana", purpose="stop check") is False


def test_a_query_past_the_reach_is_refused_without_an_authorisation_and_logged_with_one(
    ows: Workspace, tmp_path: Path
) -> None:
    a = ows.anpr
    a.load(write_reads(tmp_path / "r.csv", [("AB12CDE", NOW - timedelta(days=200), "C1", "N", 0.9),
                                            ("AB12CDE", when(5), "C2", "S", 0.9)]), actor="t")  # fmt: skip
    recent = a.vehicle_reads("AB12 CDE", actor="ana", purpose="robbery enquiry 4411")
    assert recent.num_rows == 1
    with pytest.raises(AccessRefused, match="purpose"):
        a.vehicle_reads("AB12CDE", actor="ana", purpose="")
    with pytest.raises(AccessRefused, match="90-day reach"):
        a.vehicle_reads("AB12CDE", actor="ana", purpose="robbery enquiry 4411", since=NOW - timedelta(days=250))
    grant = a.authorise("ana", reason="serious violence investigation op X", reach_from=NOW - timedelta(days=300),
                        expires_at=NOW + timedelta(days=7), actor="boss")  # fmt: skip
    assert a.vehicle_reads("AB12CDE", actor="ana", purpose="robbery enquiry 4411",
                           since=NOW - timedelta(days=250)).num_rows == 2  # fmt: skip
    with pytest.raises(AccessRefused):  # one account's authorisation is not another's
        a.vehicle_reads("AB12CDE", actor="bob", purpose="robbery enquiry 4411", since=NOW - timedelta(days=250))
    queries = [e for e in audit.entries(ows.db) if e["action"] == "query"]
    assert [q["outcome"] for q in queries] == ["denied", "ok", "denied", "denied", "ok"]
    assert json.loads(queries[1]["params"])["authorisation"] == grant.id
    assert all("robbery enquiry" in q["params"] or q["outcome"] == "denied" for q in queries)
    with pytest.raises(ParameterError, match="reason"):
        a.authorise("ana", reason="", reach_from=NOW - timedelta(days=100), expires_at=NOW + timedelta(days=1),
                    actor="boss")  # fmt: skip


def test_retention_purges_exactly_what_is_due(ows: Workspace, tmp_path: Path) -> None:
    a = ows.anpr
    ages = [10, 100, 364, 366, 368]  # days; retention is 365 at the purge's clock
    rows = [("AB12CDE", NOW - timedelta(days=d), "C1", "N", 0.9) for d in ages]
    rows.append(("OLD1", NOW - timedelta(days=369), "C2", "S", 0.9))  # a vehicle seen only before the cut-off
    # Loaded five days ago, when none of them was past retention.
    a.load(write_reads(tmp_path / "r.csv", rows), actor="t", now=NOW - timedelta(days=5))
    assert ows.con.execute("SELECT count(*) FROM anpr_reads").fetchall()[0][0] == 6
    dry = a.purge(actor="admin", dry_run=True, now=NOW)
    assert (dry.reads, dry.plates) == (3, 1)
    assert ows.con.execute("SELECT count(*) FROM anpr_reads").fetchall()[0][0] == 6  # a dry run deletes nothing
    done = a.purge(actor="admin", now=NOW)
    assert (done.reads, done.plates) == (3, 1)
    left = sorted(r[0] for r in ows.con.execute(
        "SELECT CAST(round(epoch(?::TIMESTAMPTZ - read_at) / 86400) AS INTEGER) FROM anpr_reads", [NOW]).fetchall())  # fmt: skip
    assert left == [10, 100, 364]
    assert ows.con.execute("SELECT count(*) FROM anpr_plates").fetchall()[0][0] == 1
    assert a.purge(actor="admin", now=NOW).reads == 0  # nothing left due
    # The purged file loaded again adds nothing back.
    assert a.load(tmp_path / "r.csv", actor="t", now=NOW - timedelta(days=5)).load.skipped_as is not None
    assert [e["action"] for e in _audit(ows, "anpr.retention")] == ["purge", "purge", "view"]


def test_settings_come_from_the_workspace_file(ws: Workspace) -> None:
    (ws.root / "safestreets.toml").write_text("[anpr]\nretention_days = 30\nreach_days = 7\n", "utf-8")
    assert ws.anpr.settings["retention_days"] == 30 and ws.anpr.settings["reach_days"] == 7
    (ws.root / "safestreets.toml").write_text("[anpr]\nreach_days = 70\nretention_days = 30\n", "utf-8")
    from safestreets.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="reach_days is longer"):
        ws.anpr.settings  # noqa: B018


def test_a_hotlist_file_is_added_whole_or_not_at_all(ws: Workspace, tmp_path: Path) -> None:
    from safestreets.errors import InputError

    day = (NOW + timedelta(days=5)).date().isoformat()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"plate,reason,source,expires\nAB12CDE,\"{REASON}\",PNC,{day}\nXY12XYZ,,PNC,{day}\n", "utf-8")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column 'reason': a hotlist entry needs a reason"):
        ws.anpr.hotlist_import(bad, actor="ana")
    assert ws.anpr.hotlist(actor="ana") == []
    good = tmp_path / "good.csv"
    good.write_text(f"plate,reason,source,expires\nAB12 CDE,\"{REASON}\",PNC,{day}\nxy12xyz,\"{REASON}\",local 7,{day}T12:00\n",
                    "utf-8")  # fmt: skip
    made = ws.anpr.hotlist_import(good, actor="ana")
    assert [e.vehicle for e in made] == [ws.anpr.vehicle_of("AB12CDE"), ws.anpr.vehicle_of("XY12XYZ")]
    assert made[0].expires_at.hour == 23 and made[1].expires_at.hour == 12


def test_a_reveal_by_pseudonym_opens_the_stored_plate_until_it_is_purged(ws: Workspace, tmp_path: Path) -> None:
    from safestreets.errors import NotFoundError

    ws.anpr.load(write_reads(tmp_path / "r.csv", [("ab12 cde", NOW - timedelta(days=300), "C1", "N", 0.9)]), actor="t")
    vehicle = ws.anpr.vehicle_of("AB12CDE")
    assert ws.anpr.reveal(actor="boss", reason="identify for the file 1234", vehicle=vehicle) == "AB12CDE"
    ws.anpr.purge(actor="admin", now=NOW + timedelta(days=70))
    with pytest.raises(NotFoundError, match="purged, or never read"):
        ws.anpr.reveal(actor="boss", reason="identify for the file 1234", vehicle=vehicle)


def test_alert_times_survive_summer_time(ows: Workspace) -> None:
    """A read taken in British Summer Time (the store hands it over in the workspace's zone) is stored and
    shown as the same instant, on SQLite as on PostgreSQL."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    from safestreets.anpr import alerts

    e = ows.anpr.hotlist_add("AB12CDE", reason=REASON, source=SOURCE, expires_at=NOW + timedelta(days=1), actor="ana")
    summer = datetime(2026, 7, 1, 18, 30, tzinfo=ZoneInfo("Europe/London"))
    reads = pa.table({"vehicle": [e.vehicle], "read_at": pa.array([summer], pa.timestamp("us", tz="Europe/London")),
                      "camera_id": ["C1"]})  # fmt: skip
    assert alerts.match(ows.db, reads, arrived_at=NOW).alerts == 1
    got = ows.anpr.alerts(actor="ana")[0]["read_at"]
    assert got == summer and got.astimezone(UTC).hour == 17
    assert alerts.match(ows.db, reads, arrived_at=NOW).alerts == 0  # the same read again: one alert
