"""Census TS021 tables: both layouts read, bad cells named by row and column, and a table whose areas do
not match the loaded boroughs refused with the field named and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.accountability.helpers_acct import LAD_HEADER, lad_csv, small_workspace

from safestreets.errors import InputError
from safestreets.sources.census import GROUPS, read_ts021


def stored(ws) -> int:
    return ws.con.execute("SELECT count(*) FROM population_ethnicity").fetchall()[0][0]


def test_lad_table_loads_and_sums_detailed_columns(tmp_path: Path) -> None:
    ws = small_workspace(tmp_path)
    path = lad_csv(tmp_path / "lad.csv", [["E09000007", "Camden", 10, 20, 3, 100, 5],
                                           ["E09000019", "Islington", 1, 2, 3, 4, 5], ["E06000001", "Hartlepool", 9, 9, 9, 9, 9]])  # fmt: skip
    report = ws.load_population(path)
    assert (report.level, report.areas, report.boroughs, report.outside) == ("lad", 2, 2, 1)
    assert report.population == 138 + 15
    again = ws.load_population(path)  # a re-load replaces, adds nothing twice
    assert again.population == report.population and stored(ws) == 2 * len(GROUPS)
    ws.close()


def test_areas_that_do_not_match_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    ws = small_workspace(tmp_path)
    path = lad_csv(tmp_path / "wales.csv", [["W06000001", "Isle of Anglesey", 1, 2, 3, 4, 5]])
    with pytest.raises(InputError, match="area_code") as err:
        ws.load_population(path)
    assert "no area matches a loaded borough" in str(err.value)
    partial = lad_csv(tmp_path / "camden.csv", [["E09000007", "Camden", 1, 2, 3, 4, 5]])
    with pytest.raises(InputError, match="E09000019 Islington") as err:
        ws.load_population(partial)
    assert err.value.column == "area_code"
    assert stored(ws) == 0
    ws.close()


def test_a_failed_reload_keeps_the_earlier_load(tmp_path: Path) -> None:
    ws = small_workspace(tmp_path)
    good = lad_csv(
        tmp_path / "good.csv",
        [["E09000007", "Camden", 1, 2, 3, 4, 5], ["E09000019", "Islington", 1, 2, 3, 4, 5]],
    )
    ws.load_population(good)
    bad = lad_csv(tmp_path / "bad.csv", [["E09000007", "Camden", 1, 2, 3, 4, 5]])
    with pytest.raises(InputError):
        ws.load_population(bad)
    assert stored(ws) == 2 * len(GROUPS)
    ws.close()


def test_bad_cells_are_named(tmp_path: Path) -> None:
    path = lad_csv(tmp_path / "bad.csv", [["E09000007", "Camden", 1, "lots", 3, 4, 5]])
    with pytest.raises(InputError) as err:
        read_ts021(path)
    assert err.value.row == 1 and err.value.column == LAD_HEADER[3] and err.value.value == "lots"
    neg = lad_csv(tmp_path / "neg.csv", [["E09000007", "Camden", 1, 2, 3, -4, 5]])
    with pytest.raises(InputError, match="negative"):
        read_ts021(neg)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("code,people\nE09000007,5\n")
    with pytest.raises(InputError, match="not a TS021 table"):
        read_ts021(wrong)


def test_msoa_layout_checks_the_total(tmp_path: Path) -> None:
    header = ["date", "geography", "geography code", "Ethnic group: Total: All usual residents",
              *[f"Ethnic group: {p}" for p in ("Asian, Asian British or Asian Welsh",
                                              "Black, Black British, Black Welsh, Caribbean or African",
                                              "Mixed or Multiple ethnic groups", "White", "Other ethnic group")]]  # fmt: skip
    path = tmp_path / "msoa.csv"
    path.write_text(",".join(f'"{h}"' for h in header) + "\n2021,Camden 001,E02000166,15,1,2,3,4,5\n"
                    "2021,Islington 001,E02000554,16,1,2,3,4,5\n")  # fmt: skip
    with pytest.raises(InputError, match="add up") as err:
        read_ts021(path)
    assert err.value.row == 2
    path.write_text(path.read_text().replace(",16,", ",15,"))
    ws = small_workspace(tmp_path)
    report = ws.load_population(path)
    assert (report.level, report.areas, report.boroughs) == ("msoa", 2, 2)
    ws.close()


@given(st.lists(st.lists(st.integers(0, 10**6), min_size=5, max_size=5), min_size=1, max_size=8))
def test_read_ts021_keeps_every_count(
    tmp_path_factory: pytest.TempPathFactory, counts: list[list[int]]
) -> None:
    path = lad_csv(tmp_path_factory.mktemp("h") / "t.csv",
                   [[f"E0900{i:04d}", f"Area {i}", *c] for i, c in enumerate(counts)])  # fmt: skip
    t = read_ts021(path)
    assert t.num_rows == 5 * len(counts)
    assert sum(t.column("population").to_pylist()) == sum(map(sum, counts))
