"""The fairness audit on a hand-built case with known shares, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.errors import ParameterError
from safestreets.impact.fairness import fairness_audit


def test_hand_built_shares():
    # Four areas: A gets half the patrols for a fifth of the harm.
    audit = fairness_audit(
        ["A", "B", "C", "D"],
        exposure=[50, 30, 10, 10],
        harm=[20, 40, 20, 20],
        population=[1000, 1000, 1000, 1000],
        groups={"Black": [600, 100, 100, 200], "White": [400, 900, 900, 800]},
    )
    rows = {r["area"]: r for r in audit.rows()}
    assert rows["A"]["exposure_share"] == 0.5 and rows["A"]["harm_share"] == 0.2
    assert rows["A"]["exposure_to_harm"] == 2.5 and rows["A"]["over_exposed"]
    assert rows["B"]["exposure_to_harm"] == 0.75 and not rows["B"]["over_exposed"]
    assert rows["C"]["population_share"] == 0.25
    assert rows["A"]["Black_share"] == 0.6 and rows["A"]["White_share"] == 0.13333
    assert audit.flagged == ["A"]
    # Black residents: 1000 of 4000 people (25%); exposure per resident: A 0.05, B 0.03, C/D 0.01.
    black = audit.groups["Black"]
    assert black["residents_share"] == pytest.approx(0.25)
    expected = (600 * 0.05 + 100 * 0.03 + 100 * 0.01 + 200 * 0.01) / 100  # share of all exposure
    assert black["exposure_share"] == pytest.approx(expected)
    assert black["relative_exposure"] == pytest.approx(expected / 0.25)
    assert "Black" in audit.summary() and "1 of 4 areas" in audit.summary()
    assert audit.to_dict()["flagged"] == ["A"]


def test_small_areas_do_not_flag_and_zero_harm():
    audit = fairness_audit(["a", "b", "c"], [0.5, 99, 0.5], [0, 100, 0], min_share=0.01)
    assert audit.flagged == []
    audit = fairness_audit(["a", "b"], [10, 90], [0, 100], min_share=0.01)
    assert audit.flagged == ["a"]  # exposure without any harm
    assert fairness_audit(["a"], [0], [0]).notes


def test_bad_input():
    with pytest.raises(ParameterError):
        fairness_audit(["a", "b"], [1], [1, 2])
    with pytest.raises(ParameterError):
        fairness_audit(["a"], [-1], [1])
    with pytest.raises(ParameterError):
        fairness_audit(["a"], [1], [1], threshold=0.5)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 5000)), min_size=1, max_size=30
    )
)
def test_shares_sum_to_one_and_equal_exposure_is_neutral(rows):
    exposure, harm, people = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    audit = fairness_audit(range(len(rows)), exposure, harm, population=people, groups={"g": people / 2})
    if exposure.sum() > 0:
        assert audit.exposure_share.sum() == pytest.approx(1.0)
    if harm.sum() > 0:
        assert audit.harm_share.sum() == pytest.approx(1.0)
    # A group spread exactly like everyone has exposure per resident equal to everyone's.
    if exposure.sum() > 0:
        assert audit.groups["g"]["relative_exposure"] == pytest.approx(1.0)
    # Exposure proportional to harm flags nothing.
    if harm.sum() > 0:
        assert fairness_audit(range(len(rows)), harm, harm).flagged == []


def test_areas_are_named_where_the_store_has_names():
    audit = fairness_audit(["A", "B"], exposure=[90, 10], harm=[10, 90], names={"A": "Westminster 018B"})
    rows = {r["area"]: r for r in audit.rows()}
    assert rows["A"]["name"] == "Westminster 018B" and rows["B"]["name"] is None
    assert "(Westminster 018B (A))" in audit.summary()


# --- population files as they come ---------------------------------------------------------------------


def test_a_long_table_by_age_is_one_row_per_area(tmp_path):
    from safestreets.sources.population import read_population

    f = tmp_path / "by_age.csv"
    f.write_text("lsoa21_code,lsoa21_name,age_group,usual_residents\n"
                 "E01000001,City of London 001A,Aged 15 and under,125\n"
                 "E01000001,City of London 001A,Aged 16 to 24,110\n"
                 "E01000002,City of London 001B,Aged 15 and under,100\n"
                 "E01000002,City of London 001B,Aged 16 to 24,50\n")  # fmt: skip
    t = read_population(f)
    assert t.to_pylist() == [
        {"code": "E01000001", "population": 235.0, "Aged 15 and under": 125.0, "Aged 16 to 24": 110.0},
        {"code": "E01000002", "population": 150.0, "Aged 15 and under": 100.0, "Aged 16 to 24": 50.0},
    ]


def test_ons_code_columns_are_known_and_an_ambiguous_long_table_is_refused(tmp_path):
    from safestreets.errors import InputError
    from safestreets.sources.population import read_population

    ons = tmp_path / "mid2020.csv"
    ons.write_text("LSOA11CD,LSOA11NM,Persons_All-Ages,Persons_0-15\nE01000001,City of London 001A,1749,296\n")
    t = read_population(ons)
    assert t["code"].to_pylist() == ["E01000001"] and t["population"].to_pylist() == [1749.0]
    twice = tmp_path / "twice.csv"
    twice.write_text("code,age,sex,usual_residents\nE1,a,m,3\nE1,b,f,4\nE2,a,m,5\n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column 'code'.*more than one row"):
        read_population(twice)
