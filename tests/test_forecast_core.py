"""Targets, harm tables, histories, horizons, units and stored surfaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from forecast_helpers import SIDE, toy_history, toy_polygons, toy_units
from safestreets import harm
from safestreets.errors import InputError, NoDataError
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.surface import harm_per_event, rank, top_per_group
from safestreets.forecast.targets import parse_target
from safestreets.geo.units import GridSpec, make_grid

# --- targets and harm ----------------------------------------------------------------------------------


def test_named_targets_are_publicly_reported_crime() -> None:
    v = parse_target("violence")
    assert v.types == ("Violence and sexual offences", "Robbery")
    assert not v.police_found
    assert parse_target("street").types == ("Theft from the person", "Robbery", "Bicycle theft")
    assert "Drugs" not in parse_target("public").types


def test_custom_target_from_names_and_slugs() -> None:
    t = parse_target("robbery, theft-from-the-person")
    assert t.types == ("Robbery", "Theft from the person")


def test_police_found_types_need_an_explicit_choice() -> None:
    with pytest.raises(ValueError, match="police-found"):
        parse_target("drugs")
    t = parse_target("drugs,robbery", allow_police_found=True)
    assert t.police_found == ("Drugs",)
    assert "police-found" in t.label
    assert t.describe()["police_found"] is True


def test_unknown_target_says_what_to_use() -> None:
    with pytest.raises(ValueError, match="violence"):
        parse_target("knife crime")


def test_harm_schemes_and_override_table(tmp_path: Path) -> None:
    assert harm.weights("cchi")["Robbery"] == 365.0
    ons = harm.weights("ons")
    assert ons["Robbery"] > ons["Theft from the person"] > ons["Shoplifting"] > 0
    table = tmp_path / "weights.csv"
    table.write_text("crime_type,weight\nrobbery,1000\nShoplifting,0.5\n")
    w = harm.read_table(table, "cchi")
    assert w["Robbery"] == 1000 and w["Shoplifting"] == 0.5 and w["Burglary"] == harm.CCHI["Burglary"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("crime_type,weight\nknifing,3\n", "row 1.*crime_type"),
        ("crime_type,weight\nRobbery,lots\n", "weight"),
        ("type,w\nRobbery,3\n", "missing column"),
        ("crime_type,weight\nRobbery,-1\n", "zero or more"),
    ],
)
def test_bad_harm_table_names_row_and_field(tmp_path: Path, text: str, match: str) -> None:
    table = tmp_path / "weights.csv"
    table.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        harm.read_table(table)
    assert "weights.csv" in str(err.value)


# --- time ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "n", "unit", "shown"),
                         [("1m", 1, "M", "1m"), ("3 months", 3, "M", "3m"), ("1w", 7, "D", "1w"),
                          ("2weeks", 14, "D", "2w"), ("10d", 10, "D", "10d")])  # fmt: skip
def test_horizon_parse(text: str, n: int, unit: str, shown: str) -> None:
    h = Horizon.parse(text)
    assert (h.n, h.unit, str(h)) == (n, unit, shown)


@pytest.mark.parametrize("text", ["", "0m", "1y", "m1", "-1w"])
def test_bad_horizon(text: str) -> None:
    with pytest.raises(ValueError, match="horizon"):
        Horizon.parse(text)


def test_horizon_arithmetic() -> None:
    m = Horizon.parse("1m")
    assert m.add(as_time("2024-01"), -1) == as_time("2023-12")
    assert list(m.edges_before(as_time("2024-03"), 2)) == [
        as_time(x) for x in ("2024-01", "2024-02", "2024-03")
    ]
    assert m.add(as_time("2024-01-31T12:00")) == as_time("2024-02-29T12:00")  # clamped, time kept
    assert m.add(as_time("2024-03-15"), -1) == as_time("2024-02-15")
    w = Horizon.parse("1w")
    assert w.add(as_time("2024-01-08")) == as_time("2024-01-15")


def test_history_cuts_never_include_the_future() -> None:
    h = toy_history(months=12, per_month=50)
    cut = h.before("2021-07")
    assert len(cut) and cut.t.max() < as_time("2021-07")
    assert cut.context is not None and cut.context.t.max() < as_time("2021-07")
    window = h.between("2021-07", "2021-08")
    assert set(window.t.astype("datetime64[M]").astype(str)) == {"2021-07"}
    assert h.resolution == "month" and toy_history("timestamp", months=2).resolution == "timestamp"
    assert h.end == as_time("2022-01")


def test_month_only_history_is_cut_only_at_month_boundaries() -> None:
    from safestreets.forecast import make_model

    with pytest.raises(ValueError, match="month boundary"):
        make_model("kde").fit(toy_history(months=6), "2021-03-15")


def test_month_only_history_refuses_a_weekly_horizon() -> None:
    with pytest.raises(NoDataError, match="timestamped"):
        toy_history(months=3).check_horizon(Horizon.parse("1w"))


# --- units ---------------------------------------------------------------------------------------------


def test_grid_is_clipped_to_the_study_area() -> None:
    circle = shapely.Point(1000, 1000).buffer(800, quad_segs=64)
    units = make_grid(circle, 250, min_fraction=0.0)
    assert units.total_area == pytest.approx(circle.area, rel=1e-9)
    # A point outside the circle but inside its bounding box belongs to no unit.
    assert units.locate(np.array([240.0]), np.array([240.0]))[0] == -1
    assert units.locate(np.array([1000.0]), np.array([1000.0]))[0] >= 0
    strict = make_grid(circle, 250, min_fraction=0.5)
    assert len(strict) < len(units)
    assert np.all(strict.area >= 0.5 * 250 * 250)


def test_grid_ids_and_location() -> None:
    units = toy_units()
    assert len(units) == 400 and units.total_area == pytest.approx(SIDE * SIDE)
    i = units.locate(np.array([260.0, np.nan, 9e9]), np.array([10.0, 1.0, 1.0]))
    assert units.ids[i[0]] == "E250N0" and i[1] == -1 and i[2] == -1
    assert set(units.bcu) == {"west", "east"}


def test_unit_counts_per_period() -> None:
    h = toy_history(months=6, per_month=100)
    units = toy_units()
    edges = Horizon.parse("1m").edges_before(as_time("2021-07"), 6)
    counts = units.counts(h, edges)
    assert counts.shape == (400, 6)
    assert counts.sum() == len(h)
    assert counts[:, -1].sum() == len(h.between("2021-06", "2021-07"))


def test_polygon_units_locate_like_the_grid() -> None:
    h = toy_history(months=3, per_month=200)
    polys, grid = toy_polygons(), toy_units()
    by_poly = np.bincount(polys.locate(h.x, h.y), minlength=16)
    assert by_poly.sum() == len(h)
    assert polys.total_area == pytest.approx(grid.total_area)
    # From a raster back to polygons conserves mass.
    spec = polys.raster()
    mass = spec.bin(h.x, h.y)
    assert polys.from_raster(spec, mass).sum() == pytest.approx(len(h))


def test_gridspec_index_is_row_major() -> None:
    g = GridSpec(0, 0, 10, 3, 4)
    assert list(g.index(np.array([5, 15, 5, 39.9]), np.array([5, 5, 15, 29.9]))) == [0, 1, 4, 11]
    assert g.bin(np.array([5.0]), np.array([25.0]))[2, 0] == 1


# --- surfaces ------------------------------------------------------------------------------------------


def test_expected_harm_shrinks_toward_the_mean() -> None:
    units = toy_units()
    x = np.array([10.0, 10, 4990])
    h = History.from_arrays(
        x,
        np.array([10.0, 10, 4990]),
        np.full(3, as_time("2024-01")),
        np.array(["Robbery", "Robbery", "Bicycle theft"]),
        np.array([365.0, 365, 2]),
    )
    per = harm_per_event(h, units)
    mean = (365 * 2 + 2) / 3
    a, b = units.locate(np.array([10.0, 4990]), np.array([10.0, 4990]))
    assert per[a] == pytest.approx((730 + 10 * mean) / 12)
    assert per[b] == pytest.approx((2 + 10 * mean) / 11)
    assert per[0 if a != 0 and b != 0 else 5] == pytest.approx(mean)


def test_rank_by_density_and_top_per_group() -> None:
    scores = np.array([1.0, 4.0, 4.0, 2.0])
    area = np.array([1.0, 4.0, 1.0, 1.0])
    assert list(rank(scores, area)) == [2, 3, 0, 1]
    groups = np.array(["a", "b", "a", "b"])
    top = top_per_group(scores, area, groups, k=1)
    assert {g: list(v) for g, v in top.items()} == {"a": [2], "b": [3]}
