"""A file loads whole or not at all: kill -9 mid-load, a re-load of the same bytes, a republished month,
an exception inside the transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import safestreets.store.load as load_module
from conftest import STREET_HEADER, csv_bytes, store_fingerprint, street_row, table_counts, write_file
from safestreets.config import Workspace
from safestreets.store import fetch_one, open_store
from safestreets.store.ingest import ingest_policeuk
from safestreets.vocab import CRIME_TYPES

BIG_ROWS = 200_000
BIG_MONTH = "2023-01"


def write_big_street_file(path: Path, n: int, *, month: str, seed: int = 7) -> Path:
    """A valid Met street file of ``n`` rows, built column-wise: snap points shared by many crimes,
    blank Crime IDs for anti-social behaviour, a few rows without a location."""
    rng = np.random.default_rng(seed)
    types = np.array(list(CRIME_TYPES))
    crime_type = types[rng.integers(0, len(types), n)]
    ids = np.frombuffer(rng.bytes(32 * n).hex().encode(), dtype="S64").astype(str)
    ids[crime_type == "Anti-social behaviour"] = ""
    points = 20_000
    plon = np.round(rng.uniform(-0.5, 0.3, points), 6)
    plat = np.round(rng.uniform(51.3, 51.7, points), 6)
    snap = rng.integers(0, points, n)
    lon = np.char.mod("%.6f", plon)[snap]
    lat = np.char.mod("%.6f", plat)[snap]
    no_location = rng.random(n) < 0.02
    lon[no_location] = ""
    lat[no_location] = ""
    location = np.char.add("On or near Street ", np.char.mod("%d", np.arange(points)))[snap]
    location[no_location] = "No location"
    force = "Metropolitan Police Service"
    table = pa.table(
        {
            "Crime ID": ids,
            "Month": np.full(n, month),
            "Reported by": np.full(n, force),
            "Falls within": np.full(n, force),
            "Longitude": lon,
            "Latitude": lat,
            "Location": location,
            "LSOA code": np.char.mod("E0100%04d", snap % 5000),
            "LSOA name": np.char.mod("Borough %03d", snap % 300),
            "Crime type": crime_type,
            "Last outcome category": np.full(n, "Under investigation"),
            "Context": np.full(n, ""),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write((",".join(STREET_HEADER) + "\n").encode())
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return path


def small_street_file(path: Path, n: int, *, month: str, tag: str) -> Path:
    rows = [
        street_row(Crime_ID=f"{tag}{i:05d}", Month=month, Reported_by="Metropolitan Police Service",
                   Falls_within="Metropolitan Police Service", Longitude=f"{-0.1 + i * 1e-4:.6f}")
        for i in range(n)
    ]  # fmt: skip
    return write_file(path, csv_bytes(STREET_HEADER, rows))


def events_by_batch(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    return dict(con.execute("SELECT batch_id, count(*) FROM events GROUP BY ALL").fetchall())


# The child announces each phase on stdout so the test knows where the kill lands: STAGING once the
# store is open, IN_TXN just after BEGIN (the old month's rows are about to be deleted and the new
# ones inserted), DONE after the commit.
CHILD = textwrap.dedent(
    """
    import sys
    from contextlib import contextmanager
    from pathlib import Path

    import safestreets.store.load as load
    from safestreets.config import Workspace
    from safestreets.store.ingest import ingest_policeuk
    from safestreets.store import open_store, transaction

    @contextmanager
    def announced(con):
        with transaction(con) as c:
            print("IN_TXN", flush=True)
            yield c

    load.transaction = announced
    con = open_store(Workspace(Path(sys.argv[1])))
    con.execute("SET enable_progress_bar = false")  # its bars would share stdout with the markers
    print("STAGING", flush=True)
    ingest_policeuk(con, sys.argv[2])
    print("DONE", flush=True)
    """
)


def run_and_kill(workspace: Path, path: Path, *, marker: str, delay: float) -> tuple[list[str], int]:
    """Start a load in a child process, SIGKILL it ``delay`` seconds after it prints ``marker``;
    return what it printed before it died and its return code."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(workspace), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        while (line := proc.stdout.readline()) != "":
            seen.append(line.strip())
            if seen[-1] == marker:
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)
                break
        seen += [line.strip() for line in proc.stdout.read().splitlines()]
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code not in (0, -signal.SIGKILL):
        errors = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"the loader failed on its own (exit {code}): {errors}")
    return seen, code


def test_kill_9_leaves_all_or_nothing(tmp_path: Path) -> None:
    big = tmp_path / "new" / f"{BIG_MONTH}-metropolitan-street.csv"
    write_big_street_file(big, BIG_ROWS, month=BIG_MONTH)
    workspace = Workspace(tmp_path / "workspace")
    con = open_store(workspace)
    # Before: an earlier publication of the same month (which the big file replaces) and another month.
    old_month = tmp_path / "old" / f"{BIG_MONTH}-metropolitan-street.csv"
    (old,) = ingest_policeuk(con, small_street_file(old_month, 300, month=BIG_MONTH, tag="old"))
    other_month = tmp_path / "old" / "2022-12-metropolitan-street.csv"
    ingest_policeuk(con, small_street_file(other_month, 200, month="2022-12", tag="dec"))
    before = store_fingerprint(con)
    before_batches = events_by_batch(con)
    con.close()

    # Kill once while staging (before the transaction), then early, midway and late inside it.
    attempts = [("STAGING", 0.2), ("IN_TXN", 0.0), ("IN_TXN", 0.25), ("IN_TXN", 0.6)]
    killed_in_txn = 0
    for marker, delay in attempts:
        seen, code = run_and_kill(workspace.root, big, marker=marker, delay=delay)
        con = open_store(workspace)
        try:
            loaded = fetch_one(
                con, "SELECT batch_id, rows_loaded, rows_replaced FROM batches WHERE source = ?", [str(big)]
            )
            if loaded is None:
                # Nothing of the file: exactly the store of before, old month included.
                assert store_fingerprint(con) == before, (marker, delay, seen)
                assert events_by_batch(con) == before_batches
            else:
                # The whole file, replacing the old month, and one batch saying so.
                batch_id, rows_loaded, rows_replaced = loaded
                assert (rows_loaded, rows_replaced) == (BIG_ROWS, 300)
                kept = {b: n for b, n in before_batches.items() if b != old.batch_id}
                assert events_by_batch(con) == {**kept, batch_id: BIG_ROWS}
                assert table_counts(con)["batches"] == before["counts"]["batches"] + 1
        finally:
            con.close()
        if loaded is not None:
            break  # the file is in: later attempts would only find it already loaded
        if code == -signal.SIGKILL and "IN_TXN" in seen:
            killed_in_txn += 1
    # The test means something only if some kill landed inside the transaction and was rolled back.
    assert killed_in_txn >= 1, "no kill landed inside the transaction: the file loads too fast to test"

    # Finally an undisturbed load, in a store that has been through all that, brings the whole file in.
    con = open_store(workspace)
    try:
        (result,) = ingest_policeuk(con, big)
        assert result.skipped_as is not None or (result.rows_loaded, result.rows_replaced) == (BIG_ROWS, 300)
        assert fetch_one(con, "SELECT count(*) FROM events WHERE month = DATE '2023-01-01'") == (BIG_ROWS,)
        assert fetch_one(con, "SELECT count(*) FROM events WHERE month = DATE '2022-12-01'") == (200,)
        assert fetch_one(con, "SELECT count(DISTINCT event_id) FROM events") == (BIG_ROWS + 200,)
        assert table_counts(con)["batches"] == before["counts"]["batches"] + 1
    finally:
        con.close()


def test_same_file_twice_adds_nothing(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = small_street_file(tmp_path / "a" / "2023-01-metropolitan-street.csv", 50, month="2023-01", tag="a")
    (first,) = ingest_policeuk(store, path)
    assert first.batch_id is not None and first.skipped_as is None
    after_first = store_fingerprint(store)
    # The same bytes again, from another path and gzipped: recognised by the uncompressed content.
    copy = write_file(tmp_path / "b" / "2023-01-metropolitan-street.csv.gz", path.read_bytes(), compress=True)
    for again in (path, copy):
        (second,) = ingest_policeuk(store, again)
        assert second.skipped_as == first.batch_id
        assert second.batch_id is None and second.rows_loaded == 0
        assert store_fingerprint(store) == after_first


def test_republished_month_replaces_the_earlier_rows(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    name = "2023-01-metropolitan-street.csv"
    first = small_street_file(tmp_path / "v1" / name, 40, month="2023-01", tag="v1-")
    other = small_street_file(
        tmp_path / "v1" / "2023-02-metropolitan-street.csv", 10, month="2023-02", tag="f"
    )
    ingest_policeuk(store, first)
    ingest_policeuk(store, other)
    # police.uk republishes a month as outcomes come in: same force and month, different rows.
    second = small_street_file(tmp_path / "v2" / name, 55, month="2023-01", tag="v2-")
    (result,) = ingest_policeuk(store, second)
    assert result.rows_replaced == 40
    assert result.rows_loaded == 55
    rows = store.execute("SELECT crime_id FROM events WHERE month = DATE '2023-01-01'").fetchall()
    assert len(rows) == 55 and all(r[0].startswith("v2-") for r in rows)
    assert fetch_one(store, "SELECT count(*) FROM events WHERE month = DATE '2023-02-01'") == (10,)
    assert fetch_one(store, "SELECT rows_replaced FROM batches WHERE batch_id = ?", [result.batch_id]) == (
        40,
    )

    # Loading the first publication again is a real load (its rows are gone), not "already loaded".
    (back,) = ingest_policeuk(store, first)
    assert back.skipped_as is None
    assert (back.rows_loaded, back.rows_replaced) == (40, 55)
    rows = store.execute("SELECT crime_id FROM events WHERE month = DATE '2023-01-01'").fetchall()
    assert len(rows) == 40 and all(r[0].startswith("v1-") for r in rows)
    # And now it is live again, a third load of it is skipped.
    (third,) = ingest_policeuk(store, first)
    assert third.skipped_as == back.batch_id


def test_republished_month_does_not_touch_other_forces(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    met = small_street_file(tmp_path / "2023-01-metropolitan-street.csv", 5, month="2023-01", tag="m")
    city = write_file(tmp_path / "2023-01-city-of-london-street.csv",
                      csv_bytes(STREET_HEADER, [street_row(Crime_ID=f"c{i}") for i in range(3)]))  # fmt: skip
    ingest_policeuk(store, met)
    (result,) = ingest_policeuk(store, city)
    assert result.rows_replaced == 0
    assert dict(store.execute("SELECT force, count(*) FROM events GROUP BY ALL").fetchall()) == {
        "metropolitan": 5,
        "city-of-london": 3,
    }


@pytest.mark.parametrize("where", ["_assign", "record_batches"])
def test_exception_inside_the_transaction_leaves_the_store_unchanged(
    where: str, store: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "2023-01-metropolitan-street.csv"
    ingest_policeuk(store, small_street_file(tmp_path / "v1" / name, 30, month="2023-01", tag="v1-"))
    before = store_fingerprint(store)
    replacement = small_street_file(tmp_path / "v2" / name, 45, month="2023-01", tag="v2-")
    reached = []

    def fail(*args: object, **kwargs: object) -> None:
        # By now the old month's rows are deleted and the new rows inserted, inside the transaction.
        reached.append(fetch_one(store, "SELECT count(*) FROM events"))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(load_module, where, fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_policeuk(store, replacement)
    # The direct path tries the transaction first, then the general path file by file: each attempt
    # saw the replacement in place, and each rolled back.
    assert reached and set(reached) == {(45,)}
    assert store_fingerprint(store) == before
    monkeypatch.undo()
    # Nothing was left half-done on the connection: the same file now loads normally.
    (result,) = ingest_policeuk(store, replacement)
    assert (result.rows_loaded, result.rows_replaced, result.skipped_as) == (45, 30, None)


# --- files committed in groups --------------------------------------------------------------------


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every stored row with its batch named by source, not by id (ids follow commit order)."""
    out = {}
    for table in ("events", "outcomes", "stop_searches", "rejects"):
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "batch_id"]
        out[table] = con.execute(
            f"SELECT {', '.join('x.' + c for c in cols)}, b.source FROM {table} x "
            "JOIN batches b USING (batch_id) ORDER BY ALL"
        ).fetchall()
    out["batches"] = con.execute(
        "SELECT * EXCLUDE (batch_id, loaded_at) FROM batches ORDER BY ALL"
    ).fetchall()
    return out


def _mixed_folder(root: Path) -> Path:
    """Two months of street and stop-and-search files, a republished month (v2 replaces v1, both in
    one load) and the same bytes twice (the second copy adds nothing)."""
    from conftest import STOP_HEADER, stop_row

    for month in ("2023-01", "2023-02"):
        small_street_file(root / "v1" / f"{month}-metropolitan-street.csv", 40, month=month, tag=f"a{month}")
        rows = [stop_row(Date=f"{month}-{d + 1:02d}T10:30:00+00:00") for d in range(12)]
        write_file(root / "v1" / f"{month}-metropolitan-stop-and-search.csv", csv_bytes(STOP_HEADER, rows))
    small_street_file(root / "v2" / "2023-01-metropolitan-street.csv", 25, month="2023-01", tag="b")
    same = (root / "v1" / "2023-02-metropolitan-street.csv").read_bytes()
    write_file(root / "v3" / "2023-02-metropolitan-street.csv.gz", same, compress=True)
    return root


def test_groups_store_what_one_file_at_a_time_stores(tmp_path: Path) -> None:
    folder = _mixed_folder(tmp_path / "in")
    stores = {}
    for name, group_rows in (("grouped", 1_000_000), ("alone", 0)):
        con = open_store(Workspace(tmp_path / name))
        results = ingest_policeuk(con, folder, group_rows=group_rows)
        stores[name] = (
            [(r.source, r.kind, r.skipped_as is not None, r.rows_loaded, r.rows_replaced) for r in results],
            _stored(con),
        )
        con.close()
    assert stores["grouped"] == stores["alone"]
    results, stored = stores["grouped"]
    # v2 replaced v1's January; the gzipped copy of February was recognised.
    assert sum(1 for r in results if r[2]) == 1
    assert any(r[0].endswith("v2/2023-01-metropolitan-street.csv") and r[4] == 40 for r in results)
    assert len(stored["events"]) == 25 + 40


def test_a_group_that_fails_to_commit_keeps_the_files_before_the_failing_one(
    store: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    for month in ("2023-01", "2023-02", "2023-03", "2023-04"):
        small_street_file(folder / f"{month}-metropolitan-street.csv", 10, month=month, tag=month)
    real = load_module.record_batches

    def fail_on_march(con: duckdb.DuckDBPyConnection, records: list) -> None:
        if any(rec.months == ["2023-03"] for _, rec in records):
            raise RuntimeError("disk on fire")
        real(con, records)

    monkeypatch.setattr(load_module, "record_batches", fail_on_march)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_policeuk(store, folder)
    # January and February are stored, as one file at a time would have; nothing of March or after.
    months = store.execute("SELECT DISTINCT strftime(month, '%Y-%m') FROM events ORDER BY 1").fetchall()
    assert months == [("2023-01",), ("2023-02",)]
    assert table_counts(store)["batches"] == 2
