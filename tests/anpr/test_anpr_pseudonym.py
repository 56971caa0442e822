"""Plates: the normaliser and parser (properties), and pseudonyms that are stable with the key and useless
without it."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safestreets.anpr.pseudonym import AnprKeyError, PlateKey, key_path, load_key
from safestreets.sources.anpr import normalise_plate, plate_format, plate_problem

ALNUM = string.ascii_uppercase + string.digits
plates = st.text(ALNUM, min_size=2, max_size=8)


@given(plates, st.lists(st.sampled_from([" ", "\t"]), max_size=3), st.booleans())
def test_spaces_and_case_do_not_matter(plate: str, spaces: list[str], lower: bool) -> None:
    typed = "".join(spaces) + (plate.lower() if lower else plate)[:2] + " " + plate[2:] + "".join(spaces)
    assert normalise_plate(typed) == plate
    assert plate_problem(typed) is None


@given(st.text(max_size=12))
def test_every_string_is_a_plate_or_has_a_reason(text: str) -> None:
    plate, problem = normalise_plate(text), plate_problem(text)
    assert (plate is None) == (problem is not None)
    if plate is not None:
        assert 2 <= len(plate) <= 8 and all(c in ALNUM for c in plate)
        assert plate_format(plate) in ("current", "prefix", "suffix", "dateless", "other")
    else:
        # One of three reasons, none quoting the text (it may be a plate, misread: personal data).
        assert problem in ("no plate", "a plate holds only letters and digits (after dropping spaces)") or (
            problem or ""
        ).startswith("a plate has 2 to 8 letters and digits, this one ")


@pytest.mark.parametrize(("plate", "fmt"), [("AB12CDE", "current"), ("K123ABC", "prefix"), ("ABC123D", "suffix"),
                                            ("1234AB", "dateless"), ("ABZ1234", "dateless"), ("D12", "dateless"),
                                            ("ZX9Q9Q", "other")])  # fmt: skip
def test_named_formats(plate: str, fmt: str) -> None:
    assert plate_format(plate) == fmt


def test_refusals_say_why() -> None:
    assert plate_problem("") == "no plate"
    assert "letters and digits" in (plate_problem("AB-12") or "")
    assert "this one 9" in (plate_problem("ABCDEFGHJ") or "")
    assert "this one 1" in (plate_problem("A") or "")
    assert "letters and digits" in (plate_problem("ÅB12CDE") or "")


@given(plates)
def test_pseudonyms_are_stable_with_the_key_and_differ_without_it(plate: str) -> None:
    one, other = PlateKey(b"\x01" * 32), PlateKey(b"\x02" * 32)
    v = one.vehicle(plate)
    assert v == one.vehicle(plate) == one.vehicles([plate])[0]
    assert len(v) == 32 and int(v, 16) >= 0
    assert v != other.vehicle(plate)  # another key (a guessed one) gives another pseudonym
    assert one.open(one.seal(plate)) == plate
    with pytest.raises(AnprKeyError):
        other.open(one.seal(plate))


def test_the_key_file_is_made_once_private_and_kept_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFESTREETS_ANPR_KEY", raising=False)
    with pytest.raises(AnprKeyError, match="no ANPR key"):
        load_key(tmp_path, create=False)
    k = load_key(tmp_path)
    path = key_path(tmp_path)
    assert path == tmp_path / "keys" / "anpr.key" and path.stat().st_mode & 0o777 == 0o600
    assert load_key(tmp_path).vehicle("AB12CDE") == k.vehicle("AB12CDE")
    path.chmod(0o644)
    with pytest.raises(AnprKeyError, match="chmod 600"):
        load_key(tmp_path)
    elsewhere = tmp_path / "vault" / "anpr.key"
    monkeypatch.setenv("SAFESTREETS_ANPR_KEY", str(elsewhere))
    assert load_key(tmp_path).key_id != k.key_id and elsewhere.exists()


def test_a_store_refuses_a_second_key(ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from anpr.conftest import when, write_reads
    from safestreets.errors import InputError

    ws.anpr.load(write_reads(tmp_path / "a.csv", [("AB12CDE", when(5), "C1", "N", 0.9)]), actor="t")
    monkeypatch.setenv("SAFESTREETS_ANPR_KEY", str(tmp_path / "other.key"))
    with pytest.raises(InputError, match="pseudonymised with key"):
        ws.anpr.load(write_reads(tmp_path / "b.csv", [("AB12CDE", when(4), "C1", "N", 0.9)]), actor="t")


_rows = st.lists(
    st.tuples(
        st.one_of(plates, st.text(max_size=10)),
        st.one_of(st.just("2026-11-01T10:00:00Z"), st.just("2026-11-01 11:00:00"), st.text(max_size=8)),
        st.sampled_from(["C1", "C2", "", " "]),
        st.one_of(st.floats(-1, 2).map(str), st.just("nan"), st.just(""), st.just("x")),
    ),
    min_size=1, max_size=30,
)  # fmt: skip


@given(_rows)
def test_every_row_of_a_file_is_typed_or_named(rows: list[tuple[str, str, str, str]]) -> None:
    """The reads parser: each row is either kept (plate normalised, confidence in 0-1) or named with a reason;
    none vanishes and none is both."""
    import pyarrow as pa

    from safestreets.sources.anpr import RawFile, type_reads

    cols = list(zip(*rows, strict=True))
    table = pa.table({"plate": pa.array(cols[0], pa.string()), "read_at": pa.array(cols[1], pa.string()),
                      "camera_id": pa.array(cols[2], pa.string()), "confidence": pa.array(cols[3], pa.string()),
                      "_row": pa.array(range(1, len(rows) + 1), pa.int64())})  # fmt: skip
    typed = type_reads(RawFile(Path("t.csv"), table, "x", len(rows), []))
    kept = set(typed.table.column("_row").to_pylist())
    named = {e[0] for e in typed.errors}
    assert kept | named == set(range(1, len(rows) + 1)) and not kept & named
    for plate, conf in zip(typed.table.column("plate").to_pylist(), typed.table.column("confidence").to_pylist(),
                           strict=True):  # fmt: skip
        assert normalise_plate(plate) == plate
        assert conf is None or 0 <= conf <= 1
