"""Decision support after a serious incident: risk around the point, recent violence, Section 60 episodes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from safestreets.config import Workspace
from safestreets.errors import ParameterError
from safestreets.geo.project import WGS84, to_crs
from safestreets.plan.incident import (
    DECISION_SUPPORT,
    PLACE_MARGIN_M,
    Section60Limits,
    compare_find_rate,
    incident_context,
    parse_place,
)
from safestreets.store import open_store
from test_hubs import (
    STATION_A,
    add_event,
    add_search,
    assert_no_person_columns,
    build_city,
    grid_surface,
    near_a,
)

S60 = "Criminal Justice and Public Order Act 1994 (section 60)"
S60_OBJECT = "Anything to threaten or harm anyone"
X, Y = STATION_A
WHEN = "2024-03-10 23:00"


def s60(con: duckdb.DuckDBPyConnection, dx: float | None, when: str, **kw: Any) -> None:
    """A Section 60 search ``dx`` metres east of the incident (None: no location)."""
    x, y = (None, None) if dx is None else (X + dx, Y)
    add_search(con, x, y, when, legislation=S60, obj=S60_OBJECT, **kw)


@pytest.fixture
def incident_store(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(Workspace(tmp_path / "ws"))
    # Episode 1: three searches 10 hours apart in all -> one episode; outcomes known.
    s60(con, 100, "2024-01-05 20:00", outcome="Arrest", linked=True)
    s60(con, 300, "2024-01-06 01:00", outcome="Community resolution", linked=False)
    s60(con, -200, "2024-01-06 06:00", linked=None)  # the find flag left blank
    # Episode 2: five days later, same place and force.
    s60(con, 500, "2024-01-11 06:00", linked=False)
    s60(con, 600, "2024-01-11 09:00", linked=False)
    # Another force's searches an hour into episode 1: an episode of their own.
    s60(con, 150, "2024-01-05 21:00", force="british-transport-police", linked=False)
    # Not counted: too far, wrong legislation, after the incident, before the window; one without a place.
    s60(con, 3000, "2024-01-05 22:00", outcome="Arrest", linked=True)
    add_search(con, X, Y, "2024-01-05 22:00", outcome="Arrest", linked=True)  # PACE section 1
    s60(con, 0, "2024-03-11 01:00", outcome="Arrest", linked=True)
    s60(con, 0, "2020-01-01 01:00", outcome="Arrest", linked=True)
    s60(con, None, "2024-01-05 23:00")
    # Recent violence: 4 and 20 days before the incident within 1 km, one beyond 1 km, one after.
    add_event(con, X + 400, Y, "2024-03-06 22:00")
    add_event(con, X, Y - 700, "2024-02-19 22:00", "Robbery")
    add_event(con, X + 1500, Y, "2024-03-08 22:00")
    add_event(con, X, Y, "2024-03-11 02:00")
    yield con
    con.close()


def test_section60_searches_group_into_episodes(incident_store: duckdb.DuckDBPyConnection) -> None:
    ctx = incident_context(incident_store, grid_surface(near_a), x=X, y=Y, when=WHEN)
    eps = ctx.episodes.to_pylist()
    assert [(e["force"], e["searches"]) for e in eps] == [
        ("metropolitan", 3), ("british-transport-police", 1), ("metropolitan", 2)
    ]  # fmt: skip
    first, btp, second = eps
    assert [e["episode"] for e in eps] == [1, 2, 3]
    assert str(btp["start"]) == "2024-01-05 21:00:00" and btp["hours"] == 0.0
    assert (str(first["start"]), str(first["end"]), first["hours"]) == (
        "2024-01-05 20:00:00", "2024-01-06 06:00:00", 10.0
    )  # fmt: skip
    assert not first["longer_than_max"] and second["hours"] == 3.0
    assert (first["arrests"], first["linked_finds"], first["positive_outcomes"], first["find_recorded"]) == (
        1,
        1,
        2,
        2,
    )
    assert first["any_positive_outcome"] and not second["any_positive_outcome"]
    assert first["weapon_finds"] == 1 and first["weapon_find_rate"] == 0.5
    assert second["weapon_finds"] == 0 and second["weapon_find_rate"] == 0.0
    assert first["nearest_m"] == 100.0
    assert ctx.totals == {
        "episodes": 3, "searches": 6, "arrests": 1, "linked_finds": 1, "positive_outcomes": 2,
        "find_recorded": 5, "weapon_finds": 1, "weapon_find_rate": 0.2, "episodes_with_positive_outcome": 1,
    }  # fmt: skip
    assert any("1 Section 60 searches in the period have no location" in n for n in ctx.notes)
    assert "too few searches to compare" in ctx.comparison and "20.0% (1 of 5" in ctx.comparison


def test_gap_parameter_and_legal_maximum(incident_store: duckdb.DuckDBPyConnection) -> None:
    # 10 hours apart is one episode; five days apart two -- unless the gap allows a week.
    week = incident_context(incident_store, None, x=X, y=Y, when=WHEN, episode_gap_hours=24 * 7)
    met = [e for e in week.episodes.to_pylist() if e["force"] == "metropolitan"]
    assert [e["searches"] for e in met] == [5] and met[0]["longer_than_max"]
    assert any("longer than 48 h" in n for n in week.notes)
    short = incident_context(incident_store, None, x=X, y=Y, when=WHEN, episode_gap_hours=4)
    assert [e["searches"] for e in short.episodes.to_pylist() if e["force"] == "metropolitan"] == [1, 1, 1, 2]


def test_radius_and_years_back(incident_store: duckdb.DuckDBPyConnection) -> None:
    wide = incident_context(incident_store, None, x=X, y=Y, when=WHEN, s60_radius_m=5000.0)
    assert wide.totals["searches"] == 7 and wide.totals["arrests"] == 2
    long = incident_context(incident_store, None, x=X, y=Y, when=WHEN, years_back=5)
    assert long.totals["searches"] == 7 and long.totals["episodes"] == 4
    before = incident_context(incident_store, None, x=X, y=Y, when="2024-01-06 00:00")
    assert before.totals["searches"] == 2  # only what came before the incident


def test_risk_and_recent_violence_around_the_point(incident_store: duckdb.DuckDBPyConnection) -> None:
    surface = grid_surface(near_a)
    ctx = incident_context(incident_store, surface, x=X, y=Y, when=WHEN)
    assert ctx.recent == {
        "in the 7 days before 2024-03-10 23:00": 1,
        "in the 28 days before 2024-03-10 23:00": 2,
    }
    units = ctx.units.to_pylist()
    assert units[0]["rank"] == 1 and units[0]["distance_m"] == 0.0  # the cell holding the point is riskiest
    ranks = [u["rank"] for u in units]
    assert ranks == sorted(ranks) and max(u["distance_m"] for u in units) <= 1000 + 250 * 0.75
    assert 0 < ctx.forecast_harm < float(surface.expected_harm.sum()) and 0 < ctx.forecast_harm_share < 1
    assert ctx.params["units_total"] == len(surface.units)
    assert_no_person_columns(ctx.units_table())


def test_lon_lat_gives_the_same_answer(incident_store: duckdb.DuckDBPyConnection) -> None:
    lon, lat = to_crs(np.array([X]), np.array([Y]), src="EPSG:27700", dst=WGS84)
    a = incident_context(incident_store, None, x=X, y=Y, when=WHEN)
    b = incident_context(incident_store, None, lon=float(lon[0]), lat=float(lat[0]), when=WHEN)
    assert b.x == pytest.approx(X, abs=0.01) and b.y == pytest.approx(Y, abs=0.01)
    assert a.totals == b.totals and a.recent == b.recent
    with pytest.raises(ValueError, match="x and y"):
        incident_context(incident_store, None, when=WHEN)


def test_every_output_says_decision_support_with_configurable_limits(
    incident_store: duckdb.DuckDBPyConnection,
) -> None:
    ctx = incident_context(incident_store, None, x=X, y=Y, when=WHEN)
    text = "\n".join(ctx.lines())
    assert DECISION_SUPPORT in text and "never an automatic authorisation" in DECISION_SUPPORT
    assert (
        "inspector rank or above may authorise for up to 24 h; a superintendent may extend by 24 h (48 h at most)"
        in text
    )
    for table in (ctx.to_table(), ctx.units_table()):
        meta = table.schema.metadata
        assert meta[b"statement"].decode() == DECISION_SUPPORT and b"48 h at most" in meta[b"limits"]
        assert json.loads(meta[b"provenance"])["statement"] == DECISION_SUPPORT
        assert_no_person_columns(table)
    assert "no forecast" in text  # no surface given and none stored
    old = Section60Limits(authorising_rank="chief officer", initial_hours=15, extension_hours=9, max_hours=24)
    strict = incident_context(incident_store, None, x=X, y=Y, when=WHEN, limits=old, episode_gap_hours=24 * 7)
    assert "chief officer rank or above may authorise for up to 15 h" in "\n".join(strict.lines())
    assert strict.params["limits"]["max_hours"] == 24
    assert any("longer than 24 h" in n for n in strict.notes)


def test_find_rate_comparison_with_the_college_of_policing_figure() -> None:
    def totals(searches: int, recorded: int, finds: int) -> dict[str, int]:
        return {"searches": searches, "find_recorded": recorded, "weapon_finds": finds}

    assert "about the same as the ~1%" in compare_find_rate(totals(300, 200, 2))
    assert "above the ~1%" in compare_find_rate(totals(300, 200, 10))
    assert "below the ~1%" in compare_find_rate(totals(300, 200, 0))
    assert compare_find_rate(totals(300, 200, 2)).startswith("weapon find rate nearby 1.0% (2 of 200")
    assert "too few" in compare_find_rate(totals(50, 50, 1))
    assert "no past Section 60 searches" in compare_find_rate(totals(0, 0, 0))
    assert "no find rate" in compare_find_rate(totals(10, 0, 0))


def test_places_as_typed_and_places_refused(incident_store: duckdb.DuckDBPyConnection) -> None:
    """'lat,lon' or 'x,y' in metres; a place well outside the loaded data is refused, saying when the two
    numbers look swapped."""
    lon, lat = (float(v[0]) for v in to_crs(np.array([X]), np.array([Y]), src="EPSG:27700", dst=WGS84))
    degrees = parse_place(f"{lat:.6f}, {lon:.6f}", incident_store)
    assert degrees.x == pytest.approx(X, abs=0.2) and degrees.y == pytest.approx(Y, abs=0.2)
    metres = parse_place(f"{X},{Y}", incident_store)
    assert (metres.x, metres.y) == (X, Y) and metres.lat == pytest.approx(lat)
    assert parse_place(f"{X + PLACE_MARGIN_M - 500},{Y}", incident_store).x > X  # near the edge: accepted
    with pytest.raises(
        ParameterError, match=rf"swapped \(latitude first\): did you mean '{lat:.6f},{lon:.6f}'"
    ):
        parse_place(f"{lon:.6f},{lat:.6f}", incident_store)
    with pytest.raises(ParameterError, match="x and y swapped"):
        parse_place(f"{Y},{X}", incident_store)
    for far in ("0,0", f"{X + 3 * PLACE_MARGIN_M},{Y}"):
        with pytest.raises(ParameterError, match="outside the loaded areas and data") as info:
            parse_place(far, incident_store)
        assert "swapped" not in str(info.value)
    with pytest.raises(ParameterError, match="'lat,lon' in degrees or 'x,y' in metres"):
        parse_place("Cheapside", incident_store)
    # The Python API checks the place too, before counting anything around it.
    with pytest.raises(ParameterError, match="swapped"):
        incident_context(incident_store, None, lon=lat, lat=lon, when=WHEN)


def test_no_stop_and_search_data_is_not_zero_searches(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    add_event(con, X + 10, Y, "2024-03-01 22:00")
    ctx = incident_context(con, None, x=X, y=Y, when=WHEN)
    text = "\n".join(ctx.lines())
    assert "past Section 60 searches within 2000 m, 3 year(s): no stop-and-search data covers 2021-03-10 to " \
           "2024-03-10" in text  # fmt: skip
    assert " 0 searches" not in text and "no stop-and-search data for the period" in ctx.comparison
    # Data for part of the period: counted, with a note saying which part.
    s60(con, 100, "2023-11-05 20:00", outcome="Arrest", linked=True)
    ctx = incident_context(con, None, x=X, y=Y, when=WHEN)
    con.close()
    assert ctx.no_search_data is None and ctx.totals["searches"] == 1
    assert any(n.startswith("stop-and-search data covers only 2023-11 to 2023-11 of 2021-03-10 to 2024-03-10")
               for n in ctx.notes)  # fmt: skip


def test_month_only_events_count_whole_months(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    for month, n in (("2023-12", 5), ("2024-01", 2), ("2024-02", 3), ("2024-03", 9)):
        for _ in range(n):
            add_event(con, X + 10, Y, month, source="police.uk")
    ctx = incident_context(con, None, x=X, y=Y, when="2024-03-10 23:00")
    con.close()
    # March is not over when the incident happens: the last whole months are February and Dec-Feb.
    assert ctx.recent == {"in the 1 month from 2024-02": 3, "in the 3 months from 2023-12": 10}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city(tmp_path_factory.mktemp("city") / "ws")


def test_incident_context_on_the_synthetic_city(city: Path) -> None:
    con = open_store(Workspace(city), read_only=True)
    try:
        # The incident: where and just after the city's last Section 60 burst began.
        x, y, t = con.execute(
            "SELECT x, y, occurred_at::TIMESTAMP FROM stop_searches WHERE legislation LIKE '%(section 60)%' "
            "AND x IS NOT NULL ORDER BY occurred_at DESC LIMIT 1"
        ).fetchall()[0]
        ctx = incident_context(con, None, x=x, y=y, when=t.replace(second=1), s60_radius_m=3000.0)
    finally:
        con.close()
    assert ctx.units.num_rows > 10 and ctx.forecast_harm > 0
    assert sum(ctx.recent.values()) > 0 and next(iter(ctx.recent)).startswith("in the 7 days")
    assert ctx.totals["searches"] >= 1 and ctx.totals["episodes"] >= 1
    assert ctx.totals["searches"] == sum(ctx.episodes.column("searches").to_pylist())
    assert ctx.statement == DECISION_SUPPORT
    assert "College of Policing" in ctx.comparison or "no find rate" in ctx.comparison
    assert_no_person_columns(ctx.to_table())
    assert_no_person_columns(ctx.units_table())
