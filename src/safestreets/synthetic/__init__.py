"""The synthetic city: a believable, reproducible crime data set in data.police.uk format.

Not real crime. It is the demo (``make demo``) and the test and benchmark fixture. The generator builds one
or more fictional cities in England (British National Grid metres, exported as WGS84), gives them
boroughs, BCUs, LSOA-like small areas with populations, streets with anonymised snap points, night-time
economy, stations and parks, and then draws crime month by month:

- the 14 police.uk types in national proportions, with seasonal, weekly and daily cycles;
- persistent hot spots (about half of crime on about 5% of snap points, after Weisburd) that drift slowly;
- night-time violence and robbery around bars, clubs and stations, burglary in deprived residential areas,
  shoplifting at supermarkets and in the centre;
- near-repeat burglary (a self-exciting component within ~400 m over a few weeks);
- outcomes that age (recent crime is still under investigation), with a per-month outcomes file;
- stop and search concentrated where drugs, weapons and violence are, with Section 60 bursts after serious
  violence and an ethnicity mix that follows the local population (plus a configurable per-group rate),
  so disproportionality analysis has something to find.

Everything is vectorised with numpy and written with pyarrow, month by month, so 10 million events fit in
memory and take about a minute. The same seed and config give byte-identical files.

Layout under ``out_dir`` (``<force>`` is ``synthetic-city``, ``synthetic-city-2``, ...)::

    police_uk/YYYY-MM/YYYY-MM-<force>-{street,outcomes,stop-and-search}.csv   data.police.uk bulk layout
    force_records/<force>-records.csv    incident_ref, occurred (local), offence, easting, northing, beat
    force_records/<force>-mapping.toml   how safestreets.sources.force_records reads the records
    boundaries/lsoa.geojson              LSOA_CODE, LSOA_NAME, BOROUGH_CODE, POPULATION (EPSG:4326)
    boundaries/boroughs.geojson          BOROUGH_CODE, BOROUGH_NAME
    boundaries/borough_to_bcu.csv        borough, lad22cd, met_bcu (the columns of the real London lookup)
    places/{stations,night_time_economy,open_spaces}.csv   id, name, kind, latitude, longitude
    population/lsoa_population.csv      lsoa_code, population, white, black, asian, mixed, other
    README.txt

Choices that follow the published files rather than intuition: street files say "No Location" and
outcomes files "No location"; stop-and-search ``Date`` is the UTC instant written with "+00:00" all
year, and a month's file holds the searches of that local (Europe/London) month.

How the modules fit, in the order :func:`generate_city` uses them:

- ``config``: :class:`CityConfig` (the knobs) and :class:`CityManifest` (what was written).
- ``tables``, ``names``: the fixed vocabulary (crime types, cycles, offence wording; fictional names).
- ``draws``, ``clock``: random streams and sampling; local months, summer time, hour-of-week cycles.
- ``geometry``, ``areas``, ``places``, ``risk``, ``city``: each force's city, built once: its outline and
  streets, LSOAs, boroughs and BCUs with their people, the places that draw crime, and the per-type
  weight of every snap point.
- ``crimes``, ``outcomes``, ``stops``, ``records``: each force-month's events and the tables for the
  street, outcomes, stop-and-search and force-records files.
- ``columns``, ``writers``: text columns built as bytes; CSV, GeoJSON, README and zip writing.
- ``generate``: :func:`generate_city`, which ties them together.
- ``anpr_network``, ``anpr``: synthetic ANPR traffic on the city's roads and corridors to county towns,
  with planted county-lines vehicles and co-travelling groups, written in chunks to Parquet.
"""

from __future__ import annotations

from safestreets.synthetic.config import CityConfig, CityManifest
from safestreets.synthetic.crimes import STREET_COLUMNS
from safestreets.synthetic.generate import generate_city
from safestreets.synthetic.intervention import PlantedIntervention, read_planted
from safestreets.synthetic.outcomes import OUTCOME_COLUMNS
from safestreets.synthetic.records import FORCE_RECORD_COLUMNS
from safestreets.synthetic.stops import STOP_SEARCH_COLUMNS
from safestreets.synthetic.tables import OFFENCES, TYPE_SHARES
from safestreets.synthetic.writers import write_archive_zip

__all__ = [
    "FORCE_RECORD_COLUMNS",
    "OFFENCES",
    "OUTCOME_COLUMNS",
    "STOP_SEARCH_COLUMNS",
    "STREET_COLUMNS",
    "TYPE_SHARES",
    "CityConfig",
    "CityManifest",
    "PlantedIntervention",
    "generate_city",
    "read_planted",
    "write_archive_zip",
]
