"""The synthetic city's accountability files (same seed, same bytes; the city's own files untouched), and
the briefing's accountability sections."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from tests.accountability.helpers_acct import small_workspace

from safestreets.report.brief_accountability import accountability_sections
from safestreets.sources.census import read_ts021
from safestreets.sources.tallies import read_tallies
from safestreets.synthetic import CityConfig, generate_city
from safestreets.synthetic.accountability import write_accountability


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_same_seed_same_bytes_and_the_city_unchanged(tmp_path: Path) -> None:
    config = CityConfig(seed=3, n_events=3000, months=6)
    a, b = tmp_path / "a", tmp_path / "b"
    generate_city(a, config)
    generate_city(b, config)
    before = digests(a)
    files = write_accountability(a, 3)
    write_accountability(b, 3)
    after = digests(a)
    assert {k: v for k, v in after.items() if not k.startswith("accountability/")} == before
    assert after == digests(b)
    census = read_ts021(files.census)
    assert census.num_rows == 5 * len(census.column("area_code").unique()) > 0
    tallies = read_tallies(files.tallies)
    assert tallies.num_rows > 0 and min(tallies.column("knives").to_pylist()) >= 0
    assert files.s60.read_text().startswith("reference,place,lon,lat,radius_m,starts_at")


def test_briefing_sections(tmp_path: Path) -> None:
    ws = small_workspace(tmp_path)
    op = ws.operation_add(name="Op Brief", start="2024-05-01", end="2024-05-05", areas=["Camden"],
                          tactics=["knife-arches"], actor="ana")  # fmt: skip
    ws.operation_tallies_add(op.id, rows=[{"day": "2024-05-02", "knives": 3, "arrests": 4}], actor="ana")
    ws.operation_add(name="Op Old", start="2023-01-01", end="2023-01-02", areas=["Camden"], tactics=["anpr"])
    ws.s60_add(starts_at="2024-05-03T18:00", ends_at="2024-05-04T06:00", authorised_by="Insp A", rank="inspector",
               grounds="stabbing", place="Market", lon=-0.16, lat=51.53, radius_m=500)  # fmt: skip
    got = accountability_sections(ws.con, ws.db, date(2024, 5, 13))
    assert got["stop_search"] == {"note": "No stop-and-search data loaded."}
    assert [r["headline"] for r in got["operations"]["rows"]] == [
        "Op Brief (1 May 2024 to 5 May 2024): 3 knives, 4 arrests."]  # fmt: skip
    (s60,) = got["s60"]["rows"]
    assert (s60["place"], s60["verdict"], s60["hours"], s60["searches"]) == ("Market", "lawful", 12.0, 0)
    quiet = accountability_sections(ws.con, ws.db, date(2025, 1, 6))
    assert quiet["operations"]["rows"] == [] and "No operations recorded since" in quiet["operations"]["note"]
    ws.close()
