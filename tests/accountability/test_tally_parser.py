"""The tally CSV reader: every count read back as written, and the first bad cell named by row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safestreets.errors import InputError
from safestreets.sources.tallies import COUNTS, read_tallies

ROWS = st.lists(st.tuples(st.dates(), st.sampled_from(["", "knife arches", "Drug-dogs", "ANPR"]),
                          st.lists(st.integers(-3, 10**6), min_size=len(COUNTS), max_size=len(COUNTS))),
                min_size=1, max_size=12)  # fmt: skip


@given(ROWS)
def test_counts_round_trip_or_the_first_negative_is_named(tmp_path_factory: pytest.TempPathFactory,
                                                           rows: list[tuple]) -> None:  # fmt: skip
    path = Path(tmp_path_factory.mktemp("t")) / "tallies.csv"
    lines = ["date,tactic," + ",".join(COUNTS)]
    lines += [f"{d.isoformat()},{t}," + ",".join(str(v) for v in c) for d, t, c in rows]
    path.write_text("\n".join(lines) + "\n")
    bad = next(
        ((i, COUNTS[j]) for i, (_, _, c) in enumerate(rows, 1) for j, v in enumerate(c) if v < 0), None
    )
    if bad is None:
        table = read_tallies(path)
        assert [[r[c] for c in COUNTS] for r in table.to_pylist()] == [c for _, _, c in rows]
        assert table.column("day").to_pylist() == [d for d, _, _ in rows]
    else:
        with pytest.raises(InputError, match="cannot be negative") as err:
            read_tallies(path)
        assert (err.value.row, err.value.column) == bad


def test_header_and_cells_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("date,knifes\n2024-01-01,1\n")
    with pytest.raises(InputError, match="unknown column") as err:
        read_tallies(path)
    assert err.value.column == "knifes"
    path.write_text("bcu,knives\nEast,1\n")
    with pytest.raises(InputError, match="no 'date' column"):
        read_tallies(path)
    path.write_text("date,knives\n2024-02-30,1\n")
    with pytest.raises(InputError, match="not a date") as err:
        read_tallies(path)
    assert (err.value.row, err.value.column) == (1, "date")
    path.write_text('Date,Other offensive weapons,Drugs and illegal items\n2024-01-01,"1,002",5\n')
    row = read_tallies(path).to_pylist()[0]
    assert (row["weapons"], row["drugs"], row["knives"]) == (1002, 5, 0)
