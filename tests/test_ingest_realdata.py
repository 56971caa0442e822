"""Real data.police.uk files (../shared/data): counts reconcile with the files and the manifest, nothing
is dropped, keys are deterministic, wording is normalised, filters and zip archives behave, and points
land where the national grid says they are."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pytest

from conftest import STREET_HEADER, csv_bytes, street_row, write_file
from safestreets.config import Workspace
from safestreets.store import fetch_one, open_store
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.load import LoadOptions, LoadResult

pytestmark = pytest.mark.realdata

BURGLARY_YEARS = (2019, 2020, 2021)
OLD_NFA = "Nothing found - no further action"


@pytest.fixture(scope="module")
def police(shared_data: Path) -> Path:
    path = shared_data / "police_uk"
    if not path.is_dir():
        pytest.skip(f"police.uk files {path} are absent")
    return path


@pytest.fixture(scope="module")
def manifest(shared_data: Path) -> dict[str, dict[str, str]]:
    """MANIFEST.csv by file path relative to the data folder."""
    if not (shared_data / "MANIFEST.csv").exists():
        pytest.skip(f"{shared_data / 'MANIFEST.csv'} is absent")
    with open(shared_data / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[duckdb.DuckDBPyConnection]]:
    """Opened stores, closed at the end of the module; ``new_store`` adds one."""
    opened: list[duckdb.DuckDBPyConnection] = []
    yield opened
    for con in opened:
        con.close()


def new_store(
    factory: pytest.TempPathFactory, stores: list[duckdb.DuckDBPyConnection]
) -> duckdb.DuckDBPyConnection:
    con = open_store(Workspace(factory.mktemp("store") / "workspace"))
    stores.append(con)
    return con


def read_rows(path: Path) -> list[dict[str, str]]:
    """The file read independently of the loader (Python's csv module)."""
    data = path.read_bytes()
    text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def assert_reconciles(
    con: duckdb.DuckDBPyConnection,
    results: Sequence[LoadResult],
    manifest: dict[str, dict[str, str]],
    data_root: Path,
) -> None:
    """Every file: loaded + rejected + filtered = read, in the result and in its batch row; read equals
    the manifest's row count, and the batch's sha256 the manifest's hash of the uncompressed bytes."""
    for r in results:
        assert r.skipped_as is None, r
        assert r.rows_loaded + r.rows_rejected + r.rows_filtered == r.rows_read, r
        batch = fetch_one(
            con,
            "SELECT rows_read, rows_loaded, rows_rejected, rows_filtered, rows_no_location, sha256 "
            "FROM batches WHERE batch_id = ?",
            [r.batch_id],
        )
        assert batch is not None
        assert batch[:5] == (r.rows_read, r.rows_loaded, r.rows_rejected, r.rows_filtered, r.rows_no_location)
        entry = manifest[Path(r.source).relative_to(data_root).as_posix()]
        assert r.rows_read == int(entry["rows"]), r.source
        if entry["raw_sha256"]:
            assert batch[5] == entry["raw_sha256"], r.source


def count(con: duckdb.DuckDBPyConnection, table_and_condition: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table_and_condition}").fetchall()[0][0])


def no_location(path: Path) -> int:
    return sum(1 for row in read_rows(path) if not row["Longitude"].strip())


def month_of(source: str) -> str:
    m = re.search(r"(\d{4}-\d{2})-[a-z-]+-(street|outcomes|stop-and-search)\.csv", source)
    assert m is not None, source
    return m[1]


# --- City of London: every street and stop-and-search file -------------------------------------------


@pytest.fixture(scope="module")
def city(
    police: Path, tmp_path_factory: pytest.TempPathFactory, stores: list[duckdb.DuckDBPyConnection]
) -> tuple[duckdb.DuckDBPyConnection, list[LoadResult]]:
    con = new_store(tmp_path_factory, stores)
    return con, ingest_policeuk(con, police / "city_of_london")


def test_city_of_london_counts_reconcile(
    city: tuple[duckdb.DuckDBPyConnection, list[LoadResult]],
    manifest: dict[str, dict[str, str]],
    shared_data: Path,
) -> None:
    con, results = city
    by_kind = Counter(r.kind for r in results)
    assert by_kind == {"street": 50, "stop-and-search": 32}
    assert_reconciles(con, results, manifest, shared_data)
    assert sum(r.rows_read for r in results if r.kind == "street") == 35_946
    assert sum(r.rows_read for r in results if r.kind == "stop-and-search") == 6_449
    assert all(r.rows_rejected == 0 and r.rows_filtered == 0 for r in results)
    assert fetch_one(con, "SELECT count(*) FROM events") == (35_946,)
    assert fetch_one(con, "SELECT count(*) FROM stop_searches") == (6_449,)
    # Rows without coordinates are kept, and counted: against an independent count of blank Longitude.
    for r in results:
        assert r.rows_no_location == no_location(Path(r.source)), r.source
    for table, kind in (("events", "street"), ("stop_searches", "stop-and-search")):
        kept = fetch_one(con, f"SELECT count(*) FROM {table} WHERE lon IS NULL AND x IS NULL")
        assert kept == (sum(r.rows_no_location for r in results if r.kind == kind),)
    assert count(con, "stop_searches WHERE lon IS NULL") > 0
    assert fetch_one(con, "SELECT count(DISTINCT event_id) FROM events") == (35_946,)
    # The files write "No Location" where there is none: stored as no location, not as a place name.
    assert fetch_one(con, "SELECT count(*) FROM events WHERE location IS NULL") == (
        sum(r.rows_no_location for r in results if r.kind == "street"),
    )
    assert fetch_one(con, "SELECT count(*) FROM events WHERE (x IS NULL) <> (lon IS NULL)") == (0,)


def test_city_of_london_stop_search_months_and_instants(
    city: tuple[duckdb.DuckDBPyConnection, list[LoadResult]],
) -> None:
    con, results = city
    for r in results:
        if r.kind != "stop-and-search":
            continue
        stored = con.execute(
            "SELECT strftime(month, '%Y-%m'), occurred_at FROM stop_searches WHERE batch_id = ?", [r.batch_id]
        ).fetchall()
        assert {m for m, _ in stored} == {month_of(r.source)}
        published = sorted(dt.datetime.fromisoformat(row["Date"]) for row in read_rows(Path(r.source)))
        assert sorted(t for _, t in stored) == published, r.source


# --- Metropolitan stop and search: all 85 files -------------------------------------------------------


@pytest.mark.slow
def test_met_stop_and_search_all_files(
    police: Path,
    manifest: dict[str, dict[str, str]],
    shared_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stores: list[duckdb.DuckDBPyConnection],
) -> None:
    con = new_store(tmp_path_factory, stores)
    folder = police / "met_stop_and_search"
    results = ingest_policeuk(con, folder)
    assert len(results) == 85
    assert_reconciles(con, results, manifest, shared_data)
    assert sum(r.rows_read for r in results) == 1_069_661
    assert sum(r.rows_loaded for r in results) == 1_069_661
    assert sum(r.rows_no_location for r in results) == 282_422
    assert fetch_one(con, "SELECT count(*), count(*) FILTER (WHERE lon IS NULL) FROM stop_searches") == (
        1_069_661,
        282_422,
    )
    assert fetch_one(con, "SELECT count(DISTINCT search_id) FROM stop_searches_keyed") == (1_069_661,)

    # Outcome wording: today's in ``outcome``, the published one kept in ``outcome_raw``.
    assert fetch_one(con, "SELECT count(*) FROM stop_searches WHERE outcome = ?", [OLD_NFA]) == (0,)
    old = con.execute(
        "SELECT DISTINCT outcome FROM stop_searches WHERE outcome_raw = ?", [OLD_NFA]
    ).fetchall()
    assert old == [("A no further action disposal",)]
    assert count(con, f"stop_searches WHERE outcome_raw = '{OLD_NFA}'") > 0

    # Every row's month is its file's month, even where the instant falls in the month before (UTC).
    by_batch = dict(
        con.execute(
            "SELECT b.source, list(DISTINCT strftime(s.month, '%Y-%m')) FROM stop_searches s "
            "JOIN batches b USING (batch_id) GROUP BY ALL"
        ).fetchall()
    )
    assert len(by_batch) == 85
    assert all(months == [month_of(source)] for source, months in by_batch.items())
    early = fetch_one(
        con,
        "SELECT count(*) FROM stop_searches WHERE strftime(occurred_at AT TIME ZONE 'UTC', '%Y-%m') "
        "<> strftime(month, '%Y-%m')",
    )
    assert early is not None and early[0] > 0

    # Instants as published, for a winter file (+00:00) and a summer one (+01:00 offsets or BST edges).
    for name in (
        "2015-04-metropolitan-stop-and-search.csv.gz",
        "2018-07-metropolitan-stop-and-search.csv.gz",
    ):
        path = folder / name
        (r,) = [r for r in results if r.source == str(path)]
        stored = con.execute(
            "SELECT occurred_at FROM stop_searches WHERE batch_id = ?", [r.batch_id]
        ).fetchall()
        published = sorted(dt.datetime.fromisoformat(row["Date"]) for row in read_rows(path))
        assert sorted(t for (t,) in stored) == published, name


# --- Metropolitan burglary: repeated Crime IDs, determinism ------------------------------------------


def burglary_files(police: Path) -> list[Path]:
    folder = police / "met_burglary_only" / "street"
    return [folder / f"{y}-{m:02d}-metropolitan-street.csv.gz" for y in BURGLARY_YEARS for m in range(1, 13)]


def test_met_burglary_repeated_crime_ids_kept_with_deterministic_keys(
    police: Path,
    manifest: dict[str, dict[str, str]],
    shared_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stores: list[duckdb.DuckDBPyConnection],
) -> None:
    files = burglary_files(police)
    months = frozenset(month_of(f.name) for f in files)
    first = new_store(tmp_path_factory, stores)
    results = ingest_policeuk(first, police / "met_burglary_only" / "street", LoadOptions(months=months))
    assert [Path(r.source) for r in results] == files
    assert_reconciles(first, results, manifest, shared_data)
    total = sum(int(manifest[f.relative_to(shared_data).as_posix()]["rows"]) for f in files)
    assert sum(r.rows_loaded for r in results) == total
    assert fetch_one(first, "SELECT count(*), count(DISTINCT event_id) FROM events") == (total, total)
    assert fetch_one(first, "SELECT count(*) FROM events WHERE lon IS NULL") == (
        sum(r.rows_no_location for r in results),
    )
    assert sum(r.rows_no_location for r in results) > 0

    # Repeated Crime IDs are all kept: the first under the ID, the others numbered in file order.
    repeated = first.execute(
        "SELECT crime_id, list(event_id ORDER BY event_id) FROM events WHERE crime_id IN "
        "(SELECT crime_id FROM events GROUP BY crime_id HAVING count(*) > 1) GROUP BY crime_id"
    ).fetchall()
    assert len(repeated) > 100
    published = Counter(row["Crime ID"] for f in files[:3] for row in read_rows(f) if row["Crime ID"])
    for crime_id, event_ids in repeated:
        expected = [crime_id] + [f"{crime_id}#{n}" for n in range(2, len(event_ids) + 1)]
        assert event_ids == sorted(expected), crime_id
    for crime_id, n in published.items():
        if n > 1:
            assert fetch_one(first, "SELECT count(*) FROM events WHERE crime_id = ?", [crime_id]) == (n,)

    # A second store, loaded file by file in the opposite order (the last year, to keep this quick),
    # gives the same keys to the same rows.
    second = new_store(tmp_path_factory, stores)
    last_year = files[-12:]
    for f in reversed(last_year):
        ingest_policeuk(second, f)
    query = (
        "SELECT event_id, crime_id, month, crime_type, lon, lat, x, y, location, lsoa_code, outcome "
        "FROM events WHERE month >= ? ORDER BY event_id"
    )
    start = dt.date(BURGLARY_YEARS[-1], 1, 1)
    again = second.execute(query, [start]).fetchall()
    assert len(again) == sum(r.rows_loaded for r in results[-12:])
    assert first.execute(query, [start]).fetchall() == again


# --- West Yorkshire and the Met burglary outcomes ------------------------------------------------------


def test_west_yorkshire_full_files(
    police: Path,
    manifest: dict[str, dict[str, str]],
    shared_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stores: list[duckdb.DuckDBPyConnection],
) -> None:
    con = new_store(tmp_path_factory, stores)
    results = ingest_policeuk(con, police / "west_yorkshire")
    assert [month_of(r.source) for r in results] == ["2016-07", "2017-07", "2018-07"]
    assert_reconciles(con, results, manifest, shared_data)
    assert sum(r.rows_loaded for r in results) == 87_348
    for r in results:
        assert r.rows_no_location == no_location(Path(r.source))
    assert fetch_one(con, "SELECT count(*), count(DISTINCT event_id) FROM events") == (87_348, 87_348)
    assert fetch_one(con, "SELECT count(DISTINCT crime_type) FROM events") == (14,)
    assert fetch_one(con, "SELECT count(*) FROM events WHERE location IS NULL") == (
        sum(r.rows_no_location for r in results),
    )
    # Anti-social behaviour has no Crime ID: it gets a hash key, not a NULL one.
    asb = fetch_one(
        con,
        "SELECT count(*), count(*) FILTER (WHERE event_id IS NULL OR crime_id IS NOT NULL) FROM events "
        "WHERE crime_type = 'Anti-social behaviour'",
    )
    assert asb is not None and asb[0] > 10_000 and asb[1] == 0
    assert fetch_one(con, "SELECT DISTINCT force FROM events") == ("west-yorkshire",)


def test_met_burglary_outcomes(
    police: Path,
    manifest: dict[str, dict[str, str]],
    shared_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stores: list[duckdb.DuckDBPyConnection],
) -> None:
    con = new_store(tmp_path_factory, stores)
    folder = police / "met_burglary_only" / "outcomes"
    results = ingest_policeuk(con, folder)
    assert len(results) == 12 and {r.kind for r in results} == {"outcomes"}
    assert_reconciles(con, results, manifest, shared_data)
    total = sum(r.rows_read for r in results)
    assert fetch_one(con, "SELECT count(*) FROM outcomes") == (total,)
    missing = sum(no_location(Path(r.source)) for r in results)
    assert fetch_one(con, "SELECT count(*) FROM outcomes WHERE lon IS NULL") == (missing,)
    assert fetch_one(con, "SELECT count(*) FROM outcomes WHERE location IS NULL") == (missing,)
    published = Counter(row["Outcome type"] for f in sorted(folder.iterdir()) for row in read_rows(f))
    stored = dict(con.execute("SELECT outcome_raw, count(*) FROM outcomes GROUP BY ALL").fetchall())
    assert stored == dict(published)
    assert fetch_one(con, "SELECT count(*) FROM outcomes WHERE outcome_type IS NULL") == (0,)


# --- Filters -------------------------------------------------------------------------------------------


def test_force_and_month_filters_load_only_what_they_say(
    police: Path,
    manifest: dict[str, dict[str, str]],
    shared_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stores: list[duckdb.DuckDBPyConnection],
) -> None:
    def expected(pattern: str) -> tuple[set[str], int]:
        names = {f for f in manifest if f.startswith("police_uk/") and re.search(pattern, f)}
        return names, sum(int(manifest[f]["rows"]) for f in names)

    cases = [
        (LoadOptions(forces=frozenset({"west-yorkshire"})), r"-west-yorkshire-"),
        (LoadOptions(months=frozenset({"2018-07"})), r"/2018-07-"),
        (
            LoadOptions(forces=frozenset({"city-of-london"}), months=frozenset({"2019-01", "2019-02"})),
            r"/2019-0[12]-city-of-london-",
        ),
    ]
    for opts, pattern in cases:
        con = new_store(tmp_path_factory, stores)
        results = ingest_policeuk(con, police, opts)
        names, rows = expected(pattern)
        assert {Path(r.source).relative_to(shared_data).as_posix() for r in results} == names
        assert_reconciles(con, results, manifest, shared_data)
        assert sum(r.rows_loaded for r in results) == rows
        for table in ("events", "outcomes", "stop_searches"):
            forces = {f for (f,) in con.execute(f"SELECT DISTINCT force FROM {table}").fetchall()}
            months = {
                m for (m,) in con.execute(f"SELECT DISTINCT strftime(month, '%Y-%m') FROM {table}").fetchall()
            }
            assert not opts.forces or forces <= opts.forces
            assert not opts.months or months <= opts.months
        loaded = sum(count(con, t) for t in ("events", "outcomes", "stop_searches"))
        assert loaded == rows


def test_filters_apply_to_rows_when_file_names_do_not_tell(
    police: Path, tmp_path: Path, store: duckdb.DuckDBPyConnection
) -> None:
    folder = tmp_path / "unnamed"
    folder.mkdir()
    wy = shutil.copy(police / "west_yorkshire" / "2016-07-west-yorkshire-street.csv.gz", folder / "a.csv.gz")
    col = shutil.copy(police / "city_of_london" / "2018-04-city-of-london-street.csv.gz", folder / "b.csv.gz")
    results = ingest_policeuk(store, folder, LoadOptions(forces=frozenset({"west-yorkshire"})))
    by_file = {Path(r.source).name: r for r in results}
    assert by_file["a.csv.gz"].rows_filtered == 0
    assert by_file["a.csv.gz"].rows_loaded == by_file["a.csv.gz"].rows_read == len(read_rows(Path(wy)))
    assert by_file["b.csv.gz"].rows_loaded == 0
    assert by_file["b.csv.gz"].rows_filtered == by_file["b.csv.gz"].rows_read == len(read_rows(Path(col)))
    assert fetch_one(store, "SELECT list(DISTINCT force) FROM events") == (["west-yorkshire"],)
    # A month filter on a file of another month keeps nothing, and says so.
    (r,) = ingest_policeuk(store, col, LoadOptions(months=frozenset({"2018-05"})))
    assert (r.rows_loaded, r.rows_filtered) == (0, r.rows_read)


# --- The bulk archive read in place --------------------------------------------------------------------


def test_zip_archive_read_in_place_matches_the_folder(
    police: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    stores: list[duckdb.DuckDBPyConnection],
) -> None:
    months = ["2019-06", "2019-07", "2023-12"]
    names = [f"{m}-city-of-london-street.csv.gz" for m in months] + [
        "2019-07-city-of-london-stop-and-search.csv.gz"
    ]
    folder = tmp_path / "folder"
    folder.mkdir()
    archive = tmp_path / "2024-01.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in names:
            shutil.copy(police / "city_of_london" / name, folder / name)
            member = f"{name[:7]}/{name.removesuffix('.gz')}"
            zf.writestr(member, gzip.decompress((police / "city_of_london" / name).read_bytes()))

    from_zip = new_store(tmp_path_factory, stores)
    zip_results = ingest_policeuk(from_zip, archive)
    from_folder = new_store(tmp_path_factory, stores)
    folder_results = ingest_policeuk(from_folder, folder)
    assert len(zip_results) == len(folder_results) == 4
    assert all("::" in r.source and r.source.startswith(str(archive)) for r in zip_results)
    for a, b in zip(zip_results, folder_results, strict=True):
        assert (a.kind, a.rows_read, a.rows_loaded, a.rows_no_location, a.months) == (
            b.kind,
            b.rows_read,
            b.rows_loaded,
            b.rows_no_location,
            b.months,
        )
    for table, key in (("events", "event_id"), ("stop_searches_keyed", "search_id")):
        query = f"SELECT * EXCLUDE (batch_id) FROM {table} ORDER BY {key}"
        rows = from_zip.execute(query).fetchall()
        assert rows and rows == from_folder.execute(query).fetchall()
    sha = "SELECT list(sha256 ORDER BY sha256) FROM batches"
    assert fetch_one(from_zip, sha) == fetch_one(from_folder, sha)
    # With a month filter, only the matching members are read.
    (r,) = ingest_policeuk(
        new_store(tmp_path_factory, stores),
        archive,
        LoadOptions(months=frozenset({"2023-12"})),
        kind="street",
    )
    assert r.source == f"{archive}::2023-12/2023-12-city-of-london-street.csv"


# --- Projection against the national grid --------------------------------------------------------------


def test_points_project_to_british_national_grid_within_a_metre(
    shared_data: Path, tmp_path: Path, store: duckdb.DuckDBPyConnection
) -> None:
    stations_file = shared_data / "transport" / "naptan_rail_stations_greater_london.csv"
    if not stations_file.exists():
        pytest.skip(f"{stations_file} is absent")
    stations = read_rows(stations_file)
    # Spread over London: the most westerly, easterly, northerly and southerly, and some between.
    picks = {
        min(stations, key=lambda s: float(s["Easting"]))["AtcoCode"],
        max(stations, key=lambda s: float(s["Easting"]))["AtcoCode"],
        min(stations, key=lambda s: float(s["Northing"]))["AtcoCode"],
        max(stations, key=lambda s: float(s["Northing"]))["AtcoCode"],
        *(s["AtcoCode"] for s in stations[::40]),
    }
    chosen = [s for s in stations if s["AtcoCode"] in picks]
    assert len(chosen) >= 10
    rows = [
        street_row(Crime_ID=s["AtcoCode"], Longitude=s["longitude"], Latitude=s["latitude"],
                   Location=f"On or near {s['StationName']}", Reported_by="Metropolitan Police Service",
                   Falls_within="Metropolitan Police Service")
        for s in chosen
    ]  # fmt: skip
    path = write_file(tmp_path / "2023-01-metropolitan-street.csv", csv_bytes(STREET_HEADER, rows))
    ingest_policeuk(store, path)
    got = {cid: (x, y) for cid, x, y in store.execute("SELECT crime_id, x, y FROM events").fetchall()}
    assert len(got) == len(chosen)
    for s in chosen:
        x, y = got[s["AtcoCode"]]
        easting, northing = float(s["Easting"]), float(s["Northing"])
        assert abs(x - easting) < 1.0 and abs(y - northing) < 1.0, (s["StationName"], x, y, easting, northing)
