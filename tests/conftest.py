"""Shared test fixtures."""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import settings

from safestreets.config import Workspace
from safestreets.store import open_store

# Machines here are shared and noisy: judge property tests by their properties, not their speed.
settings.register_profile("safestreets", deadline=None)
settings.load_profile("safestreets")

# Batch commands lower their own CPU priority; run in-process here, they would lower the test run's.
os.environ.setdefault("SAFESTREETS_BATCH_NICE", "0")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout (../shared/data); tests that need it skip without it."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent")
    return path


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic city run through the whole demo (ingest, forecast, plan, brief), shared by the
    CLI tests. Tests that add runs to it must name the run they read (forecast run 1, plan 1)."""
    from test_cli import run

    ws = tmp_path_factory.mktemp("city") / "ws"
    r = run("demo", "--events", "12000", "--months", "12", workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "forecast: violence" in r.stdout and "why:" in r.stdout
    assert "plan: week of" in r.stdout and "briefing:" in r.stdout
    return ws


# --- police.uk files and stores for the ingest tests ------------------------------------------------

# The published headers, spelt out here rather than imported, so a typo in the code's own copy shows.
STREET_HEADER = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip
OUTCOMES_HEADER = (*STREET_HEADER[:9], "Outcome type")
STOP_HEADER = (
    "Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude",
    "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
    "Object of search", "Outcome", "Outcome linked to object of search",
    "Removal of more than just outer clothing",
)  # fmt: skip
STORE_TABLES = ("events", "outcomes", "stop_searches", "batches", "rejects")


def street_row(**fields: str) -> dict[str, str]:
    """A valid City of London street row; keyword arguments replace fields (spaces as underscores)."""
    row = {
        "Crime ID": "c0ffee",
        "Month": "2023-01",
        "Reported by": "City of London Police",
        "Falls within": "City of London Police",
        "Longitude": "-0.091000",
        "Latitude": "51.515000",
        "Location": "On or near Cheapside",
        "LSOA code": "E01032739",
        "LSOA name": "City of London 001F",
        "Crime type": "Burglary",
        "Last outcome category": "Investigation complete; no suspect identified",
        "Context": "",
    }
    row.update({k.replace("_", " "): v for k, v in fields.items()})
    return row


def stop_row(**fields: str) -> dict[str, str]:
    """A valid stop-and-search row; keyword arguments replace fields (spaces and hyphens as underscores)."""
    row = {
        "Type": "Person search",
        "Date": "2023-01-05T10:30:00+00:00",
        "Part of a policing operation": "False",
        "Policing operation": "",
        "Latitude": "51.515000",
        "Longitude": "-0.091000",
        "Gender": "Male",
        "Age range": "18-24",
        "Self-defined ethnicity": "White - English/Welsh/Scottish/Northern Irish/British",
        "Officer-defined ethnicity": "White",
        "Legislation": "Misuse of Drugs Act 1971 (section 23)",
        "Object of search": "Controlled drugs",
        "Outcome": "A no further action disposal",
        "Outcome linked to object of search": "False",
        "Removal of more than just outer clothing": "False",
    }
    names = {k.replace(" ", "_").replace("-", "_"): k for k in row}
    row.update({names[k]: v for k, v in fields.items()})
    return row


def csv_bytes(
    header: Sequence[str],
    rows: Sequence[Mapping[str, str] | Sequence[str]],
    *,
    newline: str = "\n",
    encoding: str = "utf-8",
    quoting: int = csv.QUOTE_MINIMAL,
) -> bytes:
    """CSV text as police.uk writes it: quoting only where needed (by default). A row may be a list of
    fields, which is how a test writes a row with the wrong number of them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline, quoting=quoting)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header] if isinstance(row, Mapping) else row)
    return out.getvalue().encode(encoding)


def write_file(path: Path, data: bytes, *, compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    return path


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in STORE_TABLES}


def store_fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Row counts plus a digest of every row of every table: equal fingerprints, equal stores."""
    sql = (
        "SELECT md5(coalesce(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR)), '')) "
        "FROM {} AS x"
    )
    digest = {t: con.execute(sql.format(t)).fetchall()[0][0] for t in STORE_TABLES}
    return {"counts": table_counts(con), "digest": digest}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh, empty store in its own workspace."""
    con = open_store(Workspace(tmp_path / "workspace"))
    yield con
    con.close()
