"""Property tests of the CSV reader and the street loader on generated police.uk files: whatever the
quoting, line endings, BOM or compression, every valid row loads with its values intact and stable
keys; one corrupted field fails the file at exactly that row and column."""

from __future__ import annotations

import csv
import gzip
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import STREET_HEADER, csv_bytes, table_counts
from safestreets.config import Workspace
from safestreets.errors import InputError
from safestreets.sources.csvread import TextSource, parse_text
from safestreets.store import open_store
from safestreets.store.ingest import ingest_policeuk
from safestreets.store.load import LoadOptions, LoadResult
from safestreets.vocab import CRIME_TYPES, OUTCOME_RENAMES

FORCES = {
    "City of London Police": "city-of-london",
    "Metropolitan Police Service": "metropolitan",
    "West Yorkshire Police": "west-yorkshire",
}
OUTCOMES = ["", "Under investigation", "Investigation complete; no suspect identified", "No further action",
            "Offender imprisoned", "Awaiting court outcome", "Status update unavailable"]  # fmt: skip
# Commas, quotes and apostrophes inside fields are what quoting has to get right; é and ’ are the
# non-ASCII characters real street names and place names bring.
ALPHABET = "abcXYZ019 ,\"';-/()&é’"

text = st.text(alphabet=ALPHABET, max_size=24)
crime_ids = st.one_of(
    st.just(""),  # anti-social behaviour and old rows
    st.binary(min_size=32, max_size=32).map(bytes.hex),
    st.sampled_from(["repeated-a", "repeated-b"]),  # Crime IDs published twice
)
months = st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2010, 2025), st.integers(1, 12))
coordinate_formats = st.sampled_from(["{:.6f}", "{:.2f}", "{!r}"])
points = st.one_of(
    st.just(("", "")),
    st.builds(
        lambda lon, lat, fmt: (fmt.format(lon), fmt.format(lat)),
        st.floats(-6.5, 2.0, allow_nan=False),
        st.floats(49.8, 55.9, allow_nan=False),
        coordinate_formats,
    ),
)


@st.composite
def street_rows(draw: st.DrawFn) -> dict[str, str]:
    force = draw(st.sampled_from(list(FORCES)))
    lon, lat = draw(points)
    return {
        "Crime ID": draw(crime_ids),
        "Month": draw(months),
        "Reported by": force,
        "Falls within": draw(st.sampled_from([force, ""])),  # blank: the loader falls back on Reported by
        "Longitude": lon,
        "Latitude": lat,
        # Street files say "No Location", outcomes files "No location".
        "Location": draw(st.one_of(text, st.sampled_from(["No Location", "No location"])))
        if lon
        else draw(st.sampled_from(["No Location", "No location", ""])),
        "LSOA code": draw(text) if lon else "",
        "LSOA name": draw(text) if lon else "",
        "Crime type": draw(st.sampled_from(list(CRIME_TYPES))),
        "Last outcome category": draw(st.sampled_from(OUTCOMES)),
        "Context": draw(text),
    }


@dataclass(frozen=True)
class Layout:
    bom: bool
    newline: str
    compress: bool
    quoting: int

    def encode(self, rows: list[dict[str, str]]) -> bytes:
        data = csv_bytes(STREET_HEADER, rows, newline=self.newline, quoting=self.quoting)
        return b"\xef\xbb\xbf" + data if self.bom else data

    def write(self, folder: Path, rows: list[dict[str, str]]) -> Path:
        path = folder / ("download.csv.gz" if self.compress else "download.csv")
        data = self.encode(rows)
        path.write_bytes(gzip.compress(data, compresslevel=1) if self.compress else data)
        return path


layouts = st.builds(
    Layout,
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    compress=st.booleans(),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)


def _clean(value: str) -> str | None:
    value = value.strip()
    return value or None


def expected_row(row: dict[str, str]) -> tuple[Any, ...]:
    """What the store should hold for a published row, worked out without the loader."""
    outcome = _clean(row["Last outcome category"])
    location = _clean(row["Location"])
    return (
        _clean(row["Crime ID"]),
        row["Month"],
        FORCES[row["Reported by"]],
        row["Crime type"],
        float(row["Longitude"]) if row["Longitude"] else None,
        float(row["Latitude"]) if row["Latitude"] else None,
        None if location and location.lower() == "no location" else location,
        _clean(row["LSOA code"]),
        _clean(row["LSOA name"]),
        OUTCOME_RENAMES.get(outcome, outcome) if outcome else None,
        _clean(row["Context"]),
    )


KEYED = """SELECT event_id, crime_id, strftime(month, '%Y-%m'), force, crime_type, lon, lat, location,
    lsoa_code, lsoa_name, outcome, context FROM events"""


def load_into_fresh_store(
    folder: Path, path: Path, name: str
) -> tuple[list[LoadResult], dict[str, tuple], dict]:
    """Load ``path`` into a new store; the results, each stored row by its event_id, and table counts."""
    con = open_store(Workspace(folder / name))
    try:
        results = ingest_policeuk(con, path)
        keyed = {row[0]: row[1:] for row in con.execute(KEYED).fetchall()}
        return results, keyed, table_counts(con)
    finally:
        con.close()


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(street_rows(), min_size=1, max_size=25), layout=layouts)
def test_valid_street_rows_round_trip(rows: list[dict[str, str]], layout: Layout) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = layout.write(folder, rows)
        (result,), keyed, counts = load_into_fresh_store(folder, path, "first")
        n = len(rows)
        assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == (
            n,
            n,
            0,
            0,
        )
        assert result.rows_no_location == sum(1 for r in rows if not r["Longitude"])
        assert counts["events"] == n and counts["batches"] == 1 and counts["rejects"] == 0
        assert len(keyed) == n  # every row has its own event_id
        assert Counter(keyed.values()) == Counter(expected_row(r) for r in rows)
        # A re-load into a fresh store gives every row the same key.
        _, again, _ = load_into_fresh_store(folder, path, "second")
        assert again == keyed


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(street_rows(), min_size=1, max_size=25), layout=layouts)
def test_parser_keeps_every_field_verbatim(rows: list[dict[str, str]], layout: Layout) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = layout.write(Path(tmp), rows)
        parsed = parse_text(TextSource(path))
        assert parsed.rows_read == len(rows) and not parsed.bad_rows
        assert parsed.table.column("_row").to_pylist() == list(range(1, len(rows) + 1))
        assert parsed.table.drop_columns(["_row"]).to_pylist() == rows


CORRUPTIONS = {
    "Month": ["2023-13", "Jan 2023", "2023-1", "", "23-01"],
    "Longitude": ["abc", "200", "-0,1", "1e999x"],
    "Latitude": ["N51.5", "-91", "91.0001"],
    "Crime type": ["Burglery", "", "Knife crime"],
}


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[list[dict[str, str]], int, str]:
    rows = draw(st.lists(street_rows(), min_size=1, max_size=25))
    at = draw(st.integers(0, len(rows) - 1))
    column = draw(st.sampled_from(list(CORRUPTIONS)))
    rows[at] = {**rows[at], column: draw(st.sampled_from(CORRUPTIONS[column]))}
    return rows, at + 1, column


@settings(max_examples=30, deadline=None)
@given(case=corrupted(), layout=layouts)
def test_one_corrupted_field_names_its_row_and_column(case: tuple[list[dict[str, str]], int, str],
                                                     layout: Layout) -> None:  # fmt: skip
    rows, row, column = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = layout.write(folder, rows)
        con = open_store(Workspace(folder / "store"))
        try:
            try:
                ingest_policeuk(con, path)
            except InputError as err:
                assert (err.row, err.column) == (row, column), str(err)
                assert str(err).startswith(f"{path}, row {row} (line {row + 1}), column {column!r}: ")
            else:
                raise AssertionError(f"row {row} {column} = {rows[row - 1][column]!r} was accepted")
            assert table_counts(con) == dict.fromkeys(table_counts(con), 0)
            (result,) = ingest_policeuk(con, path, LoadOptions(skip_bad_rows=True))
            assert (result.rows_loaded, result.rows_rejected) == (len(rows) - 1, 1)
            rejected = con.execute("SELECT DISTINCT row_number FROM rejects").fetchall()
            assert rejected == [(row,)]
        finally:
            con.close()
