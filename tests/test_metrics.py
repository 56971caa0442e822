"""Forecast-evaluation measures: hand-worked cases, properties and the evaluation table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.metrics import mean_poisson_deviance

from safestreets.evaluate.metrics import (
    CURVE_COVERAGES,
    capture_curve,
    coverage_curve,
    evaluate,
    flagged,
    harm_captured,
    hit_rate,
    pai,
    pei,
    poisson_deviance,
    stability,
)

# --- hand-worked cases ---------------------------------------------------------------------------------

# Four unit squares. Forecast order (by density = score): 0, 1, 2, 3. Actual total 4.
# Best order (by actual density): 2 (3 events), 0 (1), then 1 and 3 tied at 0.
SCORES = [4.0, 3.0, 2.0, 1.0]
ACTUAL = [1.0, 0.0, 3.0, 0.0]
UNIT = [1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("c", "hr", "pai_", "best"),
    [
        # Half of unit 0 -> 0.5 of 4; the best takes half of unit 2 -> 1.5 of 4.
        (0.125, 0.125, 1.0, 0.375),
        # Unit 0 -> 1 of 4; best: unit 2 -> 3 of 4.
        (0.25, 0.25, 1.0, 0.75),
        # Units 0, 1 -> 1 of 4; best: units 2, 0 -> 4 of 4.
        (0.5, 0.25, 0.5, 1.0),
        # Units 0, 1, 2 -> 4 of 4.
        (0.75, 1.0, 4 / 3, 1.0),
        (1.0, 1.0, 1.0, 1.0),
    ],
)
def test_equal_areas_by_hand(c: float, hr: float, pai_: float, best: float) -> None:
    assert hit_rate(SCORES, ACTUAL, UNIT, c) == pytest.approx(hr)
    assert pai(SCORES, ACTUAL, UNIT, c) == pytest.approx(pai_)
    assert hit_rate(ACTUAL, ACTUAL, UNIT, c) == pytest.approx(best)
    assert pei(SCORES, ACTUAL, UNIT, c) == pytest.approx(hr / best)


def test_pei_one_third_at_a_quarter() -> None:
    assert pei(SCORES, ACTUAL, UNIT, 0.25) == pytest.approx(1 / 3)
    assert pei(SCORES, ACTUAL, UNIT, 0.5) == pytest.approx(0.25)


def test_flagged_by_hand() -> None:
    assert flagged(SCORES, UNIT, 0.125).tolist() == [False] * 4  # half a unit flags nothing whole
    assert flagged(SCORES, UNIT, 0.25).tolist() == [True, False, False, False]
    assert flagged(SCORES, UNIT, 0.5).tolist() == [True, True, False, False]
    assert flagged(SCORES, UNIT, 1.0).all()
    assert not flagged(SCORES, UNIT, 0.0).any()


def test_tie_block_shares_area() -> None:
    # Units 0 and 1 tie (score 3); units 2 and 3 tie (score 0). Actual total 12.
    scores, actual = [3.0, 3.0, 0.0, 0.0], [2.0, 4.0, 0.0, 6.0]
    # 25 % = half of the first block (2 + 4) -> 3 of 12, not unit 0's 2 of 12.
    assert hit_rate(scores, actual, UNIT, 0.25) == pytest.approx(0.25)
    assert hit_rate(scores, actual, UNIT, 0.5) == pytest.approx(0.5)
    # The whole first block (6) plus half of the second (0 + 6) -> 9 of 12.
    assert hit_rate(scores, actual, UNIT, 0.75) == pytest.approx(0.75)
    # Whole units for display still break the tie by index.
    assert flagged(scores, UNIT, 0.25).tolist() == [True, False, False, False]


def test_unequal_areas_rank_by_density() -> None:
    # Areas 1, 2, 3, 4 (total 10); densities 3, 1, 0.5, 2 -> order 0, 3, 1, 2 with cumulative
    # area 1, 5, 7, 10. Actual 1, 0, 6, 2 (total 9) -> cumulative capture 1, 3, 3, 9.
    scores, area, actual = [3.0, 2.0, 1.5, 8.0], [1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 6.0, 2.0]
    c = [0.1, 0.3, 0.5, 0.6, 0.8, 1.0]
    # 0.3 -> 3 m²: unit 0 and half of unit 3 -> 1 + 1; 0.8 -> 8 m²: 7 m² and a third of unit 2 -> 3 + 2.
    expected = [1 / 9, 2 / 9, 3 / 9, 3 / 9, 5 / 9, 1.0]
    assert capture_curve(scores, actual, area, c) == pytest.approx(expected)
    # Best: actual densities 1, 0, 2, 0.5 -> unit 2 first (3 m², 6 events): 6 of 9 at 30 %.
    assert pei(scores, actual, area, 0.3) == pytest.approx((2 / 9) / (6 / 9))
    assert pai(scores, actual, area, 0.3) == pytest.approx((2 / 9) / 0.3)
    assert flagged(scores, area, 0.3).tolist() == [True, False, False, False]
    assert flagged(scores, area, 0.5).tolist() == [True, False, False, True]


def test_boundary_unit_counts_in_part() -> None:
    # Budget 5.5 m² of 11: 5.5 / 10 of unit 0, which holds every event.
    scores, area, actual = [10.0, 0.0], [10.0, 1.0], [4.0, 0.0]
    assert hit_rate(scores, actual, area, 0.5) == pytest.approx(0.55)
    assert pai(scores, actual, area, 0.5) == pytest.approx(1.1)
    assert not flagged(scores, area, 0.5).any()  # the first unit alone exceeds the budget


def test_flagged_tolerates_rounding_of_areas() -> None:
    # 0.1 + 0.1 + 0.1 is 0.30000000000000004; three of ten units still fit in 30 %.
    assert flagged(np.arange(10.0)[::-1], np.full(10, 0.1), 0.3).sum() == 3


def test_harm_captured_by_hand() -> None:
    # Ranked by scores, unit 0 first: it holds 5 of the 10 harm.
    assert harm_captured(SCORES, [5.0, 1.0, 4.0, 0.0], UNIT, 0.25) == pytest.approx(0.5)
    # Ranked by harm forecasts, unit 2 first: 4 of 10.
    assert harm_captured([0.0, 0.0, 9.0, 0.0], [5.0, 1.0, 4.0, 0.0], UNIT, 0.25) == pytest.approx(0.4)


def test_nothing_happened_is_nan() -> None:
    zeros = [0.0] * 4
    assert math.isnan(hit_rate(SCORES, zeros, UNIT, 0.5))
    assert math.isnan(pai(SCORES, zeros, UNIT, 0.5))
    assert math.isnan(pei(SCORES, zeros, UNIT, 0.5))


def test_zero_coverage() -> None:
    assert hit_rate(SCORES, ACTUAL, UNIT, 0.0) == 0.0
    assert math.isnan(pai(SCORES, ACTUAL, UNIT, 0.0))
    assert math.isnan(pei(SCORES, ACTUAL, UNIT, 0.0))
    # A coverage whose share of the area rounds to nothing covers nothing: the same as 0, not an error.
    tiny, small = 5e-324, [0.1] * 4
    assert tiny * sum(small) == 0.0
    assert hit_rate(SCORES, ACTUAL, small, tiny) == 0.0
    assert math.isnan(pei(SCORES, ACTUAL, small, tiny))


def test_coverage_curve_default_grid() -> None:
    c, hr = coverage_curve(SCORES, ACTUAL, UNIT)
    assert c == pytest.approx(np.arange(41) * 0.005)
    assert hr == pytest.approx(capture_curve(SCORES, ACTUAL, UNIT, CURVE_COVERAGES))
    assert hr[0] == 0.0
    assert hr[-1] == pytest.approx(0.2)  # 0.8 of unit 0, which holds a quarter of the events


# --- properties ----------------------------------------------------------------------------------------


@st.composite
def units(draw: st.DrawFn, min_size: int = 1, max_size: int = 40) -> tuple[np.ndarray, ...]:
    """(scores, actual, area): small integer scores so ties are common, counts, areas 0.5 to 10."""
    n = draw(st.integers(min_size, max_size))
    scores = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    actual = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    area = draw(st.lists(st.floats(0.5, 10.0), min_size=n, max_size=n))
    return np.array(scores, float), np.array(actual, float), np.array(area, float)


coverage = st.floats(0.0, 1.0)
GRID = np.linspace(0.0, 1.0, 51)


@given(units(), st.floats(0.01, 100.0))
def test_perfect_forecast_pei_is_one(u: tuple[np.ndarray, ...], k: float) -> None:
    _, actual, area = u
    assume(actual.sum() > 0)
    for c in GRID[1:]:
        assert pei(actual * k, actual, area, c) == pytest.approx(1.0, abs=1e-9)


@given(units(), coverage)
def test_measures_are_bounded(u: tuple[np.ndarray, ...], c: float) -> None:
    scores, actual, area = u
    assume(actual.sum() > 0 and c * area.sum() > 0)  # some area covered (see test_zero_coverage)
    assert 0.0 <= hit_rate(scores, actual, area, c) <= 1.0
    assert 0.0 <= pei(scores, actual, area, c) <= 1.0


@given(units())
def test_no_ranking_beats_the_best(u: tuple[np.ndarray, ...]) -> None:
    # Checked on the raw curves, so the clip of PEI to 1 cannot hide a wrong optimum.
    scores, actual, area = u
    assume(actual.sum() > 0)
    hit = capture_curve(scores, actual, area, GRID)
    best = capture_curve(actual, actual, area, GRID)
    assert np.all(hit <= best + 1e-12)


@given(units())
def test_hit_rate_is_non_decreasing_and_ends_at_one(u: tuple[np.ndarray, ...]) -> None:
    scores, actual, area = u
    assume(actual.sum() > 0)
    hit = capture_curve(scores, actual, area, GRID)
    assert np.all(np.diff(hit) >= 0)
    assert hit[0] == 0.0
    assert hit_rate(scores, actual, area, 1.0) == 1.0


@given(units(), coverage)
def test_capture_is_continuous(u: tuple[np.ndarray, ...], c: float) -> None:
    # A small step in coverage captures at most the densest unit's share over that step.
    scores, actual, area = u
    assume(actual.sum() > 0)
    step = 1e-6
    hi = min(c + step, 1.0)
    jump = hit_rate(scores, actual, area, hi) - hit_rate(scores, actual, area, c)
    max_density = np.max(actual / area) * area.sum() / actual.sum()
    assert 0.0 <= jump <= max_density * (hi - c) + 1e-9


@given(st.integers(1, 60), coverage, st.floats(0.0, 5.0))
def test_constant_scores_equal_areas_capture_the_coverage(n: int, c: float, s: float) -> None:
    rng = np.random.default_rng(n)
    actual = rng.poisson(2.0, n).astype(float)
    assume(actual.sum() > 0)
    assert hit_rate(np.full(n, s), actual, np.ones(n), c) == pytest.approx(c, abs=1e-12)


@given(units(), coverage)
def test_constant_scores_capture_the_coverage_when_actual_follows_area(
    u: tuple[np.ndarray, ...], c: float
) -> None:
    # Unequal areas rank small units first, but every unit holds events in proportion to its area.
    _, _, area = u
    assert hit_rate(np.ones(len(area)), 3.0 * area, area, c) == pytest.approx(c, abs=1e-9)


def test_random_ranking_pai_is_about_one() -> None:
    rng = np.random.default_rng(2024)
    n = 500
    actual = rng.poisson(1.5, n).astype(float)
    area = rng.uniform(0.5, 2.0, n)
    for c in (0.05, 0.1, 0.2):
        # Random densities, so the ranking is a random order of units whatever their area.
        mean_pai = np.mean([pai(rng.random(n) * area, actual, area, c) for _ in range(300)])
        assert mean_pai == pytest.approx(1.0, abs=0.1)


@given(units(), coverage)
def test_flagged_fits_the_budget(u: tuple[np.ndarray, ...], c: float) -> None:
    scores, _, area = u
    mask = flagged(scores, area, c)
    assert area[mask].sum() <= c * area.sum() * (1 + 1e-9)
    # Flagged units are the densest: none left out is denser than one flagged.
    density = scores / area
    if mask.any() and (~mask).any():
        assert density[mask].min() >= density[~mask].max()


def test_stability() -> None:
    a = np.array([True, True, False, False])
    assert stability(a, a) == 1.0
    assert stability(a, ~a) == 0.0
    assert stability(a, [True, False, True, False]) == pytest.approx(1 / 3)
    assert math.isnan(stability([False, False], [False, False]))


@given(st.lists(st.booleans(), min_size=1, max_size=30))
def test_stability_of_identical_sets_is_one(mask: list[bool]) -> None:
    a = np.array(mask)
    assume(a.any())
    assert stability(a, a) == 1.0
    assert stability(a, ~a) == 0.0


# --- deviance ------------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 20), min_size=1, max_size=40))
def test_perfect_forecast_has_zero_deviance(counts: list[int]) -> None:
    y = np.array(counts, float)
    # Zero counts forecast as zero pay only the 1e-9 floor.
    assert poisson_deviance(y, y) == pytest.approx(0.0, abs=1e-8)


def test_deviance_matches_the_formula() -> None:
    rng = np.random.default_rng(7)
    y = rng.poisson(2.0, 200).astype(float)
    mu = rng.gamma(2.0, 1.0, 200)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.mean(2 * (np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
    assert poisson_deviance(y, mu) == pytest.approx(direct)
    assert poisson_deviance(y, mu) == pytest.approx(mean_poisson_deviance(y, mu))
    # A zero forecast is clipped, not infinite.
    assert poisson_deviance([1.0, 0.0], [0.0, 0.0]) == pytest.approx(
        np.mean([2 * (math.log(1 / 1e-9) - (1 - 1e-9)), 2 * 1e-9])
    )


# --- the evaluation table ------------------------------------------------------------------------------


@pytest.fixture
def city() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 400
    actual = rng.poisson(1.0, n).astype(float)
    return {
        "scores": np.round(actual * 0.5 + rng.gamma(1.0, 1.0, n), 1),  # rounded, so some ties
        "actual": actual,
        "area": rng.uniform(2e4, 6e4, n),
        "actual_harm": actual * rng.uniform(1.0, 50.0, n),
        "harm_scores": rng.gamma(2.0, 10.0, n),
        "groups": rng.choice(np.array(["E05", "N02", "S07", ""]), n),
    }


COVERAGES = (0.01, 0.05, 0.1, 0.25)


def expected_rows(scope: str, d: dict[str, np.ndarray], idx: np.ndarray) -> list[dict[str, object]]:
    """The evaluation rows of one scope built from the single-measure functions on its units."""
    s, y, a, h, hs = (d[k][idx] for k in ("scores", "actual", "area", "actual_harm", "harm_scores"))
    return [
        {
            "scope": scope,
            "coverage": c,
            "hit_rate": hit_rate(s, y, a, c),
            "pai": pai(s, y, a, c),
            "pei": pei(s, y, a, c),
            "harm_captured": harm_captured(hs, h, a, c),
            "flagged_units": int(flagged(s, a, c).sum()),
            "actual_total": y.sum(),
            "predicted_total": s.sum(),
            "deviance": poisson_deviance(y, s),
        }
        for c in COVERAGES
    ]


def assert_rows_equal(got: list[dict[str, object]], want: list[dict[str, object]]) -> None:
    assert [r["scope"] for r in got] == [r["scope"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for key, value in w.items():
            assert g[key] == (value if isinstance(value, str | int) else pytest.approx(value, nan_ok=True))


def test_evaluate_city_rows_match_the_functions(city: dict[str, np.ndarray]) -> None:
    rows = evaluate(
        city["scores"], city["actual"], city["area"], coverages=COVERAGES,
        actual_harm=city["actual_harm"], harm_scores=city["harm_scores"],
    )  # fmt: skip
    assert_rows_equal(rows, expected_rows("city", city, np.arange(len(city["scores"]))))


def test_evaluate_group_rows_match_the_subsets(city: dict[str, np.ndarray]) -> None:
    rows = evaluate(
        city["scores"], city["actual"], city["area"], coverages=COVERAGES,
        actual_harm=city["actual_harm"], harm_scores=city["harm_scores"], groups=city["groups"],
    )  # fmt: skip
    want = expected_rows("city", city, np.arange(len(city["scores"])))
    for label in ("E05", "N02", "S07"):  # sorted; unassigned units have no rows of their own
        want += expected_rows(label, city, np.flatnonzero(city["groups"] == label))
    assert_rows_equal(rows, want)

    # Totals cross-checked independently of the module.
    table = pd.DataFrame(rows)
    frame = pd.DataFrame({k: city[k] for k in ("groups", "actual", "scores")})
    totals = frame[frame.groups != ""].groupby("groups")[["actual", "scores"]].sum()
    per_scope = table[table.scope != "city"].groupby("scope")[["actual_total", "predicted_total"]].first()
    assert per_scope.to_numpy() == pytest.approx(totals.to_numpy())
    assert table[table.scope == "city"].actual_total.iloc[0] == pytest.approx(city["actual"].sum())


def test_evaluate_harm_defaults(city: dict[str, np.ndarray]) -> None:
    s, y, a, h = city["scores"], city["actual"], city["area"], city["actual_harm"]
    assert all(math.isnan(r["harm_captured"]) for r in evaluate(s, y, a))
    # Without harm forecasts, harm is ranked by the count forecast.
    rows = evaluate(s, y, a, coverages=[0.1], actual_harm=h)
    assert rows[0]["harm_captured"] == pytest.approx(harm_captured(s, h, a, 0.1))
    assert [r["coverage"] for r in evaluate(s, y, a)] == [0.01, 0.05, 0.10]


def test_evaluate_group_without_events_is_nan() -> None:
    rows = evaluate(
        [1.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 1.0, 1.0], coverages=[0.5], groups=["a", "a", "b"]
    )
    by_scope = {r["scope"]: r for r in rows}
    assert math.isnan(by_scope["a"]["hit_rate"]) and math.isnan(by_scope["a"]["pei"])
    # Half of b's single unit holds half its events, though no whole unit is flagged.
    assert by_scope["b"]["hit_rate"] == pytest.approx(0.5)
    assert by_scope["b"]["flagged_units"] == 0


@pytest.mark.slow
def test_evaluate_large() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    actual = rng.poisson(0.3, n).astype(float)
    groups = rng.choice(np.array([f"BCU{i:02d}" for i in range(12)] + [""]), n)
    rows = evaluate(
        rng.gamma(1.0, 0.3, n), actual, rng.uniform(1e4, 6e4, n), actual_harm=actual, groups=groups
    )
    assert len(rows) == 3 * 13
    assert all(0.0 <= r["pei"] <= 1.0 for r in rows)


# --- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "actual", "area", "c", "match"),
    [
        ([1.0, 2.0], [1.0], [1.0, 1.0], 0.1, "length"),
        ([1.0, -2.0], [1.0, 0.0], [1.0, 1.0], 0.1, "scores"),
        ([1.0, 2.0], [1.0, float("nan")], [1.0, 1.0], 0.1, "actual"),
        ([1.0, float("inf")], [1.0, 0.0], [1.0, 1.0], 0.1, "scores"),
        ([1.0, 2.0], [1.0, 0.0], [1.0, 0.0], 0.1, "area"),
        ([1.0, 2.0], [1.0, 0.0], [1.0, -1.0], 0.1, "area"),
        ([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], 1.5, "coverage"),
        ([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], -0.1, "coverage"),
        ([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], float("nan"), "coverage"),
        ([], [], [], 0.1, "no units"),
        ([[1.0, 2.0]], [[1.0, 0.0]], [[1.0, 1.0]], 0.1, "one-dimensional"),
    ],
)
def test_bad_input_raises(scores: list, actual: list, area: list, c: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hit_rate(scores, actual, area, c)
    with pytest.raises(ValueError, match=match):
        evaluate(scores, actual, area, coverages=[c])


def test_bad_input_raises_elsewhere() -> None:
    with pytest.raises(ValueError, match="area"):
        flagged([1.0], [0.0], 0.1)
    with pytest.raises(ValueError, match="coverage"):
        flagged([1.0], [1.0], 2.0)
    with pytest.raises(ValueError, match="equal in length"):
        stability([True], [True, False])
    with pytest.raises(ValueError, match="predicted"):
        poisson_deviance([1.0], [-1.0])
    with pytest.raises(ValueError, match="groups"):
        evaluate([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], groups=["a"])
    with pytest.raises(ValueError, match="actual_harm"):
        evaluate([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], harm_scores=[1.0, 1.0])
    with pytest.raises(ValueError, match="actual_harm"):
        evaluate([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], actual_harm=[1.0])
