"""The synthetic city: layout, formats, determinism, and the patterns analysts will look for."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import tomllib
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree

from safestreets.errors import SafestreetsError
from safestreets.geo.project import lonlat_to_crs
from safestreets.synthetic import (
    FORCE_RECORD_COLUMNS,
    OUTCOME_COLUMNS,
    STOP_SEARCH_COLUMNS,
    STREET_COLUMNS,
    TYPE_SHARES,
    CityConfig,
    CityManifest,
    generate_city,
    write_archive_zip,
)
from safestreets.vocab import CRIME_TYPES

LONDON = ZoneInfo("Europe/London")
REAL_LOOKUP_HEADER = "borough,lad22cd,met_bcu"  # /work/shared/data/london/borough_to_met_bcu_lookup.csv
NIGHT = {22, 23, 0, 1, 2, 3}


def _read(paths: tuple[Path, ...]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths], ignore_index=True)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> CityManifest:
    return generate_city(tmp_path_factory.mktemp("city"), CityConfig(seed=7, n_events=20_000, months=12))


@pytest.fixture(scope="module")
def street(city: CityManifest) -> pd.DataFrame:
    return _read(city.paths("street"))


@pytest.fixture(scope="module")
def outcomes(city: CityManifest) -> pd.DataFrame:
    return _read(city.paths("outcomes"))


@pytest.fixture(scope="module")
def stops(city: CityManifest) -> pd.DataFrame:
    return _read(city.paths("stop-and-search"))


@pytest.fixture(scope="module")
def records(city: CityManifest) -> pd.DataFrame:
    frame = pd.read_csv(city.paths("force-records")[0], dtype={"beat": str, "incident_ref": str})
    mapping = tomllib.loads(city.paths("force-mapping")[0].read_text())
    frame["type"] = frame["offence"].map(mapping["crime_types"])
    occurred = pd.to_datetime(frame["occurred"], format=mapping["columns"]["occurred_format"])
    frame["hour"], frame["dow"], frame["month_no"] = (
        occurred.dt.hour,
        occurred.dt.day_of_week,
        occurred.dt.month,
    )
    frame["month"] = occurred.dt.strftime("%Y-%m")
    frame["day"] = occurred
    return frame


# --- layout, headers, manifest ------------------------------------------------------------------------


def test_layout_follows_the_bulk_archive(city: CityManifest) -> None:
    root = city.out_dir
    assert city.forces == ("synthetic-city",)
    assert city.months == tuple(f"2023-{m:02d}" for m in range(1, 13))
    for month in city.months:
        for kind in ("street", "outcomes", "stop-and-search"):
            assert (root / "police_uk" / month / f"{month}-synthetic-city-{kind}.csv").is_file()
    for rel in (
        "force_records/synthetic-city-records.csv",
        "force_records/synthetic-city-mapping.toml",
        "boundaries/lsoa.geojson",
        "boundaries/boroughs.geojson",
        "boundaries/borough_to_bcu.csv",
        "places/stations.csv",
        "places/night_time_economy.csv",
        "places/open_spaces.csv",
        "population/lsoa_population.csv",
        "README.txt",
    ):
        assert (root / rel).is_file(), rel
    assert "NOT REAL CRIME" in (root / "README.txt").read_text()


def test_headers_are_exact(city: CityManifest) -> None:
    expected = {
        "street": STREET_COLUMNS,
        "outcomes": OUTCOME_COLUMNS,
        "stop-and-search": STOP_SEARCH_COLUMNS,
        "force-records": FORCE_RECORD_COLUMNS,
    }
    assert ",".join(STREET_COLUMNS) == (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
        "Crime type,Last outcome category,Context"
    )
    assert ",".join(STOP_SEARCH_COLUMNS) == (
        "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,Age range,"
        "Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,Outcome,"
        "Outcome linked to object of search,Removal of more than just outer clothing"
    )
    for kind, columns in expected.items():
        for path in city.paths(kind):
            with path.open() as f:
                assert f.readline() == ",".join(columns) + "\n", path
    bcu = city.paths("borough-to-bcu")[0].read_text().splitlines()[0]
    assert bcu == REAL_LOOKUP_HEADER
    for kind in ("stations", "night-time-economy", "open-spaces"):
        assert city.paths(kind)[0].read_text().splitlines()[0] == "id,name,kind,latitude,longitude"
    header = city.paths("population")[0].read_text().splitlines()[0]
    assert header == "lsoa_code,population,white,black,asian,mixed,other"


def test_manifest_row_counts_match_files(city: CityManifest) -> None:
    for kind in (
        "street",
        "outcomes",
        "stop-and-search",
        "force-records",
        "borough-to-bcu",
        "population",
        "stations",
        "night-time-economy",
        "open-spaces",
    ):
        total = 0
        for path in city.paths(kind):
            with path.open() as f:
                n = sum(1 for _ in f) - 1
            assert city.file_rows[path] == n, path
            total += n
        assert city.rows[kind] == total, kind
    assert city.rows["street"] == 20_000
    features = json.loads(city.paths("lsoa-boundaries")[0].read_text())["features"]
    assert city.rows["lsoa-boundaries"] == len(features)


def test_no_quotes_and_fixed_six_decimals(street: pd.DataFrame, stops: pd.DataFrame) -> None:
    six = re.compile(r"^-?\d+\.\d{6}$")
    located = street[street["Longitude"] != ""]
    assert located["Longitude"].str.match(six).all() and located["Latitude"].str.match(six).all()
    assert stops.loc[stops["Latitude"] != "", "Latitude"].str.match(six).all()
    assert street["Location"].str.match(r"^(On or near .+|No Location)$").all()
    assert (street["Month"] == street["Month"].str.extract(r"^(\d{4}-\d{2})$")[0]).all()
    assert (street["Reported by"] == "Synthetic City Police").all()
    assert (street["Falls within"] == "Synthetic City Police").all()
    assert (street["Context"] == "").all()


def test_codes_do_not_look_like_ons_codes(street: pd.DataFrame) -> None:
    codes = street.loc[street["LSOA code"] != "", "LSOA code"]
    assert codes.str.match(r"^SYN01\d{6}$").all()
    assert street.loc[street["LSOA name"] != "", "LSOA name"].str.match(r"^.+ \d{3}[A-E]$").all()


# --- determinism ----------------------------------------------------------------------------------------


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    small = CityConfig(seed=3, n_events=3_000, months=3)
    generate_city(tmp_path / "a", small)
    generate_city(tmp_path / "b", small)
    generate_city(tmp_path / "c", CityConfig(seed=4, n_events=3_000, months=3))
    a, b, c = _all_bytes(tmp_path / "a"), _all_bytes(tmp_path / "b"), _all_bytes(tmp_path / "c")
    assert a == b
    assert a.keys() == c.keys()
    assert (
        a["police_uk/2023-01/2023-01-synthetic-city-street.csv"]
        != c["police_uk/2023-01/2023-01-synthetic-city-street.csv"]
    )
    assert a["boundaries/lsoa.geojson"] != c["boundaries/lsoa.geojson"]


# --- street crime ---------------------------------------------------------------------------------------


def test_all_types_in_national_proportions(street: pd.DataFrame) -> None:
    assert set(street["Crime type"]) == set(CRIME_TYPES)
    share = street["Crime type"].value_counts(normalize=True) * 100
    assert set(TYPE_SHARES) == set(CRIME_TYPES)
    for crime_type, expected in TYPE_SHARES.items():
        assert abs(share[crime_type] - expected) <= max(0.15 * expected, 0.3), crime_type


def test_crime_ids_and_asb(street: pd.DataFrame) -> None:
    asb = street["Crime type"] == "Anti-social behaviour"
    assert (street.loc[asb, "Crime ID"] == "").all()
    assert (street.loc[asb, "Last outcome category"] == "").all()
    assert street.loc[~asb, "Crime ID"].str.match(r"^[0-9a-f]{64}$").all()
    crimes = street[~asb]
    # Unique apart from a handful of repeated identical rows, as in the published files.
    repeated = crimes.duplicated().sum()
    assert 1 <= repeated <= 0.002 * len(crimes)
    assert crimes["Crime ID"].duplicated().sum() == repeated


def test_rows_without_location(street: pd.DataFrame) -> None:
    blank = street["Longitude"] == ""
    assert 0.010 <= blank.mean() <= 0.020
    rows = street[blank]
    assert (
        (rows["Latitude"] == "").all() and (rows["LSOA code"] == "").all() and (rows["LSOA name"] == "").all()
    )
    assert (rows["Location"] == "No Location").all()


def test_crime_concentrates_on_few_snap_points(street: pd.DataFrame) -> None:
    located = street[street["Longitude"] != ""]
    counts = (located["Longitude"] + "," + located["Latitude"]).value_counts().to_numpy()
    top = counts[: max(1, round(0.05 * len(counts)))].sum() / counts.sum()
    # Uniform would be 5%; Weisburd's law of concentration puts about half of crime on ~5% of places.
    assert top >= 0.35
    assert 500 < len(counts) < 10_000  # a few thousand snap points, many crimes share one


def test_street_names_and_public_places(street: pd.DataFrame) -> None:
    places = street["Location"].value_counts()
    assert "On or near Supermarket" in places and "On or near Nightclub" in places
    assert (
        street.loc[street["Location"] == "On or near Supermarket", "Crime type"] == "Shoplifting"
    ).mean() > 0.3
    streets = street.loc[street["Location"].str.contains(r" (?:Road|Street|Lane|Avenue)$"), "Location"]
    assert streets.nunique() > 100


def test_outcomes_age_like_a_snapshot(street: pd.DataFrame) -> None:
    crimes = street[street["Crime type"] != "Anti-social behaviour"]
    pending = crimes.groupby("Month")["Last outcome category"].apply(
        lambda s: (s == "Under investigation").mean()
    )
    assert pending.iloc[-1] > 0.3 > 0.02 > pending.iloc[0]
    labels = set(crimes["Last outcome category"])
    assert {
        "Investigation complete; no suspect identified",
        "Unable to prosecute suspect",
        "Under investigation",
        "Status update unavailable",
        "Awaiting court outcome",
        "Local resolution",
        "Offender given a caution",
        "Court result unavailable",
        "Action to be taken by another organisation",
    } <= labels
    assert "" not in labels


def test_outcomes_files_are_consistent_with_street(street: pd.DataFrame, outcomes: pd.DataFrame) -> None:
    crimes = street[street["Crime ID"] != ""].drop_duplicates("Crime ID").set_index("Crime ID")
    assert outcomes["Crime ID"].isin(crimes.index).all()
    joined = outcomes.merge(
        crimes[["Month", "Last outcome category", "Longitude", "LSOA code"]],
        left_on="Crime ID",
        right_index=True,
        suffixes=("", "_crime"),
    )
    assert (joined["Month"] >= joined["Month_crime"]).all()
    assert (joined["Longitude"] == joined["Longitude_crime"]).all()
    assert (joined["LSOA code"] == joined["LSOA code_crime"]).all()
    assert (outcomes.loc[outcomes["Longitude"] == "", "Location"] == "No location").all()
    # The street file's last outcome is the latest outcome row (a charge alone means a pending court case);
    # a court result always comes in a later month than the charge.
    latest = joined.sort_values("Month", kind="stable").groupby("Crime ID").last()
    expected = latest["Outcome type"].replace({"Suspect charged": "Awaiting court outcome"})
    assert (expected == latest["Last outcome category"]).all()
    without = crimes.index.difference(outcomes["Crime ID"])
    assert set(crimes.loc[without, "Last outcome category"]) <= {
        "Under investigation",
        "Status update unavailable",
    }


# --- force records --------------------------------------------------------------------------------------


def test_mapping_toml(city: CityManifest, records: pd.DataFrame) -> None:
    mapping = tomllib.loads(city.paths("force-mapping")[0].read_text())
    assert mapping["source"] == {"force": "synthetic-city", "crs": "EPSG:27700", "timezone": "Europe/London"}
    assert mapping["columns"] == {
        "id": "incident_ref",
        "occurred_at": "occurred",
        "occurred_format": "%Y-%m-%d %H:%M",
        "crime_type": "offence",
        "x": "easting",
        "y": "northing",
    }
    assert set(mapping["crime_types"].values()) <= set(CRIME_TYPES)
    assert records["type"].notna().all()
    assert "ASSAULT - ABH" in mapping["crime_types"] and "BURGLARY DWELLING" in mapping["crime_types"]


def test_force_records_are_the_street_crimes(street: pd.DataFrame, records: pd.DataFrame) -> None:
    assert records["incident_ref"].is_unique
    assert records["occurred"].str.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$").all()
    crimes = street[street["Crime ID"] != ""].drop_duplicates("Crime ID")
    published = crimes.groupby(["Month", "Crime type"]).size()
    recorded = records.groupby(["month", "type"]).size()
    pd.testing.assert_series_equal(published, recorded, check_names=False)
    assert records["easting"].isna().sum() == (crimes["Longitude"] == "").sum()
    # The true point lies near its published (snapped) point: the nearest snap point is within 61 m.
    located = street[street["Longitude"] != ""].drop_duplicates(["Longitude", "Latitude"])
    x, y = lonlat_to_crs(
        located["Longitude"].astype(float).to_numpy(),
        located["Latitude"].astype(float).to_numpy(),
        "EPSG:27700",
    )
    points = records.dropna(subset=["easting"])
    d, _ = cKDTree(np.column_stack([x, y])).query(points[["easting", "northing"]].to_numpy(float))
    assert d.max() < 61.0
    assert points["beat"].notna().all()


def test_daily_weekly_and_seasonal_cycles(records: pd.DataFrame) -> None:
    night = records.groupby("type")["hour"].apply(lambda h: h.isin(NIGHT).mean())
    assert night["Violence and sexual offences"] > 1.5 * night["Burglary"]
    assert night["Shoplifting"] < 0.05
    assert night["Vehicle crime"] > 0.3
    violence = records[records["type"] == "Violence and sexual offences"]
    weekend_night = (
        ((violence["dow"] == 4) & (violence["hour"] >= 21))
        | ((violence["dow"] == 5) & ((violence["hour"] >= 21) | (violence["hour"] < 4)))
        | ((violence["dow"] == 6) & (violence["hour"] < 4))
    )
    assert weekend_night.mean() > 1.3 * (3 + 4 + 3 + 4) / 168  # above a flat week
    per_day = violence.groupby("month_no").size() / pd.Series(
        {m: pd.Period(f"2023-{m:02d}").days_in_month for m in range(1, 13)}
    )
    assert per_day[[6, 7, 8]].mean() > 1.1 * per_day[[12, 1, 2]].mean()
    shoplifting = records[records["type"] == "Shoplifting"]
    assert shoplifting["hour"].between(9, 18).mean() > 0.8


def test_near_repeat_burglary(records: pd.DataFrame) -> None:
    burglary = records[(records["type"] == "Burglary") & records["easting"].notna()]
    xy = burglary[["easting", "northing"]].to_numpy(float)
    days = (burglary["day"] - pd.Timestamp("2023-01-01")).dt.total_seconds().to_numpy() / 86400
    pairs = cKDTree(xy).query_pairs(300.0, output_type="ndarray")

    def close(t: np.ndarray) -> float:
        """Share of pairs within 300 m that are also within two weeks."""
        return float((np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= 14).mean())

    rng = np.random.default_rng(0)
    expected = np.mean([close(rng.permutation(days)) for _ in range(30)])
    # Knox-style: close in space and time more often than when times are shuffled.
    assert close(days) > 1.3 * expected


# --- stop and search ------------------------------------------------------------------------------------


def test_stop_search_format_and_mix(city: CityManifest, stops: pd.DataFrame) -> None:
    assert len(stops) > 0.08 * city.rows["street"]
    assert stops["Date"].str.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\+00:00$").all()
    assert set(stops["Type"]) == {"Person search", "Person and Vehicle search", "Vehicle search"}
    assert 0.2 <= (stops["Latitude"] == "").mean() <= 0.3
    assert ((stops["Latitude"] == "") == (stops["Longitude"] == "")).all()
    outcome = stops["Outcome"].value_counts(normalize=True)
    assert 0.6 < outcome["A no further action disposal"] < 0.8 and 0.1 < outcome["Arrest"] < 0.2
    assert set(stops["Outcome"]) <= {
        "A no further action disposal",
        "Arrest",
        "Community resolution",
        "Khat or Cannabis warning",
        "Summons / charged by post",
        "Penalty Notice for Disorder",
        "Caution (simple or conditional)",
    }
    assert set(stops["Age range"]) <= {"", "under 10", "10-17", "18-24", "25-34", "over 34"}
    assert set(stops["Officer-defined ethnicity"]) <= {"", "White", "Black", "Asian", "Other"}
    assert (
        stops["Self-defined ethnicity"]
        .str.match(
            r"^(|White - .+|Black/African/Caribbean/Black British - .+|"
            r"Asian/Asian British - .+|Mixed/Multiple ethnic groups - .+|"
            r"Other ethnic group - .+)$"
        )
        .all()
    )
    assert set(stops["Outcome linked to object of search"]) == {"", "True", "False"}
    legislation = stops["Legislation"].value_counts(normalize=True)
    assert legislation["Misuse of Drugs Act 1971 (section 23)"] > 0.45
    assert legislation["Police and Criminal Evidence Act 1984 (section 1)"] > 0.3
    vehicle = stops[stops["Type"] == "Vehicle search"]
    assert (vehicle["Gender"] == "").all() and (vehicle["Officer-defined ethnicity"] == "").all()


def test_section_60_comes_in_bursts(stops: pd.DataFrame) -> None:
    s60 = stops[stops["Legislation"] == "Criminal Justice and Public Order Act 1994 (section 60)"]
    assert len(s60) >= 10
    assert (s60["Part of a policing operation"] == "True").all() and (s60["Policing operation"] != "").all()
    times = pd.to_datetime(s60["Date"]).sort_values()
    gaps = times.diff().dropna()
    assert (gaps <= pd.Timedelta(hours=6)).mean() > 0.8  # clustered in authorisation windows


def test_utc_dates_fall_in_the_local_month_of_their_file(city: CityManifest) -> None:
    for path in city.paths("stop-and-search"):
        month = path.name[:7]
        with path.open() as f:
            dates = [row["Date"] for row in csv.DictReader(f)]
        local = {dt.datetime.fromisoformat(d).astimezone(LONDON).strftime("%Y-%m") for d in dates}
        assert local == {month}, path
    july = city.paths("stop-and-search")[6].read_text()
    assert "T23:" in july  # BST nights appear an hour earlier in UTC


def test_local_offsets_mode(tmp_path: Path) -> None:
    manifest = generate_city(
        tmp_path, CityConfig(seed=1, n_events=4_000, months=12, stop_search_offsets="local")
    )
    stops = _read(manifest.paths("stop-and-search"))
    assert stops["Date"].str.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\+0[01]:00$").all()
    for text in stops["Date"]:
        stamp = dt.datetime.fromisoformat(text)
        naive = stamp.replace(tzinfo=None)
        assert naive.replace(tzinfo=LONDON).utcoffset() == stamp.utcoffset(), text
    assert stops.loc[stops["Date"].str.startswith("2023-07"), "Date"].str.endswith("+01:00").all()
    assert stops.loc[stops["Date"].str.startswith("2023-01"), "Date"].str.endswith("+00:00").all()


def test_searches_follow_population_and_show_disproportionality(
    city: CityManifest, street: pd.DataFrame, stops: pd.DataFrame
) -> None:
    population = pd.read_csv(city.paths("population")[0]).set_index("lsoa_code")
    assert (
        population[["white", "black", "asian", "mixed", "other"]].sum(axis=1) == population["population"]
    ).all()
    assert 1_200 < population["population"].mean() < 1_800
    black_share = population["black"] / population["population"]
    assert black_share.std() > 0.02  # the mix varies by area
    officer = stops["Officer-defined ethnicity"].value_counts()
    per_1000 = {g: officer[g.title()] / population[g].sum() * 1000 for g in ("white", "black", "asian")}
    assert per_1000["black"] / per_1000["white"] > 1.5
    # Searches in areas with many Black residents involve more Black people.
    where = street[street["LSOA code"] != ""].drop_duplicates(["Latitude", "Longitude"])
    lsoa = stops.merge(where[["Latitude", "Longitude", "LSOA code"]], on=["Latitude", "Longitude"])
    lsoa["share"] = lsoa["LSOA code"].map(black_share)
    high = lsoa["share"] >= lsoa["share"].quantile(0.75)
    low = lsoa["share"] <= lsoa["share"].quantile(0.25)
    black = lsoa["Officer-defined ethnicity"] == "Black"
    assert black[high].mean() > 1.5 * black[low].mean()


# --- geography ------------------------------------------------------------------------------------------


def test_lsoas_tile_the_city_and_hold_their_points(city: CityManifest, street: pd.DataFrame) -> None:
    features = json.loads(city.paths("lsoa-boundaries")[0].read_text())["features"]
    assert len(features) > 150
    polygons = np.array([shapely.geometry.shape(f["geometry"]) for f in features])
    codes = np.array([f["properties"]["LSOA_CODE"] for f in features])
    assert set(features[0]["properties"]) == {"LSOA_CODE", "LSOA_NAME", "BOROUGH_CODE", "POPULATION"}
    assert shapely.is_valid(polygons).all()
    union = shapely.union_all(polygons)
    assert union.area == pytest.approx(shapely.area(polygons).sum(), rel=1e-6)  # no overlaps
    assert union.geom_type == "Polygon" and len(union.interiors) == 0  # no gaps
    located = street[street["Longitude"] != ""].drop_duplicates(["Longitude", "Latitude"])
    points = shapely.points(located["Longitude"].astype(float), located["Latitude"].astype(float))
    hit_point, hit_poly = shapely.STRtree(polygons).query(points, predicate="intersects")
    assert np.bincount(hit_point, minlength=len(points)).tolist() == [1] * len(points)
    order = np.argsort(hit_point)
    assert (codes[hit_poly[order]] == located["LSOA code"].to_numpy()).all()


def test_boroughs_are_unions_of_lsoas(city: CityManifest) -> None:
    lsoas = json.loads(city.paths("lsoa-boundaries")[0].read_text())["features"]
    boroughs = json.loads(city.paths("borough-boundaries")[0].read_text())["features"]
    assert len(boroughs) == 8
    lookup = pd.read_csv(city.paths("borough-to-bcu")[0])
    assert lookup["lad22cd"].str.match(r"^SYN09\d{6}$").all()
    assert lookup["met_bcu"].nunique() == 4 and "Central" in set(lookup["met_bcu"])
    assert set(lookup["lad22cd"]) == {b["properties"]["BOROUGH_CODE"] for b in boroughs}
    for borough in boroughs:
        code = borough["properties"]["BOROUGH_CODE"]
        parts = [
            shapely.geometry.shape(f["geometry"]) for f in lsoas if f["properties"]["BOROUGH_CODE"] == code
        ]
        shape = shapely.geometry.shape(borough["geometry"])
        assert shape.area == pytest.approx(sum(p.area for p in parts), rel=1e-6)
        assert shape.symmetric_difference(shapely.union_all(parts)).area < 1e-9


def test_city_sits_in_england_and_places_are_inside(city: CityManifest) -> None:
    features = json.loads(city.paths("lsoa-boundaries")[0].read_text())["features"]
    union = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in features])
    lon, lat = union.centroid.x, union.centroid.y
    assert -3 < lon < 0 and 53 < lat < 54.5
    for kind in ("stations", "night-time-economy", "open-spaces"):
        places = pd.read_csv(city.paths(kind)[0])
        assert len(places) >= 4 and places["id"].is_unique
        assert shapely.contains_xy(union, places["longitude"], places["latitude"]).all(), kind
    nte = pd.read_csv(city.paths("night-time-economy")[0])
    assert {"pub", "bar", "nightclub"} <= set(nte["kind"])


# --- several forces, archive, config ----------------------------------------------------------------------


def test_several_forces_are_distinct_cities(tmp_path: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    manifest = generate_city(
        tmp_path,
        CityConfig(seed=2, n_events=6_000, months=2, n_forces=3),
        progress=lambda *a: progress.append(a),
    )
    assert manifest.forces == ("synthetic-city", "synthetic-city-2", "synthetic-city-3")
    assert len(set(manifest.force_names)) == 3
    assert len(manifest.paths("street")) == 6 and len(manifest.paths("force-records")) == 3
    assert progress[-1] == ("months", 6, 6) and ("geography", 3, 3) in progress
    street = _read(manifest.paths("street"))
    assert len(street) == 6_000
    assert set(street["Falls within"]) == set(manifest.force_names)
    codes = street[street["LSOA code"] != ""].groupby("Falls within")["LSOA code"].apply(set).tolist()
    assert not (codes[0] & codes[1]) and not (codes[1] & codes[2])
    ids = street.loc[street["Crime ID"] != "", "Crime ID"]
    assert ids.nunique() > 0.99 * len(ids)
    features = json.loads((tmp_path / "boundaries" / "lsoa.geojson").read_text())["features"]
    assert len({f["properties"]["LSOA_CODE"] for f in features}) == len(features)
    polygons = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert shapely.union_all(polygons).area == pytest.approx(sum(p.area for p in polygons), rel=1e-6)


def test_archive_zip_matches_the_bulk_layout(tmp_path: Path) -> None:
    manifest = generate_city(tmp_path / "city", CityConfig(n_events=2_000, months=2))
    target = write_archive_zip(tmp_path / "city", tmp_path / "archive.zip")
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        assert len(names) == 6
        assert all(
            re.fullmatch(r"2023-0[12]/2023-0[12]-synthetic-city-(street|outcomes|stop-and-search)\.csv", n)
            for n in names
        )
        assert (
            zf.read("2023-01/2023-01-synthetic-city-street.csv") == manifest.paths("street")[0].read_bytes()
        )
    again = write_archive_zip(tmp_path / "city", tmp_path / "again.zip")
    assert again.read_bytes() == target.read_bytes()


@pytest.mark.parametrize(
    "bad",
    [
        {"start": "2023-13"},
        {"months": 0},
        {"n_bcus": 9},
        {"force_id": "Not A Slug"},
        {"no_location_share": 1.5},
    ],
)
def test_bad_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(SafestreetsError):
        CityConfig(**bad)  # type: ignore[arg-type]
