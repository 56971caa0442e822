"""The bad-input catalogue: every malformed police.uk file fails with one readable line naming the file,
the row and the column, and leaves the store exactly as it was; ``skip_bad_rows`` loads the rest."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from conftest import (
    OUTCOMES_HEADER,
    STOP_HEADER,
    STREET_HEADER,
    csv_bytes,
    stop_row,
    store_fingerprint,
    street_row,
    table_counts,
    write_file,
)
from safestreets.config import Workspace
from safestreets.errors import InputError
from safestreets.store import fetch_one, open_store
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.load import LoadOptions

STREET_NAME = "2023-01-city-of-london-street.csv"
STOP_NAME = "2023-01-city-of-london-stop-and-search.csv"


def good_street(n: int = 5) -> list[dict[str, str]]:
    return [street_row(Crime_ID=f"good{i:03d}") for i in range(n)]


def good_stops(n: int = 5) -> list[dict[str, str]]:
    return [stop_row(Date=f"2023-01-{i + 2:02d}T10:30:00+00:00") for i in range(n)]


def with_bad(rows: list, at: int, bad: dict[str, str] | list[str]) -> list:
    """``rows`` with ``bad`` inserted so that it is data row ``at`` (rows count from 1)."""
    return [*rows[: at - 1], bad, *rows[at - 1 :]]


@dataclass(frozen=True)
class Case:
    name: str
    file_name: str
    make: Callable[[], bytes]
    row: int | None  # the data row the error must name (0: the header); None: no row
    column: str | None  # the column it must name; None: no column
    reason: str  # a fragment the message must hold
    kind: str | None = None
    row_level: bool = True  # skip_bad_rows sets the row aside and loads the rest


def _street(rows: list, **kw: object) -> Callable[[], bytes]:
    return lambda: csv_bytes(STREET_HEADER, rows, **kw)  # type: ignore[arg-type]


def _stops(rows: list) -> Callable[[], bytes]:
    return lambda: csv_bytes(STOP_HEADER, rows)


def _renamed(old: str, new: str) -> Callable[[], bytes]:
    header = [new if c == old else c for c in STREET_HEADER]
    rows = [[r[c] for c in STREET_HEADER] for r in good_street()]
    return lambda: csv_bytes(header, rows)


def _without(column: str) -> Callable[[], bytes]:
    header = [c for c in STREET_HEADER if c != column]
    return lambda: csv_bytes(header, good_street())


def _truncated_gzip() -> bytes:
    whole = gzip.compress(csv_bytes(STREET_HEADER, good_street(200)))
    return whole[: len(whole) // 2]


def _real_outcomes() -> bytes:
    return csv_bytes(
        OUTCOMES_HEADER,
        [dict(street_row(Crime_ID=f"o{i}"), **{"Outcome type": "Suspect charged"}) for i in range(3)],
    )


CASES = [
    Case("header-column-renamed", STREET_NAME, _renamed("Longitude", "Lng"), 0, "Longitude", "lacks",
         row_level=False),
    Case("header-column-missing", STREET_NAME, _without("Context"), 0, "Context", "lacks", row_level=False),
    Case("header-column-extra", STREET_NAME,
         lambda: csv_bytes([*STREET_HEADER, "Notes"], [[*street_row().values(), "x"]]), 0, "Notes",
         "unexpected column", row_level=False),
    Case("header-column-twice", STREET_NAME,
         lambda: csv_bytes([*STREET_HEADER, "Month"], [[*street_row().values(), "2023-01"]]), 0, "Month",
         "twice", row_level=False),
    # The file name says street, so the header is read as a street header that lacks a column.
    Case("header-kind-column-renamed", STREET_NAME, _renamed("Crime type", "Offence"), 0, "Crime type",
         "lacks", row_level=False),
    # Nothing says what kind of file this is.
    Case("header-kind-column-renamed-unnamed-file", "download.csv", _renamed("Crime type", "Offence"), 0,
         None, "not a data.police.uk", row_level=False),
    Case("month-13", STREET_NAME, _street(with_bad(good_street(), 3, street_row(Month="2023-13"))), 3,
         "Month", "YYYY-MM"),
    Case("month-words", STREET_NAME, _street(with_bad(good_street(), 2, street_row(Month="Jan 2023"))), 2,
         "Month", "YYYY-MM"),
    Case("longitude-not-a-number", STREET_NAME,
         _street(with_bad(good_street(), 4, street_row(Longitude="abc"))), 4, "Longitude", "not a number"),
    Case("latitude-not-a-number", STREET_NAME,
         _street(with_bad(good_street(), 1, street_row(Latitude="51.5N"))), 1, "Latitude", "not a number"),
    Case("longitude-not-a-number-latitude-blank", STREET_NAME,
         _street(with_bad(good_street(), 2, street_row(Longitude="W0.09", Latitude=""))), 2, "Longitude",
         "not a number"),
    Case("latitude-out-of-range", STREET_NAME,
         _street(with_bad(good_street(), 5, street_row(Latitude="91.5"))), 5, "Latitude", "-90 to 90"),
    Case("longitude-out-of-range", STREET_NAME,
         _street(with_bad(good_street(), 2, street_row(Longitude="-181"))), 2, "Longitude", "-180 to 180"),
    Case("latitude-without-longitude", STREET_NAME,
         _street(with_bad(good_street(), 2, street_row(Longitude=""))), 2, "Latitude", "without"),
    Case("truncated-gzip", STREET_NAME + ".gz", _truncated_gzip, None, None, "gzip", row_level=False),
    Case("gz-name-but-not-gzip", STREET_NAME + ".gz", lambda: b"\x1f\x8b\x08\x00 not really gzip", None,
         None, "gzip", row_level=False),
    # A file in the wrong encoding is wrong everywhere, not only where it shows: the file fails whole.
    Case("latin-1", STREET_NAME,
         _street(with_bad(good_street(), 3, street_row(Location="On or near Café Nero")), encoding="latin-1"),
         3, "Location", "UTF-8", row_level=False),
    Case("utf-16", STREET_NAME, _street(good_street(), encoding="utf-16"), 0, None, "UTF-8",
         row_level=False),
    Case("empty", STREET_NAME, lambda: b"", None, None, "empty", row_level=False),
    Case("blank-lines-only", STREET_NAME, lambda: b"\n\r\n  \n", None, None, "empty", row_level=False),
    Case("header-only", STREET_NAME, _street([]), None, None, "no data rows", row_level=False),
    Case("header-only-crlf", STREET_NAME, _street([], newline="\r\n"), None, None, "no data rows",
         row_level=False),
    Case("outcomes-as-street", "download.csv", _real_outcomes, 0, None, "outcomes file", kind="street",
         row_level=False),
    Case("outcomes-named-as-street", "2023-01-city-of-london-outcomes.csv", _real_outcomes, 0, None,
         "outcomes file", kind="street", row_level=False),
    Case("street-named-as-outcomes", "2023-01-city-of-london-outcomes.csv", _street(good_street()), 0, None,
         "street file", row_level=False),
    Case("too-many-fields", STREET_NAME,
         _street(with_bad(good_street(), 2, [*street_row().values(), "extra"])), 2, None, "found 13"),
    Case("too-few-fields", STREET_NAME,
         _street(with_bad(good_street(), 4, list(street_row().values())[:9])), 4, None, "found 9"),
    Case("unknown-crime-type", STREET_NAME,
         _street(with_bad(good_street(), 2, street_row(Crime_type="Burglery"))), 2, "Crime type",
         "crime types"),
    Case("stop-search-date-day-32", STOP_NAME,
         _stops(with_bad(good_stops(), 2, stop_row(Date="2023-01-32T10:00:00+00:00"))),
         2, "Date", "ISO 8601"),
    Case("stop-search-date-british", STOP_NAME,
         _stops(with_bad(good_stops(), 3, stop_row(Date="05/01/2023 10:30"))),
         3, "Date", "ISO 8601"),
    Case("stop-search-date-blank", STOP_NAME,
         _stops(with_bad(good_stops(), 1, stop_row(Date=""))), 1, "Date",
         "ISO 8601"),
    Case("stop-search-flag-not-boolean", STOP_NAME,
         _stops(with_bad(good_stops(), 2, stop_row(Part_of_a_policing_operation="Maybe"))),
         2, "Part of a policing operation", "True or False"),
]  # fmt: skip


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file already holding the same force and month as the bad files (so a bad load that
    replaced anything would show) and another month; each test gets its own copy."""
    root = tmp_path_factory.mktemp("seeded")
    seed = root / "seed"
    write_file(seed / STREET_NAME, csv_bytes(STREET_HEADER, [street_row(Crime_ID=f"s{i}") for i in range(7)]))
    write_file(seed / STOP_NAME, csv_bytes(STOP_HEADER, [stop_row(Age_range=f"{i}") for i in range(4)]))
    write_file(
        seed / "2022-12-city-of-london-street.csv",
        csv_bytes(STREET_HEADER, [street_row(Crime_ID=f"d{i}", Month="2022-12") for i in range(3)]),
    )
    workspace = Workspace(root / "workspace")
    con = open_store(workspace)
    ingest_policeuk(con, seed)
    assert table_counts(con)["events"] == 10
    con.close()
    return workspace.db_path


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    workspace = Workspace(tmp_path / "workspace").ensure()
    shutil.copyfile(seeded_template, workspace.db_path)
    con = open_store(workspace)
    yield con
    con.close()


def assert_names_place(err: InputError, path: Path, case: Case) -> None:
    """One line: where (file, row, column), then what is wrong."""
    message = str(err)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    where, _, reason = message[len(str(path)) :].partition(": ")
    assert case.reason in reason, message
    assert (err.row, err.column) == (case.row, case.column), message
    if case.row is None:
        assert "row" not in where, message
    else:
        assert f"row {case.row} (line {case.row + 1})" in where, message
    if case.column is None:
        assert "column" not in where, message
    else:
        assert f"column {case.column!r}" in where, message


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file(case: Case, seeded: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write_file(tmp_path / "in" / case.file_name, case.make())
    before = store_fingerprint(seeded)
    with pytest.raises(InputError) as caught:
        ingest_policeuk(seeded, path, kind=case.kind)
    assert_names_place(caught.value, path, case)
    assert store_fingerprint(seeded) == before

    if case.row_level:
        assert_skip_bad_rows_loads_the_rest(seeded, path, case)
    else:
        with pytest.raises(InputError) as caught:
            ingest_policeuk(seeded, path, LoadOptions(skip_bad_rows=True), kind=case.kind)
        assert_names_place(caught.value, path, case)
        assert store_fingerprint(seeded) == before
        # The connection is still usable and clean for the next file.
        good = write_file(tmp_path / "next" / "2023-02-city-of-london-street.csv",
                          csv_bytes(STREET_HEADER, [street_row(Month="2023-02")]))  # fmt: skip
        assert [r.rows_loaded for r in ingest_policeuk(seeded, good)] == [1]


def assert_skip_bad_rows_loads_the_rest(con: duckdb.DuckDBPyConnection, path: Path, case: Case) -> None:
    before = table_counts(con)
    (result,) = ingest_policeuk(con, path, LoadOptions(skip_bad_rows=True), kind=case.kind)
    assert result.batch_id is not None
    assert result.rows_rejected == 1
    assert result.rows_loaded == result.rows_read - 1
    assert result.rows_filtered == 0
    assert result.rows_loaded + result.rows_rejected + result.rows_filtered == result.rows_read
    batch = fetch_one(
        con,
        "SELECT rows_read, rows_loaded, rows_rejected, rows_filtered FROM batches WHERE batch_id = ?",
        [result.batch_id],
    )
    assert batch == (result.rows_read, result.rows_loaded, result.rows_rejected, 0)
    rejects = con.execute(
        "SELECT row_number, column_name, reason FROM rejects WHERE batch_id = ? ORDER BY ALL",
        [result.batch_id],
    ).fetchall()
    assert {r[0] for r in rejects} == {case.row}
    assert (case.row, case.column) in {(r[0], r[1]) for r in rejects}
    assert any(case.reason in r[2] for r in rejects), rejects
    target = "stop_searches" if "stop-and-search" in case.file_name else "events"
    after = table_counts(con)
    # The file's month replaces the seeded one: what is there now is exactly the file's good rows.
    assert result.rows_replaced == {"events": 7, "stop_searches": 4}[target]
    assert after[target] == before[target] - result.rows_replaced + result.rows_loaded
    assert after["batches"] == before["batches"] + 1
    in_batch = fetch_one(con, f"SELECT count(*) FROM {target} WHERE batch_id = ?", [result.batch_id])
    assert in_batch == (result.rows_loaded,)


def test_many_bad_rows_first_is_named_and_all_are_rejected(
    seeded: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows: list = good_street(10)
    rows[2] = street_row(Month="2023-13")  # row 3
    rows[4] = [*street_row().values(), "extra"]  # row 5
    rows[6] = street_row(Crime_type="Knife crime", Latitude="99")  # row 7: two problems
    rows[9] = street_row(Longitude="", Latitude="")  # row 10: no location is fine
    path = write_file(tmp_path / STREET_NAME, csv_bytes(STREET_HEADER, rows))
    before = store_fingerprint(seeded)
    with pytest.raises(InputError) as caught:
        ingest_policeuk(seeded, path)
    err = caught.value
    assert (err.row, err.column, err.value) == (3, "Month", "2023-13")
    assert "3 rows have problems" in str(err)
    assert store_fingerprint(seeded) == before

    (result,) = ingest_policeuk(seeded, path, LoadOptions(skip_bad_rows=True))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (10, 7, 3)
    assert result.rows_no_location == 1
    rejects = seeded.execute(
        "SELECT row_number, column_name, value FROM rejects WHERE batch_id = ? ORDER BY ALL",
        [result.batch_id],
    ).fetchall()
    assert {r[0] for r in rejects} == {3, 5, 7}
    assert (3, "Month", "2023-13") in rejects
    assert (7, "Crime type", "Knife crime") in rejects
    assert (7, "Latitude", "99") in rejects
    loaded = {
        r[0]
        for r in seeded.execute(
            "SELECT crime_id FROM events WHERE batch_id = ?", [result.batch_id]
        ).fetchall()
    }
    assert loaded == {f"good{i:03d}" for i in (0, 1, 3, 5, 7, 8)} | {"c0ffee"}


def test_bad_file_in_a_folder_stops_there_and_keeps_earlier_files(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Each file loads whole or not at all: files before the bad one stay, nothing of it or after it lands."""
    folder = tmp_path / "in"
    write_file(folder / "2023-01-city-of-london-street.csv", csv_bytes(STREET_HEADER, good_street(3)))
    february = [street_row(Month="2023-02"), street_row(Month="2023-2")]
    write_file(folder / "2023-02-city-of-london-street.csv", csv_bytes(STREET_HEADER, february))
    write_file(
        folder / "2023-03-city-of-london-street.csv", csv_bytes(STREET_HEADER, [street_row(Month="2023-03")])
    )
    with pytest.raises(InputError) as caught:
        ingest_policeuk(store, folder)
    assert "2023-02-city-of-london-street.csv" in str(caught.value)
    assert caught.value.row == 2
    assert table_counts(store)["events"] == 3
    assert table_counts(store)["batches"] == 1


def test_bad_member_of_a_zip_archive_is_named_by_archive_and_member(
    store: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "2023-03.zip"
    bad_member = "2023-02/2023-02-city-of-london-street.csv"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("2023-01/2023-01-city-of-london-street.csv", csv_bytes(STREET_HEADER, good_street(4)))
        rows = with_bad([street_row(Month="2023-02")] * 3, 2, street_row(Month="2023-02", Latitude="95"))
        zf.writestr(bad_member, csv_bytes(STREET_HEADER, rows))
    with pytest.raises(InputError) as caught:
        ingest_policeuk(store, archive)
    err = caught.value
    assert str(err).startswith(f"{archive}::{bad_member}, row 2 (line 3), column 'Latitude': ")
    # The good member before it is in (its own transaction); nothing of the bad one is.
    assert fetch_one(store, "SELECT list(DISTINCT strftime(month, '%Y-%m')), count(*) FROM events") == (
        ["2023-01"],
        4,
    )
    assert table_counts(store)["batches"] == 1
