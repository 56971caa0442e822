"""The Knox test on real burglaries: Cincinnati 2016-2018 (dated, located), where near repeats are known
to show (Johnson and Bowers 2004 found the pattern in every city they tested)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safestreets.geo.project import lonlat_to_crs
from safestreets.impact.knox import knox_test, near_repeat_advice

pytestmark = pytest.mark.realdata


def test_cincinnati_burglary_near_repeats(shared_data: Path) -> None:
    pd = pytest.importorskip("pandas")
    f = pd.read_csv(shared_data / "other_cities" / "cincinnati_burglary_2016_2018.csv.gz")
    f = f.dropna(subset=["longitude", "latitude"]).drop_duplicates("incident_no")
    x, y = lonlat_to_crs(f["longitude"].to_numpy(), f["latitude"].to_numpy(), "EPSG:32616")
    t = pd.to_datetime(f["offense_date"]).to_numpy().astype("datetime64[D]")
    res = knox_test(x, y, t, permutations=199, seed=0)
    assert res.events > 6000
    # 1-100 m and 0-6 days apart: far more pairs than chance, and as significant as 199 permutations allow.
    assert res.ratio[1, 0] > 1.5 and res.p_value[1, 0] <= 0.01
    advice = near_repeat_advice(res)
    assert advice.found and advice.distance_m is not None and 100 <= advice.distance_m <= 500
