"""The direct path (``store.direct``): clean police.uk files loaded by DuckDB SQL store exactly what the
general path stores, row for row and batch for batch; any file it cannot vouch for goes the general
way, which names the bad row; and repeated keys do not depend on the order of the rows in a file."""

from __future__ import annotations

import csv
import gzip
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import (
    STOP_HEADER,
    STREET_HEADER,
    csv_bytes,
    stop_row,
    street_row,
    table_counts,
    write_file,
)
from safestreets.config import Workspace
from safestreets.errors import InputError
from safestreets.geo.export import export_table
from safestreets.sources import policeuk
from safestreets.store import direct, ingest, open_store
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.load import LoadOptions
from safestreets.synthetic import CityConfig, generate_city
from test_csv_properties import street_rows

BATCH_COLUMNS = (
    "kind, source, sha256, force, months, params, rows_read, rows_loaded, rows_rejected, rows_filtered, "
    "rows_no_location, rows_replaced"
)


def stored(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every loaded table, without batch ids (which number files in load order), sorted."""
    out = {}
    for table in ("events", "outcomes", "stop_searches_keyed"):  # stop-searches with their keys
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if r[0] != "batch_id"
        ]
        rows = con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        out[table] = sorted(rows, key=repr)
    out["batches"] = sorted(con.execute(f"SELECT {BATCH_COLUMNS} FROM batches").fetchall(), key=repr)
    return out


def load(
    folder: Path, path: Path, *, use_direct: bool, opts: LoadOptions = LoadOptions()
) -> tuple[list, dict]:
    """Load ``path`` into a fresh store in ``folder``; the results (or the error) and everything stored."""
    con = open_store(Workspace(folder))
    try:
        try:
            results: list = [(r.source, r.kind, r.rows_read, r.rows_loaded, r.rows_filtered, r.rows_no_location,
                              r.months, r.forces, r.skipped_as is not None)
                             for r in ingest_policeuk(con, path, opts, use_direct=use_direct)]  # fmt: skip
        except InputError as err:
            results = [str(err)]
        return results, stored(con)
    finally:
        con.close()


def assert_same_both_ways(path: Path, tmp: Path, opts: LoadOptions = LoadOptions()) -> dict:
    direct_results, direct_rows = load(tmp / "direct", path, use_direct=True, opts=opts)
    general_results, general_rows = load(tmp / "general", path, use_direct=False, opts=opts)
    assert direct_results == general_results
    for table in direct_rows:
        assert direct_rows[table] == general_rows[table], table
    return direct_rows


@contextmanager
def general_path_forbidden() -> Iterator[None]:
    """Fail if any file goes the general path."""

    def refuse(con: Any, files: list, *args: Any) -> None:
        raise AssertionError(f"{len(files)} file(s) went the general path: {files[0].source.name}")

    with mock.patch.object(ingest, "_load_general", refuse):
        yield


# --- generated files: whatever the rows, both paths agree -------------------------------------------

# Spaces DuckDB's trim() strips (Unicode Zs) and ones it does not (a tab), at either end of a value.
PADS = st.sampled_from(["", "", "", " ", "  ", "\u00a0", "\u3000", "\t"])


@st.composite
def padded(draw: st.DrawFn, value: str) -> str:
    return draw(PADS) + value + draw(PADS) if value else draw(st.sampled_from(["", "", " "]))


@st.composite
def stop_rows(draw: st.DrawFn) -> dict[str, str]:
    flag = st.sampled_from(["True", "False", "", "true"])
    lon, lat = draw(
        st.sampled_from([("-0.091000", "51.515000"), ("-0.1", "51.5"), ("", ""), (" -0.2", "51.4 ")])
    )
    return {
        "Type": draw(st.sampled_from(["Person search", "Person and Vehicle search", "Vehicle search"])),
        "Date": draw(st.sampled_from(["2023-01-05T10:30:00+00:00", "2023-01-05T10:30:00Z",
                                      "2023-01-31T23:30:00+00:00", " 2023-01-06T01:00:00+01:00"])),
        "Part of a policing operation": draw(flag),
        "Policing operation": draw(st.sampled_from(["", "Op Alpha", " Op Beta "])),
        "Latitude": lat,
        "Longitude": lon,
        "Gender": draw(st.sampled_from(["Male", "Female", "", "Other"])),
        "Age range": draw(st.sampled_from(["18-24", "25-34", "over 34", "under 10", ""])),
        "Self-defined ethnicity": draw(padded(draw(st.sampled_from(["White - Any other White background", "", "Other ethnic group - Not stated"])))),
        "Officer-defined ethnicity": draw(st.sampled_from(["White", "Black", "Asian", ""])),
        "Legislation": draw(st.sampled_from(["Misuse of Drugs Act 1971 (section 23)", "Criminal Justice and Public Order Act 1994 (section 60)", ""])),
        "Object of search": draw(st.sampled_from(["Controlled drugs", "Offensive weapons", "Article for use in theft", ""])),
        "Outcome": draw(st.sampled_from(["A no further action disposal", "Nothing found - no further action", "Suspect arrested", "Arrest", " Local resolution", ""])),
        "Outcome linked to object of search": draw(flag),
        "Removal of more than just outer clothing": draw(flag),
    }  # fmt: skip


@st.composite
def padded_street_rows(draw: st.DrawFn) -> dict[str, str]:
    row = draw(street_rows())
    for column in ("Crime ID", "Location", "LSOA name", "Crime type", "Last outcome category"):
        row[column] = draw(padded(row[column]))
    row["Month"] = draw(st.sampled_from(["", " ", "\u00a0"])) + row["Month"]  # a tab would be an error
    return row


def _write(folder: Path, name: str, header: tuple[str, ...], rows: list[dict[str, str]], gz: bool,
           quoting: int = csv.QUOTE_MINIMAL) -> Path:  # fmt: skip
    return write_file(
        folder / (name + (".gz" if gz else "")), csv_bytes(header, rows, quoting=quoting), compress=gz
    )


@settings(max_examples=40, deadline=None)
@given(
    street=st.lists(padded_street_rows(), min_size=1, max_size=30),
    stops=st.lists(stop_rows(), min_size=1, max_size=30),
    repeats=st.integers(0, 5),
    gz=st.booleans(),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_both_paths_store_the_same(
    street: list[dict[str, str]], stops: list[dict[str, str]], repeats: int, gz: bool, quoting: int
) -> None:
    # Repeated rows (identical, or the same key with other values) exercise the numbering of keys.
    stops = stops + stops[:repeats] + [{**r, "Part of a policing operation": "True"} for r in stops[:repeats]]
    street = street + street[:repeats]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        _write(folder, "2023-01-metropolitan-street.csv", STREET_HEADER, street, gz, quoting)
        _write(folder, "2023-01-metropolitan-stop-and-search.csv", STOP_HEADER, stops, gz, quoting)
        assert_same_both_ways(folder, Path(tmp))


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(stop_rows(), min_size=2, max_size=20), seed=st.integers(0, 1000))
def test_keys_do_not_depend_on_row_order(rows: list[dict[str, str]], seed: int) -> None:
    """police.uk may republish a month with its rows in another order: the same rows get the same keys."""
    rows = rows + rows[:3] + [{**r, "Removal of more than just outer clothing": "True"} for r in rows[:3]]
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, order in (("a", rows), ("b", shuffled)):
            path = _write(
                Path(tmp) / name, "2023-01-metropolitan-stop-and-search.csv", STOP_HEADER, order, False
            )
            for use_direct in (True, False):
                found.append(
                    load(Path(tmp) / f"{name}-{use_direct}", path, use_direct=use_direct)[1][
                        "stop_searches_keyed"
                    ]
                )
    assert all(f == found[0] for f in found)


# --- real and synthetic archives ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    generate_city(folder, CityConfig(n_events=20_000, n_forces=3, months=3, seed=7))
    return folder / "police_uk"


def test_a_synthetic_archive_loads_the_same_both_ways_without_the_general_path(
    city: Path, tmp_path: Path
) -> None:
    with general_path_forbidden():
        rows = load(tmp_path / "only-direct", city, use_direct=True)[1]
    assert len(rows["events"]) == 20_000 and rows["outcomes"] and rows["stop_searches_keyed"]
    assert rows == assert_same_both_ways(city, tmp_path)


def test_filters_count_the_rows_they_leave_out_the_same_way(city: Path, tmp_path: Path) -> None:
    forces = sorted({policeuk.FILE_NAME.search(p.name)["force"] for p in city.rglob("*-street.csv")})
    opts = LoadOptions(forces=frozenset(forces[:1]), months=frozenset({"2023-02"}))
    assert_same_both_ways(city, tmp_path / "city", opts)
    con = open_store(Workspace(tmp_path / "city" / "direct"))
    held = con.execute("SELECT DISTINCT force, strftime(month, '%Y-%m') FROM events").fetchall()
    con.close()
    assert held == [(forces[0], "2023-02")]
    # A file whose rows are not all of its month: the rows outside the filter are counted, not loaded.
    rows = [street_row(Crime_ID=f"c{i}", Month=["2023-02", "2023-03"][i % 3 == 0]) for i in range(9)]
    mixed = write_file(tmp_path / "in" / "2023-02-city-of-london-street.csv", csv_bytes(STREET_HEADER, rows))
    february = LoadOptions(months=frozenset({"2023-02"}))
    assert_same_both_ways(mixed.parent, tmp_path / "mixed", february)
    results, _ = load(tmp_path / "mixed" / "again", mixed.parent, use_direct=True, opts=february)
    assert [(r[2], r[3], r[4]) for r in results] == [(9, 6, 3)]


def test_real_city_of_london_files_load_the_same_both_ways(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "police_uk" / "city_of_london"
    with general_path_forbidden():
        load(tmp_path / "only-direct", source, use_direct=True)
    rows = assert_same_both_ways(source, tmp_path)
    assert len(rows["events"]) > 10_000 and len(rows["stop_searches_keyed"]) > 1_000


def test_real_met_stop_and_search_repeats_are_numbered_the_same_both_ways(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted((shared_data / "police_uk" / "met_stop_and_search").glob("2019-*.csv.gz")):
        shutil.copy(path, folder / path.name)
    rows = assert_same_both_ways(folder, tmp_path)
    keys = [r[0] for r in rows["stop_searches_keyed"]]
    assert len(set(keys)) == len(keys) and any("#" in k for k in keys)


# --- what the direct path hands to the general path -------------------------------------------------


def _month_files(folder: Path, months: list[str], bad: str | None = None) -> None:
    for m in months:
        rows = [street_row(Crime_ID=f"{m}-{i}", Month=m) for i in range(5)]
        if m == bad:
            rows[2]["Longitude"] = "west"
        write_file(folder / f"{m}-city-of-london-street.csv", csv_bytes(STREET_HEADER, rows))


def test_a_bad_row_is_named_and_the_files_before_it_are_stored(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    _month_files(tmp_path, ["2023-01", "2023-02", "2023-03", "2023-04"], bad="2023-03")
    with pytest.raises(InputError) as err:
        ingest_policeuk(store, tmp_path)
    assert err.value.row == 3 and err.value.column == "Longitude" and "2023-03" in str(err.value)
    months = store.execute("SELECT DISTINCT strftime(month, '%Y-%m') FROM events ORDER BY 1").fetchall()
    assert months == [("2023-01",), ("2023-02",)]
    assert table_counts(store)["batches"] == 2


def test_bad_rows_skipped_in_a_window_go_to_rejects(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _month_files(tmp_path, ["2023-01", "2023-02"], bad="2023-02")
    results = ingest_policeuk(store, tmp_path, LoadOptions(skip_bad_rows=True))
    assert [(r.rows_loaded, r.rows_rejected) for r in results] == [(5, 0), (4, 1)]
    assert store.execute("SELECT row_number, column_name, value FROM rejects").fetchall() == [
        (3, "Longitude", "west")
    ]


def test_a_second_load_adds_nothing_and_a_copy_is_recognised(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    _month_files(tmp_path / "a", ["2023-01", "2023-02"])
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the same bytes under other names
    first = ingest_policeuk(store, tmp_path)
    assert sum(r.skipped_as is None for r in first) == 2 and len(first) == 4
    before = table_counts(store)
    again = ingest_policeuk(store, tmp_path)
    assert all(r.skipped_as is not None for r in again)
    assert table_counts(store) == before


def test_a_republished_month_replaces_the_old_one(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _month_files(tmp_path / "v1", ["2023-01"])
    rows = [street_row(Crime_ID=f"new-{i}") for i in range(7)]
    write_file(tmp_path / "v2" / "2023-01-city-of-london-street.csv", csv_bytes(STREET_HEADER, rows))
    ingest_policeuk(store, tmp_path / "v1")
    (result,) = ingest_policeuk(store, tmp_path / "v2")
    assert (result.rows_loaded, result.rows_replaced) == (7, 5)
    assert store.execute("SELECT count(*) FROM events").fetchall() == [(7,)]


def _stop_key(force: str, row: dict[str, str], outcome: str | None = None) -> str:
    """A stop-and-search key computed here from what the row says, as docs/data.md defines it."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    micros = str(
        (datetime.fromisoformat(row["Date"]) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    )
    point = [f"{float(row[c]):.17g}" if row[c].strip() else "" for c in ("Latitude", "Longitude")]
    text = ["Type", "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity",
            "Legislation", "Object of search", "Outcome"]  # fmt: skip
    parts = [force, micros, *point, *(row[c].strip() for c in text)]
    return "s" + hashlib.md5("|".join(parts).encode()).hexdigest()


@pytest.mark.parametrize("use_direct", [True, False])
def test_stop_search_keys_derive_from_what_the_row_says(
    store: duckdb.DuckDBPyConnection, tmp_path: Path, use_direct: bool
) -> None:
    same = stop_row()
    # The same search published with other spacing and digits, then one that differs in its outcome.
    restyled = stop_row(Latitude="51.515", Longitude=" -0.091", Gender=" Male ")
    other = stop_row(Outcome="Arrest")
    write_file(tmp_path / "2023-01-city-of-london-stop-and-search.csv",
               csv_bytes(STOP_HEADER, [other, same, restyled, same]))  # fmt: skip
    ingest_policeuk(store, tmp_path, LoadOptions(), use_direct=use_direct)
    key = _stop_key("city-of-london", same)
    assert sorted(store.execute("SELECT search_id FROM stop_searches_keyed").fetchall()) == sorted(
        [(_stop_key("city-of-london", other),), (key,), (key + "#2",), (key + "#3",)]
    )
    store.execute("SET TimeZone = 'America/New_York'")  # keys do not depend on the session's zone
    assert store.execute(
        "SELECT count(*) FROM stop_searches_keyed WHERE search_id = ?", [key]
    ).fetchall() == [(1,)]
    # Exports carry the keys, not the number they are made from.
    out, rows = export_table(store, tmp_path / "stops.csv", table="stop_searches")
    with out.open(encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert rows == 4 and "key_repeat" not in exported[0]
    assert sorted(r["search_id"] for r in exported) == sorted(
        [_stop_key("city-of-london", other), key, key + "#2", key + "#3"]
    )


def test_fetched_stop_searches_replace_those_with_the_same_keys(store: duckdb.DuckDBPyConnection) -> None:
    import pyarrow as pa

    from safestreets.store.ingest import load_policeuk_table

    def table(rows: list[dict[str, str]]) -> pa.Table:
        return pa.table({c: [r[c] for r in rows] for c in STOP_HEADER})

    first = [stop_row(), stop_row(), stop_row(Outcome="Arrest"), stop_row(Date="2023-01-06T09:00:00+00:00")]
    r1 = load_policeuk_table(store, table(first), kind="stop-and-search", label="api 1", sha256="a",
                             force="city-of-london")  # fmt: skip
    before = sorted(store.execute("SELECT search_id FROM stop_searches_keyed").fetchall())
    # Fetched again: the same four searches (one now published with trailing zeros) and a new one.
    again = [
        *first[:3],
        stop_row(Date="2023-01-06T09:00:00+00:00", Latitude="51.51500000"),
        stop_row(Type="Vehicle search"),
    ]
    r2 = load_policeuk_table(store, table(again), kind="stop-and-search", label="api 2", sha256="b",
                             force="city-of-london")  # fmt: skip
    assert (r1.rows_loaded, r2.rows_loaded, r2.rows_replaced) == (4, 5, 4)
    after = sorted(store.execute("SELECT search_id FROM stop_searches_keyed").fetchall())
    assert len(after) == 5 and set(before) < set(after)
    assert store.execute("SELECT DISTINCT batch_id FROM stop_searches").fetchall() == [(r2.batch_id,)]


# --- the bulk archive zip -------------------------------------------------------------------------


def _zip(folder: Path, target: Path, gz: frozenset[str] = frozenset()) -> Path:
    """``folder``'s files as members of a zip in the bulk archive's layout; members named in ``gz`` are
    stored gzipped (``.csv.gz``)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*.csv")):
            member = f"{path.name[:7]}/{path.name}"
            if path.name in gz:
                zf.writestr(member + ".gz", gzip.compress(path.read_bytes(), mtime=0))
            else:
                zf.write(path, member)
    return target


def test_a_zip_archive_loads_by_the_direct_path_as_its_folder_does(city: Path, tmp_path: Path) -> None:
    some = sorted(p.name for p in city.rglob("*-street.csv"))[:2]
    archive = _zip(city, tmp_path / "archive.zip", gz=frozenset(some))
    spool = tmp_path / "spool"
    spool.mkdir()
    with general_path_forbidden(), mock.patch.object(tempfile, "tempdir", str(spool)):
        results, rows = load(tmp_path / "zip", archive, use_direct=True)
    assert not list(spool.iterdir())  # the members' text is removed once stored
    assert all(r[0].startswith(f"{archive}::") for r in results)
    assert sum(r[0].endswith(".csv.gz") for r in results) == 2
    # Row for row what the general path stores from the archive, and what the folder holds.
    assert rows == assert_same_both_ways(archive, tmp_path)
    folder_rows = load(tmp_path / "folder", city, use_direct=True)[1]
    for table in ("events", "outcomes", "stop_searches_keyed"):
        assert rows[table] == folder_rows[table], table
    strip = [b[:1] + b[2:] for b in rows["batches"]]  # the same sha256, months and counts; not source
    assert sorted(strip, key=repr) == sorted((b[:1] + b[2:] for b in folder_rows["batches"]), key=repr)


def test_a_bad_row_in_a_zip_member_is_named_by_member_row_and_column(tmp_path: Path) -> None:
    _month_files(tmp_path / "in", ["2023-01", "2023-02", "2023-03"], bad="2023-02")
    archive = _zip(tmp_path / "in", tmp_path / "archive.zip")
    results, rows = load(tmp_path / "store", archive, use_direct=True)
    (message,) = results
    assert "archive.zip::2023-02/2023-02-city-of-london-street.csv" in message
    assert "row 3" in message and "Longitude" in message
    assert len(rows["events"]) == 5  # the member before it is stored; none after it


def test_a_corrupt_zip_member_is_named_and_nothing_of_it_is_stored(tmp_path: Path) -> None:
    _month_files(tmp_path / "in", ["2023-01", "2023-02"])
    archive = _zip(tmp_path / "in", tmp_path / "archive.zip")
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("2023-02/2023-02-city-of-london-street.csv")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(archive.read_bytes())
    data[start + info.compress_size // 2] ^= 0xFF  # a flipped byte in the deflated data
    archive.write_bytes(bytes(data))
    results, rows = load(tmp_path / "store", archive, use_direct=True)
    (message,) = results
    assert "2023-02-city-of-london-street.csv" in message and "corrupt" in message
    assert len(rows["events"]) == 5 and len(rows["batches"]) == 1  # January's member only


def test_an_archive_replaced_at_the_same_path_is_read_afresh(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    _month_files(tmp_path / "v1", ["2023-01"])
    rows = [street_row(Crime_ID=f"new-{i}") for i in range(7)]
    write_file(tmp_path / "v2" / "2023-01-city-of-london-street.csv", csv_bytes(STREET_HEADER, rows))
    archive = tmp_path / "archive.zip"
    _zip(tmp_path / "v1", archive)
    ingest_policeuk(store, archive)
    _zip(tmp_path / "v2", archive)  # the same name, new bytes (an open handle on the old one is stale)
    (result,) = ingest_policeuk(store, archive)
    assert (result.rows_loaded, result.rows_replaced) == (7, 5)
    assert store.execute("SELECT count(*) FROM events WHERE crime_id LIKE 'new-%'").fetchall() == [(7,)]


def test_a_zip_member_whose_crc_disagrees_is_refused(tmp_path: Path) -> None:
    """Members are inflated outside zipfile (by ISA-L), so their CRC is checked there."""
    _month_files(tmp_path / "in", ["2023-01"])
    archive = _zip(tmp_path / "in", tmp_path / "archive.zip")
    data = bytearray(archive.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the member's entry in the central directory; CRC at +16
    data[central + 16] ^= 0xFF
    archive.write_bytes(bytes(data))
    results, rows = load(tmp_path / "store", archive, use_direct=True)
    (message,) = results
    assert "2023-01-city-of-london-street.csv" in message and "CRC" in message
    assert not rows["events"] and not rows["batches"]


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_spools_of_killed_loads_are_removed_and_nothing_else(tmp_path: Path) -> None:
    host = socket.gethostname()

    def spool(name: str, owner: str | None) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "0.csv").write_text("member text")
        if owner is not None:
            (path / ".owner").write_text(owner)
        return path

    dead = spool("safestreets-dead", f"{host}\n{_dead_pid()}\n")
    live = spool("safestreets-live", f"{host}\n{os.getpid()}\n")
    elsewhere = spool("safestreets-other-host", f"{host}-not\n{_dead_pid()}\n")
    unowned = spool("safestreets-not-a-spool", None)
    other = spool("other-dead", f"{host}\n{_dead_pid()}\n")
    assert direct.sweep_spools(tmp_path) == [dead]
    assert not dead.exists()
    assert all(p.is_dir() for p in (live, elsewhere, unowned, other))


def test_a_zip_load_removes_the_spool_a_killed_load_left(city: Path, tmp_path: Path) -> None:
    archive = _zip(city, tmp_path / "archive.zip")
    tmp = tmp_path / "tmp"
    left = tmp / "safestreets-killed"
    left.mkdir(parents=True)
    (left / "0.csv").write_text("text of a member")
    (left / ".owner").write_text(f"{socket.gethostname()}\n{_dead_pid()}\n")
    with mock.patch.object(tempfile, "tempdir", str(tmp)):
        load(tmp_path / "ws", archive, use_direct=True)
    assert not list(tmp.iterdir())  # the killed load's folder, and this load's own
