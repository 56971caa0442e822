"""Emerging hot spots: Gi*, Mann-Kendall, FDR, the categories, the end-to-end run and the map."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from forecast_helpers import toy_history, toy_polygons, toy_units
from safestreets.errors import NoDataError
from safestreets.forecast.history import History
from safestreets.geo.units import make_grid
from safestreets.report.hotspot_map import emerging_map
from safestreets.trends import (
    CATEGORIES,
    EmergingResult,
    classify,
    emerging_hotspots,
    getis_ord_gi_star,
    mann_kendall,
    neighbours,
    significant,
)


def grid(side: int, cell: float = 100.0):
    """A side x side grid; unit k is row k // side (from the south), column k % side."""
    return make_grid(shapely.box(0, 0, side * cell, side * cell), cell)


# --- neighbours ------------------------------------------------------------------------------------------


def test_grid_neighbours_are_queen_contiguity_with_self() -> None:
    w = neighbours(grid(3))
    assert (w != w.T).nnz == 0
    assert w.diagonal().tolist() == [1.0] * 9
    assert np.asarray(w.sum(axis=1)).ravel().tolist() == [4, 6, 4, 6, 9, 6, 4, 6, 4]
    assert set(w[0].indices) == {0, 1, 3, 4}


def test_grid_neighbours_within_a_distance() -> None:
    w = neighbours(grid(5), distance=100.0)  # rook: the four edge neighbours at exactly one cell
    assert np.asarray(w.sum(axis=1)).ravel()[12] == 5
    assert set(w[12].indices) == {7, 11, 12, 13, 17}


def test_polygon_neighbours_touch_or_lie_within_a_distance() -> None:
    units = toy_polygons()  # a 4 x 4 block of squares, 1250 m across
    w = neighbours(units)
    sizes = np.asarray(w.sum(axis=1)).ravel()
    # Corners touch three others, edges five, the inner four eight: plus themselves.
    assert sorted(sizes.tolist()) == [4] * 4 + [6] * 8 + [9] * 4
    assert np.all(w.data == 1.0)
    rook = neighbours(units, distance=1250.0)
    assert sorted(np.asarray(rook.sum(axis=1)).ravel().tolist()) == [3] * 4 + [4] * 8 + [5] * 4


# --- Gi* ------------------------------------------------------------------------------------------------


def test_gi_star_matches_a_hand_computation_on_a_3x3_grid() -> None:
    # Rows from the south:  0 1 2 / 3 10 4 / 1 0 2.  n = 9, sum 23, sum of squares 135.
    x = np.array([0, 1, 2, 3, 10, 4, 1, 0, 2], dtype=float)[:, None]
    z = getis_ord_gi_star(x, neighbours(grid(3)))[:, 0]
    # S^2 = 135/9 - (23/9)^2 = 686/81.
    # Corner 0: neighbourhood {0,1,3,4} sums to 14, W = 4: (14 - 4*23/9) / (S*sqrt((9*4 - 16)/8)) = 34/sqrt(1715).
    assert z[0] == pytest.approx(34 / math.sqrt(1715), rel=1e-12)
    # Edge 1: {0..5} sums to 20, W = 6: (20 - 6*23/9) / (S*sqrt((54 - 36)/8)) = 28/sqrt(686).
    assert z[1] == pytest.approx(28 / math.sqrt(686), rel=1e-12)
    # Corner 6 has the same neighbourhood sum as corner 0.
    assert z[6] == pytest.approx(z[0], rel=1e-12)
    # The centre's neighbourhood is every unit: nothing to compare with.
    assert z[4] == 0.0


def _gi_star_brute(x: np.ndarray, w: np.ndarray, time_window: int) -> np.ndarray:
    """Gi* over an explicit space-time weight matrix, one period at a time."""
    n, periods = x.shape
    out = np.zeros((n, periods))
    for t in range(periods):
        lo = max(0, t - time_window)
        vals = x[:, lo : t + 1].T.ravel()  # bins: period-major
        m = t + 1 - lo
        big_w = np.tile(w, (1, m))  # unit i's neighbours in every period of the window
        big_n = len(vals)
        mean = vals.mean()
        s = math.sqrt((vals**2).mean() - mean**2)
        for i in range(n):
            wi = big_w[i].sum()
            s1 = (big_w[i] ** 2).sum()
            den = s * math.sqrt((big_n * s1 - wi**2) / (big_n - 1))
            out[i, t] = 0.0 if den == 0 else (big_w[i] @ vals - mean * wi) / den
    return out


@pytest.mark.parametrize("time_window", [0, 1, 2])
def test_space_time_gi_star_matches_an_explicit_space_time_neighbourhood(time_window: int) -> None:
    rng = np.random.default_rng(3)
    w = neighbours(grid(4))
    x = rng.poisson(3.0, size=(16, 6)).astype(float)
    got = getis_ord_gi_star(x, w, time_window=time_window)
    want = _gi_star_brute(x, w.toarray(), time_window)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_gi_star_is_zero_in_a_period_without_variation() -> None:
    x = np.column_stack([np.full(9, 4.0), np.arange(9.0)])
    z = getis_ord_gi_star(x, neighbours(grid(3)))
    assert np.all(z[:, 0] == 0.0)
    assert np.any(z[:, 1] != 0.0)


counts_3x3 = arrays(np.float64, (9, 3), elements=st.integers(0, 50).map(float))


@given(counts_3x3, st.floats(-100, 100), st.floats(0.1, 100))
def test_gi_star_is_invariant_to_shifting_and_scaling_the_counts(x: np.ndarray, c: float, a: float) -> None:
    # The statistic standardises by the period's mean and standard deviation.
    w = neighbours(grid(3))
    z = getis_ord_gi_star(x, w)
    varied = x.std(axis=0) > 0
    np.testing.assert_allclose(getis_ord_gi_star(a * x + c, w)[:, varied], z[:, varied], atol=1e-6)


@given(counts_3x3)
def test_negating_the_counts_negates_gi_star(x: np.ndarray) -> None:
    w = neighbours(grid(3))
    np.testing.assert_array_equal(getis_ord_gi_star(-x, w), -getis_ord_gi_star(x, w))


# --- Mann-Kendall -------------------------------------------------------------------------------------------


def test_mann_kendall_hand_case_with_ties() -> None:
    # 1 2 2 3 1: S = (+1 +1 +1 0) + (0 +1 -1) + (+1 -1) + (-1) = 2.
    # Var = (5*4*15 - 2*[2*1*9]) / 18 = 264/18 (two pairs of ties); z = (2 - 1) / sqrt(264/18).
    z, p = mann_kendall(np.array([1.0, 2, 2, 3, 1]))
    assert z == pytest.approx(1 / math.sqrt(264 / 18), rel=1e-12)
    assert p == pytest.approx(2 * stats.norm.sf(1 / math.sqrt(264 / 18)), rel=1e-12)


def test_mann_kendall_strict_increase() -> None:
    z, p = mann_kendall(np.arange(10.0)[None, :])
    # S = 45, Var = 10*9*25/18 = 125.
    assert z[0] == pytest.approx(44 / math.sqrt(125), rel=1e-12)
    assert p[0] < 0.001


@given(arrays(np.float64, (4, 9), elements=st.integers(0, 4).map(float)))
def test_mann_kendall_without_continuity_matches_kendalls_tau_against_time(x: np.ndarray) -> None:
    z, p = mann_kendall(x, continuity=False)
    for row, zi, pi in zip(x, z, p, strict=True):
        if np.all(row == row[0]):
            assert zi == 0.0 and pi == 1.0
            continue
        ref = stats.kendalltau(np.arange(len(row)), row, method="asymptotic")
        assert pi == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
        assert np.sign(zi) == np.sign(ref.statistic)


@given(st.floats(-1e6, 1e6), st.integers(2, 30))
def test_a_constant_series_has_no_trend(c: float, n: int) -> None:
    z, p = mann_kendall(np.full((1, n), c))
    assert z[0] == 0.0 and p[0] == 1.0


@given(arrays(np.float64, (3, 12), elements=st.integers(-5, 5).map(float)))
def test_reversing_time_flips_the_sign_of_the_trend(x: np.ndarray) -> None:
    z, p = mann_kendall(x)
    zr, pr = mann_kendall(x[:, ::-1])
    np.testing.assert_array_equal(zr, -z)
    np.testing.assert_array_equal(pr, p)


@given(arrays(np.float64, (3, 10), elements=st.integers(-5, 5).map(float)))
def test_mann_kendall_depends_only_on_the_order_of_values(x: np.ndarray) -> None:
    z, _ = mann_kendall(x)
    z2, _ = mann_kendall(np.exp(x / 2) * 3 - 7)  # strictly increasing transform
    np.testing.assert_allclose(z2, z, rtol=1e-12)


# --- significance ------------------------------------------------------------------------------------------


def test_fdr_is_stricter_than_the_plain_test_and_follows_benjamini_hochberg() -> None:
    z = np.array([[4.0], [2.5], [2.2], [1.0], [0.0], [-0.5], [-2.1], [0.3], [0.1], [0.2]])
    plain = significant(z, 0.05, fdr=False)[:, 0]
    assert plain.tolist() == [True, True, True, False, False, False, True, False, False, False]
    fdr = significant(z, 0.05, fdr=True)[:, 0]
    # p-values sorted: 6.3e-5, 0.0124, 0.0278, 0.0357, ...; thresholds k/10 * 0.05: 0.005, 0.01, 0.015...
    # only the first passes, so only z = 4 is a discovery.
    assert fdr.tolist() == [True] + [False] * 9
    assert not np.any(fdr & ~plain)


# --- classification ----------------------------------------------------------------------------------------

SIDE = 10
PERIODS = 12
CENTRE = 3 * SIDE + 3  # the middle of a 3 x 3 block of cells
FAR = 8 * SIDE + 8
BACKGROUND = 2.0 + (np.arange(SIDE * SIDE) * 7) % 3  # mild variation, no cluster


def block_counts(levels: list[float | None], background: np.ndarray = BACKGROUND) -> np.ndarray:
    """Background counts everywhere; the 3 x 3 block around CENTRE at ``levels[t]`` where not None."""
    block = [r * SIDE + c for r in range(2, 5) for c in range(2, 5)]
    x = np.repeat(background[:, None], len(levels), axis=1)
    for t, level in enumerate(levels):
        if level is not None:
            x[block, t] = level
    return x


WEIGHTS = neighbours(grid(SIDE))
HOT = 20.0

PATTERNS: dict[str, list[float | None]] = {
    "new": [None] * 11 + [HOT],
    "consecutive": [None] * 9 + [HOT] * 3,
    "intensifying": [10.0 + 2 * t for t in range(PERIODS)],
    "persistent": [HOT] * PERIODS,
    "diminishing": [32.0 - 2 * t for t in range(PERIODS)],
    "historical": [HOT] * 11 + [None],
    "sporadic": [None, None, HOT] * 4,
    "oscillating": [0.0] * 6 + [None] * 3 + [HOT] * 3,
}


@pytest.mark.parametrize("expected", list(PATTERNS))
def test_constructed_hot_patterns_get_their_category(expected: str) -> None:
    cls = classify(block_counts(PATTERNS[expected]), WEIGHTS)
    assert cls.category[CENTRE] == expected
    assert cls.category[FAR] == "no pattern"


def test_constructed_patterns_have_the_evidence_their_category_claims() -> None:
    rising = classify(block_counts(PATTERNS["intensifying"]), WEIGHTS)
    assert rising.hot[CENTRE].all() and rising.trend_z[CENTRE] > 0 and rising.trend_p[CENTRE] < 0.05
    flat = classify(block_counts(PATTERNS["persistent"]), WEIGHTS)
    assert flat.hot_share[CENTRE] == 1.0 and flat.trend_z[CENTRE] == 0.0
    new = classify(block_counts(PATTERNS["new"]), WEIGHTS)
    assert new.hot[CENTRE].tolist() == [False] * 11 + [True]
    historical = classify(block_counts(PATTERNS["historical"]), WEIGHTS)
    assert historical.hot_share[CENTRE] == pytest.approx(11 / 12)
    assert not historical.hot[CENTRE, -1]


def test_background_alone_has_no_pattern() -> None:
    cls = classify(block_counts([None] * PERIODS), WEIGHTS)
    assert set(cls.category) == {"no pattern"}
    assert not cls.hot.any() and not cls.cold.any()


def test_a_quiet_block_in_a_busy_area_is_a_cold_spot() -> None:
    busy = 10.0 + np.arange(SIDE * SIDE) % 2
    persistent = classify(block_counts([0.0] * PERIODS, busy), WEIGHTS)
    assert persistent.category[CENTRE] == "persistent cold"
    new = classify(block_counts([None] * 11 + [0.0], busy), WEIGHTS)
    assert new.category[CENTRE] == "new cold"


def test_hot_spot_only_half_the_time_early_on_is_no_pattern() -> None:
    # Historical needs 90% of periods hot: a spot that cooled half way through is not listed.
    cls = classify(block_counts([HOT] * 6 + [None] * 6), WEIGHTS)
    assert cls.category[CENTRE] == "no pattern"
    assert cls.hot_share[CENTRE] == 0.5


def test_a_lower_threshold_lets_a_shorter_run_count_as_mostly_hot() -> None:
    levels: list[float | None] = [None] * 3 + [HOT] * 9
    assert classify(block_counts(levels), WEIGHTS).category[CENTRE] == "consecutive"
    # Hot for 9 of 12 periods is enough at 75%; the Gi* series stepped up, so the trend is upward.
    relaxed = classify(block_counts(levels), WEIGHTS, threshold=0.75)
    assert relaxed.category[CENTRE] == "intensifying"
    assert relaxed.params["mostly_hot_periods"] == 9


@given(arrays(np.float64, (9, 10), elements=st.integers(0, 30).map(float)))
def test_negated_values_mirror_the_categories(x: np.ndarray) -> None:
    # Gi* of -x is -Gi* of x exactly, so every hot category becomes its cold mirror and back.
    w = neighbours(grid(3))
    a = classify(x, w, fdr=False)
    b = classify(-x, w, fdr=False)

    def mirror(c: str) -> str:
        if c == "no pattern":
            return c
        return c[: -len(" cold")] if c.endswith(" cold") else f"{c} cold"

    assert [mirror(c) for c in a.category] == list(b.category)
    assert set(a.category) <= set(CATEGORIES)


def test_classify_rejects_a_single_period() -> None:
    with pytest.raises(ValueError, match="two periods"):
        classify(np.ones((9, 1)), neighbours(grid(3)))


# --- end to end --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_result() -> EmergingResult:
    return emerging_hotspots(toy_history(), toy_units(), until="2023-12", period="1m", periods=12)


def test_emerging_hotspots_on_the_toy_town(toy_result: EmergingResult) -> None:
    r = toy_result
    units = r.units
    assert r.counts.shape == (len(units), 12)
    assert str(r.edges[0]) == "2022-12-01T00:00:00" and str(r.edges[-1]) == "2023-12-01T00:00:00"
    history = toy_history()
    window = (history.t >= r.edges[0]) & (history.t < r.edges[-1])
    assert r.counts.sum() == window.sum()  # the toy town's events all fall inside the grid
    summary = r.summary()
    assert sum(summary.values()) == len(units)
    assert set(summary) <= set(CATEGORIES)
    # The toy town has six persistent clusters: some units must be persistently hot, most no pattern.
    assert summary.get("persistent", 0) > 0
    assert summary["no pattern"] > len(units) / 2
    assert r.window() == "2022-12 to 2023-11"
    assert r.params["periods"] == 12 and r.params["period"] == "1m" and r.params["fdr"] is True
    assert r.params["data_fingerprint"] == history.fingerprint


def test_changes_and_table_agree_with_the_classification(toy_result: EmergingResult) -> None:
    r = toy_result
    changes = r.changes(categories=("persistent", "new"))
    assert len(changes) == r.summary().get("persistent", 0) + r.summary().get("new", 0)
    ids = list(r.units.ids)
    for ch in changes:
        i = ids.index(ch.unit_id)
        assert r.category[i] == ch.category
        assert ch.last_count == r.counts[i, -1]
        assert ch.mean_before == pytest.approx(r.counts[i, :-1].mean())
        assert ch.last_nearby >= ch.last_count
        assert ch.bcu in {"west", "east"}
    table = r.to_table()
    assert isinstance(table, pa.Table)
    assert table.column_names == [
        "unit_id",
        "bcu",
        "category",
        "hot_share",
        "trend_z",
        "trend_p",
        "last_count",
        "mean_count",
        "last_gi_z",
        "x",
        "y",
    ]
    assert table.num_rows == len(r.units)
    assert table.column("category").to_pylist() == list(r.category)
    meta = json.loads(table.schema.metadata[b"safestreets"])
    assert meta["alpha"] == 0.05 and meta["periods"] == 12


def test_a_new_cluster_shows_up_in_the_changes() -> None:
    # Background everywhere for 12 months, then a tight cluster in the last month only.
    rng = np.random.default_rng(5)
    units = toy_units(500.0)
    months = np.arange(np.datetime64("2023-01"), np.datetime64("2024-01"))
    xs, ys, ts = [], [], []
    for m in months:
        n = 300
        xs.append(rng.uniform(0, 5000, n))
        ys.append(rng.uniform(0, 5000, n))
        ts.append(np.full(n, m.astype("datetime64[s]")))
    xs.append(rng.normal(1250, 100, 80))
    ys.append(rng.normal(3750, 100, 80))
    ts.append(np.full(80, months[-1].astype("datetime64[s]")))
    history = History.from_arrays(np.concatenate(xs), np.concatenate(ys), np.concatenate(ts))
    r = emerging_hotspots(history, units, until="2024-01", periods=12)
    hit = units.locate(np.array([1250.0]), np.array([3750.0]))[0]
    assert r.category[hit] == "new"
    first = r.changes()[0]
    assert first.category == "new" and first.unit_id == units.ids[hit]
    assert first.last_count > 3 * first.mean_before


def test_windows_outside_the_data_are_refused() -> None:
    with pytest.raises(NoDataError, match="fewer periods"):
        emerging_hotspots(toy_history(months=12), toy_units(), until="2022-01", periods=24)
    with pytest.raises(NoDataError, match="timestamped"):
        emerging_hotspots(toy_history(months=12), toy_units(), until="2021-12", period="1w", periods=12)


def test_weekly_space_time_run_on_timestamped_events() -> None:
    history = toy_history("timestamp", months=6)
    r = emerging_hotspots(history, toy_units(), until="2021-06-28", period="1w", periods=16, time_window=1)
    assert r.counts.shape[1] == 16
    assert r.params["time_window"] == 1 and r.params["period"] == "1w"
    assert r.window() == "2021-03-08 to 2021-06-27"


def test_custom_weights_are_used() -> None:
    units = toy_units(1000.0)
    alone = sp.identity(len(units), format="csr")
    r = emerging_hotspots(toy_history(), units, until="2023-12", periods=12, weights=alone)
    assert r.params["neighbours"] == "weights given"
    assert (r.nearby_counts() == r.counts).all()


# --- the map -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("polygons", [False, True])
def test_map_writes_a_png_with_drawn_units(tmp_path, toy_result: EmergingResult, polygons: bool) -> None:
    import matplotlib.image

    if polygons:
        units = toy_polygons()
        result = emerging_hotspots(toy_history(), units, until="2023-12", periods=12)
    else:
        units, result = toy_result.units, toy_result
    out = emerging_map(
        result,
        units,
        tmp_path / "maps" / "emerging.png",
        boundaries=shapely.box(0, 0, 5000, 5000),
        title="Toy town",
    )
    assert out.exists() and out.stat().st_size > 0
    img = matplotlib.image.imread(out)
    rgb = img[..., :3]
    assert (rgb < 0.95).any(axis=-1).mean() > 0.01  # outline, legend and filled units, not a blank page
    if not polygons:
        # Persistent hot cells are filled with their red.
        red = (rgb[..., 0] > 0.7) & (rgb[..., 1] < 0.5) & (rgb[..., 2] < 0.4)
        assert red.sum() > 100


def test_map_refuses_units_that_do_not_match(tmp_path, toy_result: EmergingResult) -> None:
    with pytest.raises(ValueError, match="units"):
        emerging_map(toy_result, toy_polygons(), tmp_path / "x.png")
