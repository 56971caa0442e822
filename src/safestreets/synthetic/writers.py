"""Writing files: unquoted CSV as police.uk publishes it, the files that do not change by month (boundaries,
lookup, population, places, README) and a zip laid out like the data.police.uk bulk archive.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from safestreets.geo.project import crs_to_lonlat
from safestreets.synthetic.city import City
from safestreets.synthetic.columns import fixed6
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.geometry import BNG
from safestreets.synthetic.tables import ETHNIC_GROUPS

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none")


def write_rows(sink: Any, table: pa.Table) -> None:
    # Unquoted like the published files; pyarrow refuses a value that would need quotes, so a stray comma
    # fails loudly instead of shifting columns.
    if table.num_rows:
        pacsv.write_csv(table, sink, _CSV_OPTIONS)


def write_csv(path: Path, header: tuple[str, ...], table: pa.Table) -> int:
    """Write ``header`` and the rows of ``table`` to ``path``; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(header) + "\n").encode())
        write_rows(sink, table)
    return table.num_rows


def _lonlat_geometries(geoms: np.ndarray) -> np.ndarray:
    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = crs_to_lonlat(coords[:, 0], coords[:, 1], BNG)
        return np.round(np.stack([lon, lat], axis=1), 6)

    return shapely.transform(geoms, project)


_LONG_DECIMAL = re.compile(r"-?\d+\.\d{7,}")


def _feature_collection(geoms: np.ndarray, props: list[dict[str, Any]]) -> str:
    # GEOS prints the nearest double to a 6-decimal value in full (53.808839999999996): shorten it.
    texts = [
        _LONG_DECIMAL.sub(lambda m: repr(round(float(m.group()), 6)), text)
        for text in shapely.to_geojson(_lonlat_geometries(geoms)).tolist()
    ]
    features = [
        f'{{"type":"Feature","properties":{json.dumps(p, separators=(",", ":"))},"geometry":{g}}}'
        for p, g in zip(props, texts, strict=True)
    ]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n"


def write_static(
    out: Path,
    config: CityConfig,
    cities: list[City],
    files: dict[str, list[Path]],
    file_rows: dict[Path, int],
) -> None:
    """Boundaries, lookup, population, places and README for all cities, noted in ``files``, ``file_rows``."""
    (out / "boundaries").mkdir(parents=True, exist_ok=True)
    lsoa_props = [
        {
            "LSOA_CODE": c.lsoa_code[i],
            "LSOA_NAME": c.lsoa_name[i],
            "BOROUGH_CODE": c.borough_code[c.lsoa_borough[i]],
            "POPULATION": int(c.lsoa_population[i]),
        }
        for c in cities
        for i in range(len(c.lsoa_code))
    ]
    path = out / "boundaries" / "lsoa.geojson"
    path.write_text(_feature_collection(np.concatenate([c.lsoa_geom for c in cities]), lsoa_props))
    files["lsoa-boundaries"].append(path)
    file_rows[path] = len(lsoa_props)
    borough_props = [
        {"BOROUGH_CODE": code, "BOROUGH_NAME": name}
        for c in cities
        for code, name in zip(c.borough_code, c.borough_name, strict=True)
    ]
    path = out / "boundaries" / "boroughs.geojson"
    path.write_text(_feature_collection(np.concatenate([c.borough_geom for c in cities]), borough_props))
    files["borough-boundaries"].append(path)
    file_rows[path] = len(borough_props)

    lookup = pa.table(
        {
            "borough": [n for c in cities for n in c.borough_name],
            "lad22cd": [n for c in cities for n in c.borough_code],
            "met_bcu": [n for c in cities for n in c.borough_bcu],
        }
    )
    _static_csv(out / "boundaries" / "borough_to_bcu.csv", lookup, "borough-to-bcu", files, file_rows)

    eth = np.vstack([c.lsoa_ethnicity for c in cities])
    population = pa.table(
        {
            "lsoa_code": [n for c in cities for n in c.lsoa_code],
            "population": np.concatenate([c.lsoa_population for c in cities]),
            **{g: eth[:, i] for i, g in enumerate(ETHNIC_GROUPS)},
        }
    )
    _static_csv(out / "population" / "lsoa_population.csv", population, "population", files, file_rows)

    for key, filename, kind in (
        ("stations", "stations.csv", "stations"),
        ("nte", "night_time_economy.csv", "night-time-economy"),
        ("open_spaces", "open_spaces.csv", "open-spaces"),
    ):
        rows = [r for c in cities for r in c.places[key]]
        x = np.array([r[3] for r in rows])
        y = np.array([r[4] for r in rows])
        lon, lat = crs_to_lonlat(x, y, BNG)
        table = pa.table(
            {
                "id": [r[0] for r in rows],
                "name": [r[1] for r in rows],
                "kind": [r[2] for r in rows],
                "latitude": fixed6(lat),
                "longitude": fixed6(lon),
            }
        )
        _static_csv(out / "places" / filename, table, kind, files, file_rows)

    path = out / "README.txt"
    path.write_text(
        _README.format(
            forces="\n".join(
                f"  {c.force_id}: {c.force_name} ({c.city_name}), {len(c.lsoa_code)} LSOAs, "
                f"{len(c.borough_code)} boroughs, {len(c.snap_xy)} snap points"
                for c in cities
            ),
            config=json.dumps(_config_doc(config), indent=2),
            dates="Date in UTC, as published"
            if config.stop_search_offsets == "utc"
            else "Date in local time",
        )
    )
    files["readme"].append(path)


def _static_csv(
    path: Path, table: pa.Table, kind: str, files: dict[str, list[Path]], file_rows: dict[Path, int]
) -> None:
    file_rows[path] = write_csv(path, tuple(table.column_names), table)
    files[kind].append(path)


_README = """\
SYNTHETIC DATA - NOT REAL CRIME

This folder was made by safestreets.synthetic. Every place, street, area, population, crime,
outcome and search in it is invented. Codes start with "SYN" so they never match real ONS codes, and
the cities are put at points in England only so that British National Grid (EPSG:27700) works.

Layout
  police_uk/YYYY-MM/YYYY-MM-<force>-street.csv            data.police.uk street-level crime
  police_uk/YYYY-MM/YYYY-MM-<force>-outcomes.csv          outcomes reached that month
  police_uk/YYYY-MM/YYYY-MM-<force>-stop-and-search.csv   stop and search ({dates})
  force_records/<force>-records.csv                       the same crimes with time and true point
  force_records/<force>-mapping.toml                      how to read the force records
  boundaries/lsoa.geojson, boundaries/boroughs.geojson    EPSG:4326
  boundaries/borough_to_bcu.csv                           borough -> BCU lookup
  places/stations.csv, night_time_economy.csv, open_spaces.csv
  population/lsoa_population.csv                          residents by broad ethnic group

Forces
{forces}

Config
{config}
"""

_ARCHIVE_MEMBER = re.compile(r"(\d{4})-(\d{2})/\1-\2-[a-z0-9-]+-(street|outcomes|stop-and-search)\.csv")


def write_archive_zip(out_dir: Path | str, zip_path: Path | str) -> Path:
    """Zip ``out_dir/police_uk`` like the data.police.uk bulk archive (``YYYY-MM/YYYY-MM-force-kind.csv``).

    Member times are the first of each member's month, so the zip is byte-for-byte reproducible.
    """
    root = Path(out_dir) / "police_uk"
    target = Path(zip_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    members = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.csv"))
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in members:
            match = _ARCHIVE_MEMBER.fullmatch(name)
            if not match:
                continue
            info = zipfile.ZipInfo(name, date_time=(int(match[1]), int(match[2]), 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with (root / name).open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _config_doc(config: CityConfig) -> dict[str, Any]:
    """The config as the README prints it; an unset planted intervention is left out, so a city made
    without one has the same README as before the option existed."""
    doc = asdict(config)
    if doc.get("intervention") is None:
        doc.pop("intervention", None)
    return doc
