"""Reads and cameras in: loads reconcile, bad rows are named and set aside (or the file refused), a re-run
adds nothing, and no clear plate reaches the store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from anpr.conftest import NOW, when, write_reads
from safestreets.api import Workspace
from safestreets.errors import InputError, NoDataError
from safestreets.store.anpr import DUPLICATE

GOOD = ("AB12 CDE", "ab12cde", "K123 ABC", "ABC 123D", "1234 AB", "ZX9")  # current, same, prefix, suffix, dateless, other


def _reconcile(ws: Workspace, batch: int) -> dict[str, int]:
    loaded = ws.con.execute("SELECT count(*) FROM anpr_reads WHERE batch_id = ?", [batch]).fetchall()[0][0]
    rejected = ws.con.execute("SELECT count(DISTINCT row_number) FROM rejects WHERE batch_id = ?", [batch]).fetchall()[0][0]
    read, = ws.con.execute("SELECT rows_read FROM batches WHERE batch_id = ?", [batch]).fetchall()[0]
    assert read == loaded + rejected
    return {"loaded": loaded, "rejected": rejected}


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_load_reconciles_by_reason_and_a_rerun_adds_nothing(ws: Workspace, tmp_path: Path, suffix: str) -> None:
    rows = [(p, when(60 - i), "C1", "N", 0.9) for i, p in enumerate(GOOD)]
    rows += [
        ("AB-12", when(30), "C1", "N", 0.9),  # a hyphen: not a plate
        ("ABCDEFGHJ", when(29), "C1", "N", 0.9),  # nine characters
        ("XY12XYZ", when(28), "C9", "N", 0.9),  # no such camera
        ("XY12XYZ", NOW + timedelta(days=1), "C1", "N", 0.9),  # in the future
        ("XY12XYZ", when(27), "C2", "S", 1.7),  # confidence outside 0-1
        ("AB12CDE", when(60) + timedelta(milliseconds=400), "C1", "N", 0.8),  # a duplicate of the first read
        ("XY12XYZ", NOW - timedelta(days=400), "C2", "S", 0.5),  # past retention
    ]
    path = write_reads(tmp_path / f"reads{suffix}", rows)
    with pytest.raises(InputError, match=r"row 7 \(line 8\), column 'plate': a plate holds only letters"):
        ws.anpr.load(path, actor="t")
    assert ws.con.execute("SELECT count(*) FROM anpr_reads").fetchall()[0][0] == 0  # nothing half loaded
    r = ws.anpr.load(path, actor="t", skip_bad_rows=True).load
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (13, 6, 7)
    assert sum(r.rejected_by_reason.values()) == r.rows_rejected
    assert r.rejected_by_reason[DUPLICATE] == 1
    assert any("no such camera" in k for k in r.rejected_by_reason)
    assert any("in the future" in k for k in r.rejected_by_reason)
    assert any("retention" in k for k in r.rejected_by_reason)
    assert _reconcile(ws, r.batch_id) == {"loaded": 6, "rejected": 7}
    assert r.new_vehicles == 5  # AB12 CDE and ab12cde are one vehicle
    again = ws.anpr.load(path, actor="t", skip_bad_rows=True).load
    assert again.skipped_as == r.batch_id and again.batch_id is None
    assert ws.con.execute("SELECT count(*) FROM anpr_reads").fetchall()[0][0] == 6


def test_no_clear_plate_is_stored(ws: Workspace, tmp_path: Path) -> None:
    path = write_reads(tmp_path / "r.csv", [("AB12 CDE", when(5), "C1", "N", 0.9), ("AB1", when(4), "C1", "N", 0.9)])
    ws.anpr.load(path, actor="t", skip_bad_rows=True)
    ws.close()
    raw = (ws.paths.db_path).read_bytes()
    assert b"AB12CDE" not in raw and b"AB12 CDE" not in raw
    con = duckdb.connect(str(ws.paths.db_path), read_only=True)
    try:
        text = " ".join(str(r) for t in ("anpr_reads", "anpr_plates", "rejects", "batches")
                        for r in con.execute(f"SELECT * FROM {t}").fetchall())  # fmt: skip
    finally:
        con.close()
    assert "AB12CDE" not in text and "AB1'" not in text


def test_duplicates_of_stored_reads_are_set_aside(ws: Workspace, tmp_path: Path) -> None:
    first = write_reads(tmp_path / "a.csv", [("AB12CDE", when(5), "C1", "N", 0.9)])
    ws.anpr.load(first, actor="t")
    second = write_reads(tmp_path / "b.parquet", [("AB12CDE", when(5) + timedelta(milliseconds=300), "C1", "N", 0.9),
                                                  ("AB12CDE", when(5) + timedelta(seconds=3), "C1", "N", 0.9)])
    r = ws.anpr.load(second, actor="t").load  # a duplicate is set aside even without --skip-bad-rows
    assert (r.rows_loaded, r.rows_rejected, r.rejected_by_reason) == (1, 1, {DUPLICATE: 1})


def test_a_mapping_reads_a_back_office_export(ws: Workspace, tmp_path: Path) -> None:
    mapping = tmp_path / "bof.toml"
    mapping.write_text(
        '[source]\ntimezone = "Europe/London"\n[columns]\nplate = "VRM"\nread_at = "Read Date"\n'
        'read_format = "%d/%m/%Y %H:%M:%S"\ncamera_id = "Camera"\ndirection = "Lane"\nconfidence = "Conf"\n'
        "confidence_scale = 100\n", "utf-8")  # fmt: skip
    t = when(30).astimezone()
    export = tmp_path / "export.csv"
    export.write_text(f"VRM,Read Date,Camera,Lane,Conf\nAB12CDE,{t:%d/%m/%Y %H:%M:%S},C2,2,87\n"
                      f"AB12CDE,{t:%d/%m/%Y} 25:00:00,C2,2,87\n", "utf-8")  # fmt: skip
    with pytest.raises(InputError, match=r"row 2.*'Read Date': not a date-time in the format"):
        ws.anpr.load(export, mapping=mapping, actor="t")
    r = ws.anpr.load(export, mapping=mapping, actor="t", skip_bad_rows=True).load
    assert r.rows_loaded == 1
    assert ws.con.execute("SELECT confidence FROM anpr_reads").fetchall() == [(0.87,)]
    bad = tmp_path / "bad.toml"
    bad.write_text("[columns]\nplate = 'VRM'\nspeed = 'x'\n", "utf-8")
    with pytest.raises(InputError, match=r"columns\.speed"):
        ws.anpr.load(export, mapping=bad, actor="t")


def test_cameras_are_checked_and_reloads_replace_them(ws: Workspace, tmp_path: Path) -> None:
    cams = tmp_path / "more.csv"
    cams.write_text("camera_id,lon,lat,road,direction,area\nC1,-0.1,51.5,A1,N,E09000001\nC4,x,51.5,A2,S,\n"
                    "C5,-0.2,51.4,A3,E,\nC5,-0.2,51.4,A3,E,\n", "utf-8")  # fmt: skip
    with pytest.raises(InputError, match=r"row 2.*'lon': not a longitude"):
        ws.anpr.load_cameras(cams, actor="t")
    r = ws.anpr.load_cameras(cams, actor="t", skip_bad_rows=True)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    got = dict(ws.con.execute("SELECT camera_id, area_code FROM anpr_cameras").fetchall())
    assert got["C1"] == "E09000001" and "C5" in got and "C4" not in got
    x, y = ws.con.execute("SELECT x, y FROM anpr_cameras WHERE camera_id = 'C5'").fetchall()[0]
    assert 500_000 < x < 560_000 and 150_000 < y < 200_000  # British National Grid metres


def test_reads_need_cameras_first(tmp_path: Path) -> None:
    w = Workspace.init(tmp_path / "empty")
    try:
        with pytest.raises(NoDataError, match="load-cameras"):
            w.anpr.load(write_reads(tmp_path / "r.csv", [("AB12CDE", when(1), "C1", "N", 0.9)]), actor="t")
    finally:
        w.close()


def test_a_watched_folder_loads_new_files_and_moves_them(ws: Workspace, tmp_path: Path) -> None:
    from datetime import datetime

    drop = tmp_path / "drop"
    drop.mkdir()
    ws.anpr.hotlist_add("AB12CDE", reason="stolen vehicle, crime ref 1", source="PNC",
                        expires_at=NOW + timedelta(days=1), actor="t")  # fmt: skip
    write_reads(drop / "a.parquet", [("AB12CDE", when(3), "C1", "N", 0.9), ("BAD!", when(3), "C1", "N", 0.9)])
    write_reads(drop / "b.csv", [("AB12CDE", when(2), "C9", "N", 0.9)])  # every row bad: loads nothing
    (drop / "half.csv.part").write_text("plate,read_at\n", "utf-8")  # still being written: left alone
    (drop / "notes.txt").write_text("not reads", "utf-8")
    seen = list(ws.anpr.watch(drop, actor="watcher", once=True))
    assert [p.name for p, _ in seen] == ["a.parquet", "b.csv"]
    first = seen[0][1]
    assert not isinstance(first, Exception)
    assert (first.load.rows_loaded, first.load.rows_rejected, first.matched.alerts) == (1, 1, 1)
    assert isinstance(first.matched.stored_at, datetime) and first.matched.latency_seconds is not None
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["a.parquet", "b.csv"]
    assert (drop / "half.csv.part").exists() and (drop / "notes.txt").exists()
    # Between passes the watcher lets go of the store: a reader can open it.
    duckdb.connect(str(ws.paths.db_path), read_only=True).close()
    assert list(ws.anpr.watch(drop, actor="watcher", once=True)) == []


def test_a_batch_staged_by_the_dashboard_is_stored_by_the_watcher(ws: Workspace, tmp_path: Path) -> None:
    import json

    ws.anpr.load(write_reads(tmp_path / "a.csv", [("AB12CDE", when(9), "C1", "N", 0.9)]), actor="t")
    body = json.dumps([{"plate": "AB12CDE", "read_at": when(3).isoformat(), "camera_id": "C2"},
                       {"plate": "NEW1", "read_at": when(2).isoformat(), "camera_id": "C3", "confidence": 0.5}])
    got = ws.anpr.receive(body.encode(), "application/json", actor="t")
    assert (got["accepted"], got["rejected"]) == (2, [])
    inbox = ws.root / "anpr" / "inbox"
    r = list(ws.anpr.watch(inbox, actor="watcher", once=True))
    assert len(r) == 1 and r[0][1].load.rows_loaded == 2
    assert ws.con.execute("SELECT count(*), count(DISTINCT vehicle) FROM anpr_reads").fetchall() == [(3, 2)]
    assert ws.con.execute("SELECT count(*) FROM anpr_plates").fetchall() == [(2,)]


def test_cameras_as_the_generator_writes_them(tmp_path: Path) -> None:
    """The synthetic generator names the area column area_code."""
    from safestreets.sources.anpr import read_cameras

    f = tmp_path / "cameras.csv"
    f.write_text("camera_id,lon,lat,road,direction,name,area_code\nCAM1,-1.5,53.7,A464,inbound,A464 in,SYN1\n", "utf-8")
    cams = read_cameras(f)
    assert cams.errors == [] and cams.table.column("area").to_pylist() == ["SYN1"]


def test_an_empty_file_is_refused_and_a_posted_csv_keeps_leading_zeros(ws: Workspace, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("plate,read_at,camera_id\n", "utf-8")
    with pytest.raises(InputError, match="no reads"):
        ws.anpr.load(empty, actor="t")
    body = f"plate,read_at,camera_id\n0012,{when(1).isoformat()},C1\n".encode()
    got = ws.anpr.receive(body, "text/csv", actor="t")
    assert got["accepted"] == 1
    assert ws.anpr.vehicle_of("0012") != ws.anpr.vehicle_of("12")
    staged = next((ws.root / "anpr" / "inbox").glob("*.parquet"))
    import pyarrow.parquet as pq

    assert pq.read_table(staged).column("vehicle").to_pylist() == [ws.anpr.vehicle_of("0012")]
