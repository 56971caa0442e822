"""The synthetic city's planted intervention: opt-in, deterministic, and of the size it says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safestreets.errors import ParameterError
from safestreets.geo.project import lonlat_to_crs
from safestreets.synthetic import CityConfig, PlantedIntervention, generate_city


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def in_disc(folder: Path, month: str, doc: dict) -> int:
    f = pd.read_csv(folder / "police_uk" / month / f"{month}-synthetic-city-street.csv").dropna(
        subset=["Longitude"]
    )
    x, y = lonlat_to_crs(f["Longitude"].to_numpy(), f["Latitude"].to_numpy(), doc["crs"])
    cx, cy = doc["centre"]
    return int((np.hypot(x - cx, y - cy) <= doc["radius_m"]).sum())


def test_opt_in_deterministic_and_planted(tmp_path: Path) -> None:
    cfg = CityConfig(seed=3, n_events=6000, months=6, intervention=PlantedIntervention(start="2023-03", months=2,
                                                                                         effect=0.0))  # fmt: skip
    a = generate_city(tmp_path / "a", cfg)
    generate_city(tmp_path / "b", cfg)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    doc = json.loads(a.paths("intervention")[0].read_text())
    assert doc["start"] == "2023-03" and doc["end"] == "2023-05" and doc["effect"] == 0.0
    before = in_disc(tmp_path / "a", "2023-02", doc)
    during = in_disc(tmp_path / "a", "2023-03", doc) + in_disc(tmp_path / "a", "2023-04", doc)
    # Everything in the disc is cut but the few near-repeat burglaries placed by earlier parents.
    assert before > 20 and during <= 0.1 * 2 * before
    assert in_disc(tmp_path / "a", "2023-05", doc) > 0
    plain = generate_city(tmp_path / "c", CityConfig(seed=3, n_events=6000, months=6))
    assert "intervention" not in plain.files
    assert "intervention" not in (tmp_path / "c" / "README.txt").read_text()
    # Months before the intervention are the same bytes with or without it.
    for m in ("2023-01", "2023-02"):
        name = f"police_uk/{m}/{m}-synthetic-city-street.csv"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()


def test_bad_planted_values() -> None:
    with pytest.raises(ParameterError):
        PlantedIntervention(start="2023-01", effect=3.0)
    with pytest.raises(ParameterError):
        PlantedIntervention(start="2023-01", crime_types=("Jaywalking",))
