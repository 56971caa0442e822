"""The synthetic city: a believable, reproducible crime data set in data.police.uk format.

Not real crime. The generator builds one or more fictional cities in England (British National Grid
metres, exported as WGS84), gives them boroughs, BCUs, LSOA-like small areas with populations, streets
with anonymised snap points, night-time economy, stations and parks, and then draws crime month by month:

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
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import shapely
from scipy.spatial import cKDTree

from safestreets.errors import SafestreetsError
from safestreets.geo.project import crs_to_lonlat
from safestreets.sources import policeuk as _policeuk
from safestreets.vocab import CRIME_TYPES

# The published headers, kept in one place (sources/policeuk.py).
STREET_COLUMNS: tuple[str, ...] = tuple(_policeuk.STREET_COLUMNS)
OUTCOME_COLUMNS: tuple[str, ...] = tuple(_policeuk.OUTCOME_COLUMNS)
STOP_SEARCH_COLUMNS: tuple[str, ...] = tuple(_policeuk.STOP_COLUMNS)

__all__ = [
    "FORCE_RECORD_COLUMNS",
    "OFFENCES",
    "OUTCOME_COLUMNS",
    "STOP_SEARCH_COLUMNS",
    "STREET_COLUMNS",
    "TYPE_SHARES",
    "CityConfig",
    "CityManifest",
    "generate_city",
    "write_archive_zip",
]

Progress = Callable[[str, int, int], None]

BNG = "EPSG:27700"
FORCE_RECORD_COLUMNS: tuple[str, ...] = ("incident_ref", "occurred", "offence", "easting", "northing", "beat")
ETHNIC_GROUPS: tuple[str, ...] = ("white", "black", "asian", "mixed", "other")

# ---------------------------------------------------------------------------------------------------------
# Crime types: shares, cycles, places
# ---------------------------------------------------------------------------------------------------------

TYPES: tuple[str, ...] = tuple(CRIME_TYPES)
_T = {name: i for i, name in enumerate(TYPES)}
_ASB, _BURGLARY, _VIOLENCE, _ROBBERY = (
    _T["Anti-social behaviour"],
    _T["Burglary"],
    _T["Violence and sexual offences"],
    _T["Robbery"],
)

# England and Wales street-level shares (per cent of all police.uk rows, ASB included).
TYPE_SHARES: dict[str, float] = {
    "Violence and sexual offences": 32.0,
    "Anti-social behaviour": 16.0,
    "Public order": 9.0,
    "Other theft": 8.0,
    "Criminal damage and arson": 8.0,
    "Shoplifting": 7.0,
    "Vehicle crime": 6.0,
    "Burglary": 4.5,
    "Drugs": 3.0,
    "Other crime": 1.6,
    "Theft from the person": 1.5,
    "Bicycle theft": 1.3,
    "Robbery": 1.2,
    "Possession of weapons": 0.9,
}

# Seasonal cycle: (amplitude, peak calendar month). Violence, ASB and cycle theft peak in summer; burglary
# and robbery in the dark months.
_SEASON: dict[str, tuple[float, int]] = {
    "Anti-social behaviour": (0.18, 7),
    "Bicycle theft": (0.30, 7),
    "Burglary": (0.12, 12),
    "Criminal damage and arson": (0.06, 10),
    "Drugs": (0.05, 5),
    "Other theft": (0.08, 7),
    "Possession of weapons": (0.08, 6),
    "Public order": (0.10, 7),
    "Robbery": (0.10, 11),
    "Shoplifting": (0.06, 12),
    "Theft from the person": (0.08, 12),
    "Vehicle crime": (0.06, 11),
    "Violence and sexual offences": (0.12, 7),
    "Other crime": (0.03, 6),
}

# Daily cycle as (baseline, [(peak hour, width in hours, amplitude), ...]), weekday weights Mon..Sun,
# and the boost on Friday and Saturday nights (20:00-05:00).
_DAILY: dict[str, tuple[float, list[tuple[float, float, float]], tuple[float, ...], float]] = {
    "Anti-social behaviour": (0.3, [(20, 3, 1.5), (15, 3, 0.6)], (1, 1, 1, 1, 1.15, 1.25, 1.1), 1.4),
    "Bicycle theft": (
        0.1,
        [(13, 4, 1.0), (8, 1.5, 0.4), (18, 2, 0.5)],
        (1.05, 1.05, 1.05, 1.05, 1, 0.9, 0.85),
        1,
    ),
    "Burglary": (0.2, [(11, 3, 0.8), (19, 3, 1.0)], (1.05, 1, 1, 1, 1.05, 1, 0.9), 1.0),
    "Criminal damage and arson": (0.3, [(21, 3, 1.2), (14, 4, 0.4)], (1, 1, 1, 1, 1.1, 1.2, 1.1), 1.3),
    "Drugs": (0.15, [(17, 4, 1.0), (22, 2, 0.6)], (1, 1, 1.05, 1.05, 1.1, 1.1, 0.9), 1.2),
    "Other theft": (0.2, [(13, 4, 1.0)], (1, 1, 1, 1, 1.05, 1.05, 0.9), 1.0),
    "Possession of weapons": (0.2, [(19, 4, 1.0), (1, 2, 0.4)], (1, 1, 1, 1, 1.1, 1.2, 1.1), 1.3),
    "Public order": (0.25, [(21, 3, 1.2), (15, 3, 0.6)], (1, 1, 1, 1, 1.1, 1.25, 1.15), 1.6),
    "Robbery": (0.15, [(21, 3, 1.2), (16, 2, 0.6)], (1, 1, 1, 1, 1.1, 1.2, 1.05), 1.4),
    "Shoplifting": (0.01, [(14, 3.5, 1.0)], (1, 1, 1, 1, 1.05, 1.15, 0.85), 1.0),
    "Theft from the person": (0.15, [(17, 4, 1.0), (0, 2, 0.6)], (1, 1, 1, 1, 1.1, 1.2, 1.0), 1.5),
    "Vehicle crime": (0.35, [(2, 3.5, 1.0), (20, 3, 0.5)], (1, 1, 1, 1, 1, 1, 1), 1.0),
    "Violence and sexual offences": (
        0.25,
        [(22, 2.5, 1.0), (16, 4, 0.8), (1, 1.5, 0.6)],
        (1, 0.95, 0.95, 0.97, 1.05, 1.2, 1.15),
        1.8,
    ),
    "Other crime": (0.2, [(12, 4, 1.0)], (1.05, 1.05, 1.05, 1.05, 1, 0.9, 0.9), 1.0),
}

# Share of a type's night-time crime drawn to the night-time economy (bars, clubs, stations).
_NTE_AFFINITY: dict[str, float] = {
    "Violence and sexual offences": 0.55,
    "Public order": 0.5,
    "Robbery": 0.4,
    "Theft from the person": 0.6,
    "Criminal damage and arson": 0.25,
    "Anti-social behaviour": 0.3,
    "Drugs": 0.35,
    "Possession of weapons": 0.4,
    "Other theft": 0.2,
}

# Snap-point features that shape risk; each type's weight is a linear mix of them.
_FEATURES = (
    "one",
    "centre",
    "nte",
    "station",
    "park",
    "deprivation",
    "residential",
    "res_deprived",
    "a_road",
)
_FEATURE_MIX: dict[str, tuple[float, ...]] = {
    "Anti-social behaviour": (0.3, 1.5, 0.5, 0.5, 0.8, 1.2, 0.3, 0.8, 0.2),
    "Bicycle theft": (0.1, 2.5, 0.2, 2.5, 0.4, 0.0, 0.2, 0.0, 0.1),
    "Burglary": (0.02, 0.1, 0.0, 0.0, 0.0, 0.0, 0.5, 1.6, 0.1),
    "Criminal damage and arson": (0.1, 0.6, 0.3, 0.2, 0.4, 0.3, 0.5, 1.4, 0.2),
    "Drugs": (0.1, 1.0, 1.0, 0.8, 0.8, 1.8, 0.0, 0.3, 0.1),
    "Other theft": (0.3, 2.0, 0.4, 0.6, 0.4, 0.2, 0.3, 0.2, 0.3),
    "Possession of weapons": (0.1, 0.8, 0.6, 0.6, 0.5, 1.8, 0.0, 0.3, 0.1),
    "Public order": (0.2, 1.5, 0.6, 0.5, 0.3, 0.8, 0.2, 0.8, 0.2),
    "Robbery": (0.05, 1.0, 0.4, 1.2, 0.6, 1.2, 0.0, 0.3, 0.2),
    "Shoplifting": (0.01, 3.0, 0.1, 0.3, 0.0, 0.1, 0.0, 0.0, 0.2),
    "Theft from the person": (0.05, 4.0, 1.0, 2.0, 0.2, 0.1, 0.0, 0.0, 0.1),
    "Vehicle crime": (0.2, 0.3, 0.1, 0.8, 0.2, 0.3, 0.6, 0.8, 0.4),
    "Violence and sexual offences": (0.3, 1.0, 0.4, 0.5, 0.3, 1.0, 0.4, 1.6, 0.2),
    "Other crime": (0.3, 0.6, 0.2, 0.2, 0.1, 0.8, 0.3, 0.6, 0.1),
}

# Public places police.uk names instead of a street ("On or near Supermarket"), with how strongly each
# attracts each type (multiplier on the snap point's weight; unlisted types keep 1).
PLACE_KINDS: tuple[str, ...] = (
    "",
    "Supermarket",
    "Parking Area",
    "Shopping Area",
    "Petrol Station",
    "Sports/Recreation Area",
    "Park/Open Space",
    "Nightclub",
    "Hospital",
    "Police Station",
    "Further/Higher Educational Building",
    "Bus/Coach Station",
    "Theatre/Concert Hall",
    "Pedestrian Subway",
    "Conference/Exhibition Centre",
    "Prison",
)
_K = {name: i for i, name in enumerate(PLACE_KINDS)}
_PLACE_PULL: dict[str, dict[str, float]] = {
    "Supermarket": {
        "Shoplifting": 60,
        "Other theft": 3,
        "Vehicle crime": 3,
        "Anti-social behaviour": 2,
        "Public order": 2,
        "Violence and sexual offences": 1.5,
        "Burglary": 0.3,
    },
    "Shopping Area": {
        "Shoplifting": 40,
        "Theft from the person": 6,
        "Other theft": 4,
        "Anti-social behaviour": 3,
        "Public order": 2,
        "Bicycle theft": 3,
        "Burglary": 0.3,
    },
    "Parking Area": {
        "Vehicle crime": 20,
        "Criminal damage and arson": 2,
        "Anti-social behaviour": 1.5,
        "Burglary": 0.1,
    },
    "Petrol Station": {"Other theft": 10, "Shoplifting": 8, "Robbery": 2, "Burglary": 0.3},
    "Sports/Recreation Area": {
        "Other theft": 4,
        "Vehicle crime": 3,
        "Anti-social behaviour": 2,
        "Violence and sexual offences": 1.5,
        "Burglary": 0.3,
    },
    "Park/Open Space": {
        "Anti-social behaviour": 3,
        "Drugs": 3,
        "Robbery": 2,
        "Criminal damage and arson": 2,
        "Violence and sexual offences": 1.2,
        "Burglary": 0.05,
    },
    "Nightclub": {
        "Violence and sexual offences": 4,
        "Public order": 4,
        "Drugs": 5,
        "Theft from the person": 5,
        "Possession of weapons": 3,
        "Burglary": 0.2,
    },
    "Hospital": {
        "Violence and sexual offences": 4,
        "Other theft": 5,
        "Public order": 3,
        "Bicycle theft": 3,
        "Burglary": 0.2,
    },
    "Police Station": {
        "Other crime": 8,
        "Public order": 4,
        "Drugs": 3,
        "Possession of weapons": 3,
        "Violence and sexual offences": 2,
        "Burglary": 0.1,
    },
    "Further/Higher Educational Building": {"Bicycle theft": 15, "Other theft": 6, "Burglary": 0.3},
    "Bus/Coach Station": {
        "Robbery": 4,
        "Theft from the person": 6,
        "Anti-social behaviour": 4,
        "Public order": 3,
        "Drugs": 2,
        "Possession of weapons": 2,
        "Burglary": 0.1,
    },
    "Theatre/Concert Hall": {"Theft from the person": 4, "Other theft": 3, "Burglary": 0.2},
    "Pedestrian Subway": {
        "Robbery": 5,
        "Anti-social behaviour": 3,
        "Criminal damage and arson": 3,
        "Drugs": 2,
        "Burglary": 0.05,
    },
    "Conference/Exhibition Centre": {"Other theft": 4, "Burglary": 0.2},
    "Prison": {
        "Drugs": 10,
        "Violence and sexual offences": 5,
        "Other crime": 4,
        "Possession of weapons": 4,
        "Burglary": 0.05,
    },
}

# ---------------------------------------------------------------------------------------------------------
# Force offence wording (force records) -> police.uk type, with each wording's share within its type
# ---------------------------------------------------------------------------------------------------------

_OFFENCE_MIX: dict[str, dict[str, float]] = {
    "Violence and sexual offences": {
        "ASSAULT - COMMON": 0.30,
        "ASSAULT - ABH": 0.20,
        "ASSAULT - GBH": 0.03,
        "WOUNDING WITH INTENT": 0.015,
        "HARASSMENT": 0.12,
        "MALICIOUS COMMUNICATIONS": 0.10,
        "STALKING": 0.05,
        "CONTROLLING OR COERCIVE BEHAVIOUR": 0.05,
        "THREATS TO KILL": 0.03,
        "SEXUAL ASSAULT ON A FEMALE": 0.04,
        "SEXUAL ASSAULT ON A MALE": 0.008,
        "RAPE OF A FEMALE AGED 16 OR OVER": 0.025,
        "EXPOSURE AND VOYEURISM": 0.015,
        "HOMICIDE - MURDER": 0.001,
    },
    "Burglary": {
        "BURGLARY DWELLING": 0.68,
        "BURGLARY BUSINESS AND COMMUNITY": 0.30,
        "AGGRAVATED BURGLARY DWELLING": 0.02,
    },
    "Robbery": {"ROBBERY OF PERSONAL PROPERTY": 0.90, "ROBBERY OF BUSINESS PROPERTY": 0.10},
    "Vehicle crime": {
        "THEFT FROM MOTOR VEHICLE": 0.55,
        "THEFT OF MOTOR VEHICLE": 0.28,
        "VEHICLE INTERFERENCE": 0.15,
        "AGGRAVATED VEHICLE TAKING": 0.02,
    },
    "Criminal damage and arson": {
        "CRIMINAL DAMAGE TO A DWELLING": 0.28,
        "CRIMINAL DAMAGE TO A VEHICLE": 0.32,
        "CRIMINAL DAMAGE - OTHER": 0.30,
        "ARSON NOT ENDANGERING LIFE": 0.08,
        "ARSON ENDANGERING LIFE": 0.02,
    },
    "Drugs": {
        "POSSESSION OF CANNABIS": 0.62,
        "POSSESSION OF CONTROLLED DRUG - CLASS A": 0.18,
        "POSSESSION WITH INTENT TO SUPPLY - CLASS A": 0.10,
        "POSSESSION WITH INTENT TO SUPPLY - CLASS B": 0.05,
        "PRODUCTION OF CANNABIS": 0.05,
    },
    "Possession of weapons": {
        "POSSESSION OF BLADED ARTICLE": 0.60,
        "POSSESSION OF OFFENSIVE WEAPON": 0.30,
        "POSSESSION OF FIREARM": 0.05,
        "THREATENING WITH A BLADE IN PUBLIC": 0.05,
    },
    "Public order": {
        "PUBLIC FEAR ALARM OR DISTRESS": 0.75,
        "RACIALLY OR RELIGIOUSLY AGGRAVATED PUBLIC FEAR ALARM OR DISTRESS": 0.12,
        "AFFRAY": 0.08,
        "VIOLENT DISORDER": 0.05,
    },
    "Shoplifting": {"THEFT FROM SHOP": 1.0},
    "Theft from the person": {"THEFT FROM THE PERSON": 1.0},
    "Bicycle theft": {"THEFT OF PEDAL CYCLE": 1.0},
    "Other theft": {
        "THEFT - OTHER": 0.70,
        "MAKING OFF WITHOUT PAYMENT": 0.15,
        "THEFT IN A DWELLING": 0.10,
        "THEFT BY EMPLOYEE": 0.05,
    },
    "Other crime": {
        "HANDLING STOLEN GOODS": 0.20,
        "PERVERTING THE COURSE OF JUSTICE": 0.15,
        "BREACH OF RESTRAINING ORDER": 0.35,
        "FRAUD BY FALSE REPRESENTATION": 0.20,
        "OBSCENE PUBLICATIONS": 0.10,
    },
}
OFFENCES: dict[str, str] = {w: t for t, mix in _OFFENCE_MIX.items() for w in mix}
_OFFENCE_LIST: tuple[str, ...] = tuple(OFFENCES)
_SERIOUS_VIOLENCE = frozenset({"ASSAULT - GBH", "WOUNDING WITH INTENT", "HOMICIDE - MURDER"})
# How the wording shifts for violence drawn to bars, clubs and stations at night.
_NTE_OFFENCE_SHIFT = {
    "ASSAULT - ABH": 2.0,
    "ASSAULT - GBH": 3.0,
    "WOUNDING WITH INTENT": 3.0,
    "ASSAULT - COMMON": 1.5,
    "SEXUAL ASSAULT ON A FEMALE": 1.5,
    "HARASSMENT": 0.3,
    "MALICIOUS COMMUNICATIONS": 0.1,
    "STALKING": 0.2,
    "CONTROLLING OR COERCIVE BEHAVIOUR": 0.05,
}

# ---------------------------------------------------------------------------------------------------------
# Outcomes (current police.uk wording)
# ---------------------------------------------------------------------------------------------------------

_NON_COURT = (
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Local resolution",
    "Offender given a caution",
    "Offender given penalty notice",
    "Offender given a drugs possession warning",
    "Further investigation is not in the public interest",
    "Further action is not in the public interest",
    "Formal action is not in the public interest",
    "Action to be taken by another organisation",
    "Suspect charged as part of another case",
)
_COURT = (
    "Offender sent to prison",
    "Offender given suspended prison sentence",
    "Offender given community sentence",
    "Offender fined",
    "Offender given conditional discharge",
    "Offender given absolute discharge",
    "Offender ordered to pay compensation",
    "Offender otherwise dealt with",
    "Offender deprived of property",
    "Defendant found not guilty",
    "Court case unable to proceed",
    "Court result unavailable",
    "Defendant sent to Crown Court",
)
STATUS_UNAVAILABLE = "Status update unavailable"
UNDER_INVESTIGATION = "Under investigation"
AWAITING_COURT = "Awaiting court outcome"
SUSPECT_CHARGED = (
    "Suspect charged"  # outcomes-file wording; the street file then says "Awaiting court outcome"
)
OUTCOME_LABELS: tuple[str, ...] = (
    *_NON_COURT,
    *_COURT,
    STATUS_UNAVAILABLE,
    UNDER_INVESTIGATION,
    AWAITING_COURT,
    SUSPECT_CHARGED,
)
_L = {name: i for i, name in enumerate(OUTCOME_LABELS)}
_N_FINAL = len(_NON_COURT) + len(_COURT) + 1  # labels a crime can end on (incl. status unavailable)
_IS_COURT = np.array([lab in _COURT for lab in OUTCOME_LABELS])

_UNDETECTED = {
    "Investigation complete; no suspect identified": 70,
    "Unable to prosecute suspect": 14,
    STATUS_UNAVAILABLE: 5,
    "Local resolution": 1,
    "Offender given a caution": 0.5,
    "Further investigation is not in the public interest": 1,
    "Action to be taken by another organisation": 1,
    "Formal action is not in the public interest": 0.3,
    "Suspect charged as part of another case": 0.5,
    "Offender sent to prison": 1.5,
    "Offender given suspended prison sentence": 0.7,
    "Offender given community sentence": 1,
    "Offender fined": 0.4,
    "Offender given conditional discharge": 0.3,
    "Defendant found not guilty": 0.4,
    "Court case unable to proceed": 0.3,
    "Court result unavailable": 1.2,
    "Offender otherwise dealt with": 0.1,
    "Offender ordered to pay compensation": 0.1,
}
_OUTCOME_MIX: dict[str, dict[str, float]] = {
    **{
        t: _UNDETECTED
        for t in (
            "Burglary",
            "Vehicle crime",
            "Bicycle theft",
            "Theft from the person",
            "Other theft",
            "Criminal damage and arson",
            "Robbery",
        )
    },
    "Anti-social behaviour": {},
    "Shoplifting": {
        "Investigation complete; no suspect identified": 45,
        "Unable to prosecute suspect": 15,
        STATUS_UNAVAILABLE: 5,
        "Local resolution": 5,
        "Offender given a caution": 2,
        "Offender given penalty notice": 1,
        "Further investigation is not in the public interest": 2,
        "Offender sent to prison": 4,
        "Offender given community sentence": 4,
        "Offender fined": 4,
        "Offender given conditional discharge": 3,
        "Court result unavailable": 4,
        "Offender otherwise dealt with": 1,
        "Offender ordered to pay compensation": 1,
        "Defendant found not guilty": 0.5,
    },
    "Violence and sexual offences": {
        "Unable to prosecute suspect": 55,
        "Investigation complete; no suspect identified": 12,
        STATUS_UNAVAILABLE: 6,
        "Local resolution": 3,
        "Offender given a caution": 3,
        "Further investigation is not in the public interest": 2,
        "Formal action is not in the public interest": 0.5,
        "Action to be taken by another organisation": 2,
        "Suspect charged as part of another case": 0.5,
        "Offender sent to prison": 3,
        "Offender given suspended prison sentence": 2,
        "Offender given community sentence": 2.5,
        "Offender fined": 1,
        "Offender given conditional discharge": 0.5,
        "Defendant found not guilty": 1.5,
        "Court case unable to proceed": 1,
        "Court result unavailable": 2,
        "Defendant sent to Crown Court": 0.3,
    },
    "Public order": {
        "Unable to prosecute suspect": 45,
        "Investigation complete; no suspect identified": 22,
        STATUS_UNAVAILABLE: 6,
        "Local resolution": 4,
        "Offender given a caution": 4,
        "Offender given penalty notice": 1,
        "Further investigation is not in the public interest": 2,
        "Offender sent to prison": 1.5,
        "Offender given community sentence": 2,
        "Offender fined": 3,
        "Offender given conditional discharge": 1.5,
        "Defendant found not guilty": 1,
        "Court result unavailable": 2,
    },
    "Drugs": {
        "Local resolution": 25,
        "Offender given a drugs possession warning": 12,
        "Offender given a caution": 10,
        "Offender given penalty notice": 3,
        "Unable to prosecute suspect": 12,
        "Investigation complete; no suspect identified": 3,
        "Further investigation is not in the public interest": 4,
        "Formal action is not in the public interest": 1,
        STATUS_UNAVAILABLE: 5,
        "Offender sent to prison": 5,
        "Offender given suspended prison sentence": 2,
        "Offender given community sentence": 4,
        "Offender fined": 5,
        "Offender given conditional discharge": 3,
        "Court result unavailable": 4,
        "Offender deprived of property": 1,
        "Offender otherwise dealt with": 1,
    },
    "Possession of weapons": {
        "Offender given a caution": 10,
        "Local resolution": 4,
        "Unable to prosecute suspect": 15,
        "Investigation complete; no suspect identified": 3,
        "Further investigation is not in the public interest": 3,
        STATUS_UNAVAILABLE: 5,
        "Offender sent to prison": 15,
        "Offender given suspended prison sentence": 10,
        "Offender given community sentence": 10,
        "Offender fined": 3,
        "Offender given conditional discharge": 5,
        "Defendant found not guilty": 4,
        "Court result unavailable": 8,
        "Court case unable to proceed": 3,
        "Defendant sent to Crown Court": 2,
    },
    "Other crime": {
        "Unable to prosecute suspect": 35,
        "Investigation complete; no suspect identified": 25,
        STATUS_UNAVAILABLE: 6,
        "Action to be taken by another organisation": 5,
        "Offender given a caution": 3,
        "Local resolution": 3,
        "Offender sent to prison": 5,
        "Offender given community sentence": 4,
        "Offender fined": 4,
        "Offender given suspended prison sentence": 3,
        "Court result unavailable": 4,
        "Defendant found not guilty": 2,
        "Court case unable to proceed": 1,
    },
}
# Mean months from crime to a non-court outcome (or to charge), by label.
_LAG_MONTHS = {"Investigation complete; no suspect identified": 1.0, "Unable to prosecute suspect": 2.5}

# ---------------------------------------------------------------------------------------------------------
# Stop and search (current police.uk wording, as in the Met files)
# ---------------------------------------------------------------------------------------------------------

_S23 = "Misuse of Drugs Act 1971 (section 23)"
_PACE = "Police and Criminal Evidence Act 1984 (section 1)"
_S47 = "Firearms Act 1968 (section 47)"
_S60 = "Criminal Justice and Public Order Act 1994 (section 60)"
_LEGISLATION = (_S23, _PACE, _S47, _S60)
_OBJECTS = (
    "Controlled drugs",
    "Offensive weapons",
    "Stolen goods",
    "Evidence of offences under the Act",
    "Articles for use in criminal damage",
    "Fireworks",
    "Firearms",
    "Anything to threaten or harm anyone",
)
_PACE_OBJECTS = {
    "Offensive weapons": 0.45,
    "Stolen goods": 0.40,
    "Evidence of offences under the Act": 0.11,
    "Articles for use in criminal damage": 0.025,
    "Fireworks": 0.015,
}
_SEARCH_OUTCOMES = (
    "A no further action disposal",
    "Arrest",
    "Community resolution",
    "Khat or Cannabis warning",
    "Penalty Notice for Disorder",
    "Summons / charged by post",
    "Caution (simple or conditional)",
)
_SEARCH_OUTCOME_P = {
    _S23: (0.66, 0.12, 0.12, 0.05, 0.03, 0.015, 0.005),
    _PACE: (0.76, 0.17, 0.03, 0.0, 0.02, 0.015, 0.005),
    _S47: (0.75, 0.22, 0.0, 0.0, 0.0, 0.03, 0.0),
    _S60: (0.93, 0.06, 0.01, 0.0, 0.0, 0.0, 0.0),
}
_SEARCH_TYPES = ("Person search", "Person and Vehicle search", "Vehicle search")
_GENDERS = ("Male", "Female", "Other")
_AGES = ("under 10", "10-17", "18-24", "25-34", "over 34")
_OFFICER_ETHNICITY = ("White", "Black", "Asian", "Other")
_NOT_STATED = "Other ethnic group - Not stated"
_SELF_ETHNICITY: dict[str, dict[str, float]] = {
    "white": {
        "White - English/Welsh/Scottish/Northern Irish/British": 0.76,
        "White - Any other White background": 0.20,
        "White - Irish": 0.03,
        "White - Gypsy or Irish Traveller": 0.01,
    },
    "black": {
        "Black/African/Caribbean/Black British - African": 0.40,
        "Black/African/Caribbean/Black British - Caribbean": 0.25,
        "Black/African/Caribbean/Black British - Any other Black/African/Caribbean background": 0.35,
    },
    "asian": {
        "Asian/Asian British - Pakistani": 0.45,
        "Asian/Asian British - Indian": 0.18,
        "Asian/Asian British - Bangladeshi": 0.12,
        "Asian/Asian British - Chinese": 0.05,
        "Asian/Asian British - Any other Asian background": 0.20,
    },
    "mixed": {
        "Mixed/Multiple ethnic groups - White and Black Caribbean": 0.40,
        "Mixed/Multiple ethnic groups - White and Black African": 0.12,
        "Mixed/Multiple ethnic groups - White and Asian": 0.18,
        "Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background": 0.30,
    },
    "other": {"Other ethnic group - Any other ethnic group": 0.80, "Other ethnic group - Arab": 0.20},
}
_SELF_LIST: tuple[str, ...] = (*(w for g in ETHNIC_GROUPS for w in _SELF_ETHNICITY[g]), _NOT_STATED)
# How officers record each group (rows: White, Black, Asian, Mixed, Other; columns as _OFFICER_ETHNICITY).
_OFFICER_GIVEN_GROUP = np.array(
    [
        [0.97, 0.005, 0.005, 0.02],
        [0.01, 0.95, 0.01, 0.03],
        [0.03, 0.01, 0.90, 0.06],
        [0.30, 0.45, 0.05, 0.20],
        [0.15, 0.05, 0.25, 0.55],
    ]
)
# fmt: off
_OPERATIONS: tuple[str, ...] = (
    "Kestrel", "Nightjar", "Harrier", "Merlin", "Sandpiper", "Curlew", "Lapwing", "Osprey", "Dunlin",
    "Redshank", "Goshawk", "Peregrine", "Whimbrel", "Skylark", "Bittern", "Avocet",
)
# fmt: on

# ---------------------------------------------------------------------------------------------------------
# Names (fictional; combinations may match real places by chance)
# ---------------------------------------------------------------------------------------------------------

# fmt: off
_PLACE_STEMS: tuple[str, ...] = (
    "Ash", "Bram", "Brad", "Brook", "Burn", "Castle", "Clay", "Cold", "Elm", "Fair", "Fern", "Glen",
    "Green", "Hal", "Hare", "Hart", "Heath", "High", "Holm", "Kirk", "Lang", "Lind", "Long", "Marl",
    "Marsh", "Mill", "Moor", "Nether", "Oak", "Old", "Pen", "Rad", "Red", "Ridge", "Rother", "Salt", "Sand",
    "Shel", "Stan", "Stain", "Stock", "Stone", "Sut", "Thorn", "Thorp", "Wal", "War", "Wes", "Whit", "Wick",
    "Wind", "Wood", "Wors", "Yar", "Ald", "Bex", "Cal", "Dun", "Eck", "Farn", "Gar", "Hep", "Ing", "Ket",
    "Lox", "Nor", "Ors", "Pud", "Rast", "Sil", "Tod", "Cliff", "Bur", "Crom", "Fox", "Hol", "Kel", "Med",
    "Ravens", "Shep",
)
_PLACE_SUFFIXES: tuple[str, ...] = (
    "ford", "ley", "ton", "by", "field", "wick", "ham", "bury", "worth", "dale", "gate", "thorpe", "stead",
    "bridge", "combe", "well", "borough", "hurst", "den", "wood", "holme", "cliffe", "shaw", "low",
    "ington",
)
_STREET_STEMS: tuple[str, ...] = (
    "Albert", "Albion", "Alexandra", "Beech", "Birch", "Bridge", "Broad", "Brook", "Castle", "Cemetery",
    "Chapel", "Cherry", "Church", "Clarence", "Cliff", "Commercial", "Cross", "Dale", "Derby", "Devonshire",
    "Duke", "East", "Elm", "Field", "Forest", "Garden", "George", "Gladstone", "Grange", "Green", "Hall",
    "Hawthorn", "High", "Hill", "Holly", "Howard", "John", "King", "Lime", "Lodge", "Manor", "Maple",
    "Market", "Mill", "Moor", "Mount", "Nelson", "New", "North", "Oak", "Orchard", "Park", "Poplar",
    "Priory", "Princess", "Queen", "Railway", "Regent", "Richmond", "Rose", "School", "Spring", "Stanley",
    "Sycamore", "Union", "Vicarage", "Victoria", "Water", "Well", "West", "Willow", "Windsor", "York",
    "Ash", "Bank", "Belle Vue", "Carr", "Crown", "Cavendish", "Meadow", "Oxford", "Prospect", "Wharf",
    "Tower", "Woodland", "Valley", "Waterloo", "Wellington", "Marlborough", "Hanover", "Fountain",
    "Shaftesbury", "Chestnut", "Laurel", "Heather", "Rowan", "Thornhill", "Ingram", "Peel", "Cobden",
    "Milton", "Byron", "Shelley", "Kingsley", "Lister", "Salisbury", "Stafford", "Granville", "Edward",
    "Frederick", "William", "Arthur", "Florence", "Grosvenor", "Buckingham", "Highfield", "Westfield",
    "Southfield", "Fairfield", "Broadway", "Silver", "Gold", "Copper", "Foundry", "Tannery", "Dyehouse",
)
_STREET_SUFFIXES: tuple[str, ...] = (
    "Road", "Street", "Lane", "Avenue", "Close", "Drive", "Grove", "Terrace", "Crescent", "Place", "Way",
    "Gardens", "Court", "Row", "Walk", "Mount", "View",
)
# fmt: on
_STREET_SUFFIX_P = np.array([30, 25, 10, 7, 6, 4, 4, 4, 3, 3, 2, 1, 1, 0.5, 0.5, 0.5, 0.5])
# fmt: off
_PUB_ADJ: tuple[str, ...] = (
    "Red", "White", "Black", "Golden", "Royal", "Old", "Green", "Blue", "Grey", "Jolly", "Noble", "Rising",
)
_PUB_NOUN: tuple[str, ...] = (
    "Lion", "Hart", "Swan", "Horse", "Bell", "Crown", "Anchor", "Plough", "Star", "Fox", "Bull", "Stag",
    "Dragon", "Sun", "Oak", "Cock", "Ship", "Boar", "Falcon", "Griffin", "Unicorn", "Hound",
)
_BAR_WORDS: tuple[str, ...] = (
    "Neon", "Velvet", "Vault", "Foundry", "Mill", "Lantern", "Arches", "Warehouse", "Loft", "Cellar",
    "Junction", "Signal", "Copper", "Echo", "Pulse", "Atlas", "Orbit", "Mosaic", "Tangent", "Ember",
)
# fmt: on
_BCU_DIRECTIONS = ("East", "North East", "North", "North West", "West", "South West", "South", "South East")
# Where further cities go (BNG metres): points at English towns and cities, tried in order, skipping any
# that would overlap a city already placed. London is left out so nothing lands on the real Met area.
# fmt: off
_CITY_SITES: tuple[tuple[int, int], ...] = (
    (407_000, 287_000), (384_000, 398_000), (425_000, 564_000), (359_000, 173_000), (457_000, 340_000),
    (335_000, 390_000), (435_000, 387_000), (458_000, 304_000), (509_000, 429_000), (442_000, 113_000),
    (248_000, 55_000), (623_000, 308_000), (545_000, 258_000), (451_000, 206_000), (388_000, 346_000),
    (460_000, 452_000), (497_000, 371_000), (354_000, 429_000), (340_000, 556_000), (449_000, 519_000),
    (519_000, 299_000), (475_000, 260_000), (385_000, 255_000), (383_000, 218_000), (471_000, 173_000),
    (292_000, 92_000), (408_000, 92_000), (531_000, 104_000), (615_000, 158_000), (571_000, 207_000),
    (616_000, 244_000), (509_000, 221_000), (499_000, 149_000), (349_000, 312_000), (351_000, 240_000),
    (322_000, 124_000), (347_000, 461_000), (340_000, 366_000), (182_000, 44_000), (415_000, 185_000),
    (433_000, 279_000), (464_000, 101_000), (576_000, 155_000), (599_000, 225_000), (486_000, 238_000),
    (531_000, 330_000), (570_000, 290_000), (300_000, 480_000), (395_000, 160_000), (520_000, 360_000),
)
# fmt: on

# Relative chance that a row has no location: mostly violence and sexual offences (withheld to protect
# victims) and other crime; scaled so the national mix gives ``no_location_share``.
_NO_LOCATION_WEIGHT = np.array(
    [2.5 if t == "Violence and sexual offences" else 3.0 if t == "Other crime" else 0.4 for t in TYPES]
)
_NO_LOCATION_WEIGHT /= (_NO_LOCATION_WEIGHT * np.array([TYPE_SHARES[t] for t in TYPES]) / 100).sum()

_DENSITY = 3_000 / 1e6  # mean residents per square metre over the city
_MIN_POPULATION = 100_000  # a force smaller than this has too few areas to be useful
_MAX_LAG_DAYS = 42.0  # near-repeat window


# ---------------------------------------------------------------------------------------------------------
# Config and manifest
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CityConfig:
    """Everything that shapes a synthetic city. Same config => byte-identical files."""

    seed: int = 0
    n_events: int = 50_000  # street-level rows (crime and ASB) over the whole period, all forces
    start: str = "2023-01"  # first month, YYYY-MM
    months: int = 24
    n_forces: int = 1  # >1: several cities ("synthetic-city", "synthetic-city-2", ...) in different places
    force_name: str = "Synthetic City Police"
    force_id: str = "synthetic-city"
    city_name: str = "Synthetic City"
    n_boroughs: int = 8  # per force at the default size; a larger city gets more (about 200 LSOAs each)
    n_bcus: int = 4  # per force at the default size; grows with the boroughs
    population: int | None = None  # residents of all forces; None: from n_events and crimes_per_1000
    crimes_per_1000: float = 80.0  # street-level rows per 1,000 residents per year (sets the population)
    lsoa_population: int = 1_500  # mean residents per LSOA
    residents_per_snap_point: int = 80
    centre_easting: float = 430_000.0  # BNG metres of the first city's centre
    centre_northing: float = 433_000.0
    no_location_share: float = 0.015  # street rows without a location ("No Location")
    duplicate_share: float = 0.0005  # street rows that repeat another row exactly, as in real files
    near_repeat_share: float = 0.2  # share of burglaries that are near repeats of an earlier one
    hotspot_sigma: float = 1.6  # spread (log scale) of persistent snap-point attractiveness
    stop_search_per_crime: float = 0.12  # searches per street-level row
    stop_search_no_location_share: float = 0.25
    # Published files give the UTC instant with "+00:00" all year; "local" writes local time with
    # "+01:00" in British Summer Time instead.
    stop_search_offsets: Literal["utc", "local"] = "utc"
    # Per-person search rate by group (White, Black, Asian, Mixed, Other) on top of where searches happen.
    search_rate_by_group: tuple[float, float, float, float, float] = (1.0, 2.5, 1.2, 1.5, 1.0)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", self.start):
            raise SafestreetsError(f"synthetic city: start must be YYYY-MM, got {self.start!r}")
        if int(self.start[:4]) < 1997:
            raise SafestreetsError(
                "synthetic city: start must be 1997 or later (current UK summer-time rules)"
            )
        checks = [
            (self.months >= 1, "months must be at least 1"),
            (self.n_events >= 0, "n_events must not be negative"),
            (self.n_forces >= 1, "n_forces must be at least 1"),
            (1 <= self.n_bcus <= self.n_boroughs, "need 1 <= n_bcus <= n_boroughs"),
            (self.lsoa_population >= 100, "lsoa_population must be at least 100"),
            (self.residents_per_snap_point >= 5, "residents_per_snap_point must be at least 5"),
            (self.crimes_per_1000 > 0, "crimes_per_1000 must be positive"),
            (self.stop_search_offsets in ("utc", "local"), "stop_search_offsets must be 'utc' or 'local'"),
            (
                len(self.search_rate_by_group) == 5 and min(self.search_rate_by_group) > 0,
                "search_rate_by_group needs five positive rates",
            ),
        ]
        for share in (
            "no_location_share",
            "duplicate_share",
            "near_repeat_share",
            "stop_search_no_location_share",
        ):
            checks.append((0.0 <= getattr(self, share) < 1.0, f"{share} must be in [0, 1)"))
        for ok, message in checks:
            if not ok:
                raise SafestreetsError(f"synthetic city: {message}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.force_id):
            raise SafestreetsError(
                f"synthetic city: force_id must be a lowercase slug, got {self.force_id!r}"
            )


@dataclass(frozen=True)
class CityManifest:
    """What :func:`generate_city` wrote. ``rows`` counts data rows (headers excluded) per file kind."""

    out_dir: Path
    config: CityConfig
    forces: tuple[str, ...]
    force_names: tuple[str, ...]
    months: tuple[str, ...]
    files: Mapping[str, tuple[Path, ...]]
    rows: Mapping[str, int]
    file_rows: Mapping[Path, int] = field(repr=False)

    def paths(self, kind: str) -> tuple[Path, ...]:
        return self.files.get(kind, ())


# ---------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream per (force, stage, month): order of generation never changes the output."""
    return np.random.default_rng(np.random.SeedSequence(abs(seed), spawn_key=(int(seed < 0), *key)))


def _hour_curve(base: float, bumps: list[tuple[float, float, float]]) -> np.ndarray:
    hours = np.arange(24) + 0.5
    curve = np.full(24, base)
    for centre, width, amp in bumps:
        d = (hours - centre + 12) % 24 - 12
        curve += amp * np.exp(-0.5 * (d / width) ** 2)
    return curve


def _weekend_night() -> np.ndarray:
    """Hour-of-week mask (Monday 00:00 = 0) for Friday and Saturday nights, 20:00 to 05:00."""
    how = np.arange(168)
    dow, hod = how // 24, how % 24
    return ((dow == 4) & (hod >= 20)) | ((dow == 5) & ((hod < 5) | (hod >= 20))) | ((dow == 6) & (hod < 5))


def _hour_of_week_profiles() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(14, 168) crime weights, (14, 168) chance of an NTE location, (168,) stop-search weights."""
    how = np.arange(168)
    dow, hod = how // 24, how % 24
    wk_night = _weekend_night()
    profile = np.zeros((len(TYPES), 168))
    for name, (base, bumps, days, boost) in _DAILY.items():
        w = _hour_curve(base, bumps)[hod] * np.asarray(days)[dow]
        profile[_T[name]] = np.where(wk_night, w * boost, w)
    night = np.where(wk_night, 1.0, np.where((hod >= 21) | (hod < 4), 0.5, np.where(hod >= 18, 0.1, 0.0)))
    nte = np.zeros((len(TYPES), 168))
    for name, affinity in _NTE_AFFINITY.items():
        nte[_T[name]] = affinity * night
    stops = _hour_curve(0.2, [(19, 4, 1.0), (23, 2, 0.6), (14, 3, 0.3)])[hod] * np.where(wk_night, 1.25, 1.0)
    return profile, nte, stops


_HOW_PROFILE, _HOW_NTE, _HOW_STOPS = _hour_of_week_profiles()


def _last_sunday(year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    return last - (calendar.weekday(year, month, last) + 1) % 7


def _minutes(year: int, month: int, day: int, hour: int = 0) -> int:
    """Minutes since 1970-01-01 00:00 of a local (naive) time."""
    return (dt.datetime(year, month, day, hour) - dt.datetime(1970, 1, 1)) // dt.timedelta(minutes=1)


def _dst_bounds(year: int) -> tuple[int, int, int]:
    """Local minutes: (start of the spring-forward gap, end of gap = BST starts, BST ends).

    UK rules since 1996: clocks go forward at 01:00 UTC on the last Sunday of March (local 01:00-01:59 does
    not exist) and back at 01:00 UTC on the last Sunday of October (local 01:00-01:59 happens twice; the
    first, BST, reading is used).
    """
    march, october = _last_sunday(year, 3), _last_sunday(year, 10)
    return _minutes(year, 3, march, 1), _minutes(year, 3, march, 2), _minutes(year, 10, october, 2)


def _is_bst(local_minutes: np.ndarray) -> np.ndarray:
    years = local_minutes.astype("datetime64[m]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros(local_minutes.shape, dtype=bool)
    for year in np.unique(years):
        _, start, end = _dst_bounds(int(year))
        sel = years == year
        out[sel] = (local_minutes[sel] >= start) & (local_minutes[sel] < end)
    return out


def _in_dst_gap(local_minutes: np.ndarray) -> np.ndarray:
    years = local_minutes.astype("datetime64[m]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros(local_minutes.shape, dtype=bool)
    for year in np.unique(years):
        gap_start, gap_end, _ = _dst_bounds(int(year))
        sel = years == year
        out[sel] = (local_minutes[sel] >= gap_start) & (local_minutes[sel] < gap_end)
    return out


def _sample_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling from an unnormalised cumulative weight array."""
    idx = np.searchsorted(cdf, u * cdf[-1], side="right")
    return np.minimum(idx, len(cdf) - 1)


def _sample_many(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """n draws from a long CDF: sorted uniforms make the binary searches cache-friendly (3x faster)."""
    idx = _sample_cdf(cdf, np.sort(rng.random(n)))
    return idx[rng.permutation(n)]


def _choice(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(np.asarray(probs, dtype=float))
    return _sample_cdf(cdf, rng.random(size))


def _weighted_sample_without_replacement(
    rng: np.random.Generator, weights: np.ndarray, k: int, exclude: np.ndarray
) -> np.ndarray:
    """Efraimidis-Spirakis: top-k of log(U)/w, O(n) and vectorised."""
    w = np.where(exclude, 0.0, weights)
    k = min(k, int((w > 0).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore"):
        keys = np.log(rng.random(len(w))) / w
    keys[w <= 0] = -np.inf
    return np.sort(np.argpartition(-keys, k - 1)[:k])


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_U64 = (1 << 64) - 1


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrap-around arithmetic is intended)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _crime_ids(seed: int, force: int, month: np.ndarray, event: np.ndarray, valid: np.ndarray) -> pa.Array:
    """64 lowercase hex characters per crime, a hash of (seed, force, month, event); null where not valid.

    A hash rather than a random draw so the outcomes of a crime, written months later, can rebuild its ID.
    """
    n = len(event)
    key = (
        (np.uint64(force) << np.uint64(48))
        | (month.astype(np.uint64) << np.uint64(32))
        | event.astype(np.uint64)
    )
    words = np.empty((n, 4), dtype=np.uint64)
    for w in range(4):
        salt = np.uint64((seed * 4 + w) * 0x632BE59BD9B4E019 & _U64)
        words[:, w] = _mix64(_mix64(key ^ salt) + np.uint64(w))
    raw = words.view(np.uint8).reshape(n, 32)[valid]
    text = np.empty((len(raw), 64), dtype=np.uint8)
    text[:, 0::2] = _HEX[raw >> 4]
    text[:, 1::2] = _HEX[raw & 15]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(valid, 64, 0), out=offsets[1:])
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.large_string(),
        n,
        [validity, pa.py_buffer(offsets), pa.py_buffer(text.ravel())],
        null_count=int(n - valid.sum()),
    )


def _dict_column(indices: np.ndarray, dictionary: pa.Array, null: np.ndarray | None = None) -> pa.Array:
    idx = pa.array(indices.astype(np.int32), mask=null)
    return pa.DictionaryArray.from_arrays(idx, dictionary)


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


def _minute_strings(minutes: np.ndarray, sep: str, tail: str, bst: np.ndarray | None = None) -> pa.Array:
    """ "YYYY-MM-DD<sep>HH:MM<tail>" for minutes since 1970, built as bytes (Arrow's strftime is slow).

    With ``bst``, the tail's "+00:00" becomes "+01:00" on those rows.
    """
    m = np.asarray(minutes, dtype=np.int64)
    n, width = len(m), 16 + len(tail)
    day = (m // 1440).astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    fields = (
        (0, 4, day.astype("datetime64[Y]").astype(np.int64) + 1970),
        (5, 2, month_start.astype(np.int64) % 12 + 1),
        (8, 2, (day - month_start).astype(np.int64) + 1),
        (11, 2, (m // 60) % 24),
        (14, 2, m % 60),
    )
    raw = np.empty((n, width), dtype=np.uint8)
    raw[:, :16] = np.frombuffer(f"0000-00-00{sep}00:00".encode(), dtype=np.uint8)
    raw[:, 16:] = np.frombuffer(tail.encode(), dtype=np.uint8)
    for col, digits, value in fields:
        for k in range(digits):
            raw[:, col + digits - 1 - k] = 48 + (value // 10**k) % 10
    if bst is not None:
        raw[bst, width - 4] = ord("1")
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw)])


def _fixed6(values: np.ndarray) -> pa.Array:
    """Six decimals, as police.uk writes coordinates ("-1.500000"), built without a Python loop."""
    micro = np.round(np.asarray(values, dtype=float) * 1e6).astype(np.int64)
    whole, frac = np.divmod(np.abs(micro), 1_000_000)
    sign = pa.array(np.where(micro < 0, "-", ""))
    frac_text = pc.utf8_lpad(pa.array(frac).cast(pa.string()), 6, "0")
    return pc.binary_join_element_wise(sign, pa.array(whole).cast(pa.string()), ".", frac_text, "")


_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none")


def _write_rows(sink: Any, table: pa.Table) -> None:
    # Unquoted like the published files; pyarrow refuses a value that would need quotes, so a stray comma
    # fails loudly instead of shifting columns.
    if table.num_rows:
        pacsv.write_csv(table, sink, _CSV_OPTIONS)


def _write_csv(path: Path, header: tuple[str, ...], table: pa.Table) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(header) + "\n").encode())
        _write_rows(sink, table)
    return table.num_rows


def _mix_arrays(mix: dict[str, float], order: tuple[str, ...]) -> np.ndarray:
    p = np.array([mix.get(name, 0.0) for name in order], dtype=float)
    return p / p.sum() if p.sum() > 0 else p


# ---------------------------------------------------------------------------------------------------------
# Geography
# ---------------------------------------------------------------------------------------------------------


class _Names:
    """Fictional place names, unique across the run (boroughs, stations, parks)."""

    def __init__(self, rng: np.random.Generator) -> None:
        pool = [s + x for s in _PLACE_STEMS for x in _PLACE_SUFFIXES]
        self._pool = [pool[i] for i in rng.permutation(len(pool))]
        self._next = 0

    def place(self) -> str:
        name = self._pool[self._next % len(self._pool)]
        rounds = self._next // len(self._pool)
        self._next += 1
        return name if rounds == 0 else f"{name} {rounds + 1}"


@dataclass
class _City:
    index: int
    force_id: str
    force_name: str
    city_name: str
    centre: np.ndarray
    radius: float
    boundary: shapely.Geometry
    # LSOAs
    lsoa_xy: np.ndarray
    lsoa_geom: np.ndarray
    lsoa_code: list[str]
    lsoa_name: list[str]
    lsoa_borough: np.ndarray
    lsoa_population: np.ndarray
    lsoa_ethnicity: np.ndarray  # (L, 5) counts
    lsoa_deprivation: np.ndarray
    lsoa_beat: np.ndarray  # index into beats
    beats: list[str]
    lsoa_rank: np.ndarray  # position of the LSOA name in sorted order (police.uk sorts rows by it)
    # boroughs and BCUs
    borough_code: list[str]
    borough_name: list[str]
    borough_geom: np.ndarray
    borough_bcu: list[str]
    # snap points
    snap_xy: np.ndarray
    snap_lsoa: np.ndarray
    snap_kind: np.ndarray
    snap_location: list[str]
    snap_jitter: np.ndarray  # radius that keeps a jittered point nearest to its own snap point
    snap_tree: cKDTree
    weights: np.ndarray  # (14, S) general component
    weights_nte: np.ndarray  # (S,) night-time-economy component
    weights_stops: np.ndarray  # (S,)
    drift: np.ndarray  # (S,) slow change of attractiveness over the period
    places: dict[str, list[tuple[str, str, str, float, float]]]  # file -> (id, name, kind, x, y)
    # strings for the files
    lon_text: pa.Array = field(init=False)
    lat_text: pa.Array = field(init=False)
    location_text: pa.Array = field(init=False)  # + "No Location" at the end
    outcome_location_text: pa.Array = field(init=False)  # + "No location" at the end

    def __post_init__(self) -> None:
        lon, lat = crs_to_lonlat(self.snap_xy[:, 0], self.snap_xy[:, 1], BNG)
        self.lon_text = _fixed6(lon)
        self.lat_text = _fixed6(lat)
        self.location_text = pa.array([*self.snap_location, "No Location"], type=pa.string())
        self.outcome_location_text = pa.array([*self.snap_location, "No location"], type=pa.string())


def _disc_grid(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About n jittered grid points in the unit disc (well spaced, no clumps), with their grid indices."""
    h = math.sqrt(math.pi / max(n, 1))
    k = math.ceil(1 / h) + 1
    gi, gj = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="xy")
    gi, gj = gi.ravel(), gj.ravel()
    u = np.stack([gi * h, gj * h], axis=1) + rng.uniform(-0.35 * h, 0.35 * h, size=(gi.size, 2))
    keep = np.hypot(u[:, 0], u[:, 1]) < 0.985
    return u[keep], gi[keep], gj[keep]


def _kernel(points: np.ndarray, sources: np.ndarray, sigma: float, k: int = 12) -> np.ndarray:
    """Sum of Gaussian bumps from the k nearest sources (cut at 4 sigma), vectorised with a KD-tree."""
    if len(sources) == 0:
        return np.zeros(len(points))
    k = min(k, len(sources))
    d, _ = cKDTree(sources).query(points, k=k, distance_upper_bound=4 * sigma)
    d = d.reshape(len(points), k)
    return np.where(np.isfinite(d), np.exp(-0.5 * (np.nan_to_num(d, posinf=0.0) / sigma) ** 2), 0.0).sum(
        axis=1
    )


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = xy[rng.choice(len(xy), size=k, replace=False)]
    labels = np.zeros(len(xy), dtype=np.int64)
    for _ in range(40):
        labels = cKDTree(centres).query(xy)[1]
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=xy[:, c], minlength=k) for c in range(2)], axis=1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres, labels


def _force_layout(config: CityConfig, populations: np.ndarray) -> np.ndarray:
    """Centres of the cities: the configured one first, then English town sites, then a wider ring.

    Each city takes the first site that keeps it clear of the cities already placed.
    """
    radii = np.sqrt(populations / _DENSITY / math.pi) * 1.2  # the outline's lobes reach ~1.18 radii
    first = np.array([config.centre_easting, config.centre_northing])
    step = 2 * radii.max() + 5_000
    rings = [
        first + step * np.array([i, j])
        for ring in range(1, 12)
        for i in range(-ring, ring + 1)
        for j in range(-ring, ring + 1)
        if max(abs(i), abs(j)) == ring
    ]
    sites = [np.asarray(site, dtype=float) for site in _CITY_SITES] + rings
    chosen = [first]
    for k in range(1, len(populations)):
        for site in sites:
            gaps = np.hypot(*(np.array(chosen) - site).T)
            if (gaps > radii[k] + radii[: len(chosen)] + 5_000).all():
                chosen.append(site)
                break
        else:
            raise SafestreetsError(f"synthetic city: no room for {len(populations)} forces")
    return np.array(chosen)


def _build_city(
    config: CityConfig, k: int, centre: np.ndarray, population: int, names: _Names, counters: dict[str, int]
) -> _City:
    rng = _rng(config.seed, k, 1)
    radius = math.sqrt(population / _DENSITY / math.pi)
    n_lsoa = max(40, round(population / config.lsoa_population))
    n_snap = max(400, round(population / config.residents_per_snap_point))
    n_boroughs = min(max(config.n_boroughs, math.ceil(n_lsoa / 200)), max(1, n_lsoa // 4))
    n_bcus = min(n_boroughs, max(config.n_bcus, round(n_boroughs * config.n_bcus / config.n_boroughs)))
    shape = _Shape(centre, radius, rng.uniform(0.02, 0.06, 3), rng.uniform(0, 2 * math.pi, 3))

    areas = _areas(rng, shape, n_lsoa, n_boroughs, n_bcus, k, names, counters)
    pop, ethnicity, deprivation = _people(rng, config, shape, areas["seeds"], n_boroughs)
    snaps, snap_lsoa, gi, gj = _snap_points(rng, shape, areas["seeds"], n_snap)
    snap_tree = cKDTree(snaps)
    nn = snap_tree.query(snaps, k=2)[0][:, 1]
    location, a_road = _street_names(rng, shape, snaps, gi, gj, nn)
    places, features, kind = _places_and_features(
        rng, k, shape, snaps, snap_tree, location, a_road, areas, population, names, counters
    )
    features["deprivation"] = deprivation[snap_lsoa]
    weights, weights_nte, weights_stops = _risk(rng, config, features, kind)

    return _City(
        index=k,
        force_id=config.force_id if k == 0 else f"{config.force_id}-{k + 1}",
        force_name=_force_name(config, k),
        city_name=config.city_name if k == 0 else f"{config.city_name} {k + 1}",
        centre=centre,
        radius=radius,
        boundary=shape.polygon(),
        lsoa_xy=areas["seeds"],
        lsoa_geom=areas["geom"],
        lsoa_code=areas["code"],
        lsoa_name=areas["name"],
        lsoa_borough=areas["borough"],
        lsoa_population=pop,
        lsoa_ethnicity=ethnicity,
        lsoa_deprivation=deprivation,
        lsoa_beat=areas["beat"],
        beats=areas["beats"],
        lsoa_rank=areas["rank"],
        borough_code=areas["borough_code"],
        borough_name=areas["borough_name"],
        borough_geom=areas["borough_geom"],
        borough_bcu=areas["bcu"],
        snap_xy=snaps,
        snap_lsoa=snap_lsoa,
        snap_kind=kind,
        snap_location=[f"On or near {name}" for name in location],
        snap_jitter=np.minimum(0.45 * nn, 60.0),
        snap_tree=snap_tree,
        weights=weights,
        weights_nte=weights_nte,
        weights_stops=weights_stops,
        drift=rng.normal(0, 0.6, len(snaps)),
        places=places,
    )


@dataclass(frozen=True)
class _Shape:
    """A city's outline (a circle with gentle lobes) and its radial density (dense centre)."""

    centre: np.ndarray
    radius: float
    amps: np.ndarray
    phases: np.ndarray

    def factor(self, theta: np.ndarray) -> np.ndarray:
        out = np.ones_like(theta)
        for j, (a, p) in enumerate(zip(self.amps, self.phases, strict=True), start=2):
            out += a * np.cos(j * theta + p)
        return out

    def polygon(self) -> shapely.Geometry:
        theta = np.linspace(0, 2 * math.pi, 512, endpoint=False)
        r = self.radius * self.factor(theta)
        return shapely.Polygon(self.centre + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))

    def warp(self, u: np.ndarray, core: float) -> np.ndarray:
        """Map uniform unit-disc points into the city so density falls off as exp(-r / core) + 0.3."""
        r_grid = np.linspace(0.0, 1.0, 4097)
        density = (np.exp(-r_grid / core) + 0.3) * r_grid
        mass = np.concatenate([[0.0], np.cumsum(density[1:] * np.diff(r_grid))])
        theta = np.arctan2(u[:, 1], u[:, 0])
        r = np.interp((u**2).sum(axis=1), mass / mass[-1], r_grid) * self.radius * self.factor(theta)
        return self.centre + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)

    def relative(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = (xy - self.centre) / self.radius
        return rel, np.hypot(rel[:, 0], rel[:, 1])


def _areas(
    rng: np.random.Generator,
    shape: _Shape,
    n_lsoa: int,
    n_boroughs: int,
    n_bcus: int,
    k: int,
    names: _Names,
    counters: dict[str, int],
) -> dict[str, Any]:
    """LSOAs, boroughs (unions of LSOAs) and BCUs (groups of boroughs), with codes, names and beats."""
    # LSOAs: a Voronoi tessellation of seeds that are denser in the centre (equal populations => small
    # inner areas), clipped to the city outline, so the cells tile the city exactly.
    boundary = shape.polygon()
    seeds = shape.warp(_disc_grid(n_lsoa, rng)[0], 0.35)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=boundary, ordered=True)
    )
    if len(cells) != len(seeds):  # GEOS merges coincident seeds; the jittered grid never has any
        raise RuntimeError("Voronoi tessellation lost seeds")
    # Only cells that reach the outline need clipping (most are inside: a cheap prepared test).
    shapely.prepare(boundary)
    inside = shapely.contains_properly(boundary, cells)
    geom = cells.copy()
    geom[~inside] = shapely.intersection(cells[~inside], boundary)
    n_lsoa = len(seeds)

    # Boroughs: k-means groups of LSOAs, numbered from the centre outwards.
    b_centres, labels = _kmeans(seeds, n_boroughs, rng)
    order = np.argsort(np.hypot(*(b_centres - shape.centre).T), kind="stable")
    remap = np.empty(n_boroughs, dtype=np.int64)
    remap[order] = np.arange(n_boroughs)
    b_centres, labels = b_centres[order], remap[labels]
    # LSOAs in code order: by borough, then north to south (ONS numbers small areas that way).
    order = np.lexsort((-seeds[:, 1], labels))
    seeds, geom, labels = seeds[order], geom[order], labels[order]
    borough_name = [names.place() for _ in range(n_boroughs)]
    borough_code = [f"SYN09{counters['borough'] + b + 1:06d}" for b in range(n_boroughs)]
    counters["borough"] += n_boroughs
    # The cells form an exact coverage (shared edges, no overlaps), so the fast coverage union applies.
    borough_geom = np.array([shapely.coverage_union_all(geom[labels == b]) for b in range(n_boroughs)])

    # BCUs: the central boroughs, then the rest in compass sectors.
    bcu = ["Central"] * n_boroughs
    if n_bcus > 1:
        rest = np.arange(max(1, round(n_boroughs / n_bcus)), n_boroughs)
        angles = np.arctan2(*(b_centres[rest] - shape.centre).T[::-1])
        rest = rest[np.argsort((angles - rng.uniform(-math.pi, math.pi)) % (2 * math.pi), kind="stable")]
        used: dict[str, int] = {"Central": 1}
        for group in np.array_split(rest, n_bcus - 1):
            mean = np.arctan2(*(b_centres[group] - shape.centre).mean(axis=0)[::-1])
            name = _BCU_DIRECTIONS[round(mean / (math.pi / 4)) % 8]
            used[name] = used.get(name, 0) + 1
            for b in group:
                bcu[b] = name if used[name] == 1 else f"{name} {used[name]}"
    bcu = [name if k == 0 else f"{name} ({k + 1})" for name in bcu]

    # Codes and names: "<Borough> 012C", MSOA-like groups of five; beats are those groups.
    pos = np.arange(n_lsoa) - np.searchsorted(labels, labels)
    msoa = pos // 5 + 1
    lsoa_name = [
        f"{borough_name[b]} {m:03d}{'ABCDE'[p % 5]}"
        for b, m, p in zip(labels.tolist(), msoa.tolist(), pos.tolist(), strict=True)
    ]
    lsoa_code = [f"SYN01{counters['lsoa'] + i + 1:06d}" for i in range(n_lsoa)]
    counters["lsoa"] += n_lsoa
    rank = np.empty(n_lsoa, dtype=np.int64)
    rank[sorted(range(n_lsoa), key=lambda i: lsoa_name[i])] = np.arange(n_lsoa)
    seen: dict[str, int] = {}
    prefixes = []
    for name in borough_name:
        stem = name[:3].upper()
        seen[stem] = seen.get(stem, 0) + 1
        prefixes.append(stem if seen[stem] == 1 else f"{stem[:2]}{seen[stem]}")
    beat_keys, beat = np.unique(labels * 100_000 + msoa, return_inverse=True)
    beats = [f"{prefixes[key // 100_000]}{key % 100_000:02d}" for key in beat_keys.tolist()]
    return {
        "seeds": seeds,
        "geom": geom,
        "borough": labels,
        "code": lsoa_code,
        "name": lsoa_name,
        "rank": rank,
        "beat": beat,
        "beats": beats,
        "borough_centre": b_centres,
        "borough_name": borough_name,
        "borough_code": borough_code,
        "borough_geom": borough_geom,
        "bcu": bcu,
    }


def _people(
    rng: np.random.Generator, config: CityConfig, shape: _Shape, seeds: np.ndarray, n_boroughs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population, counts by ethnic group, and deprivation (0..1) per LSOA.

    The mix comes from a few communities plus a more diverse inner city; deprivation sits in an inner
    ring and a few outer estates and is correlated with minority share, as in English cities.
    """
    n = len(seeds)
    rel, rr = shape.relative(seeds)
    mean = config.lsoa_population
    pop = np.clip(np.round(rng.normal(mean, 0.12 * mean, n)), 0.6 * mean, 1.9 * mean).astype(np.int64)
    logit = np.log(np.array([0.80, 0.04, 0.09, 0.04, 0.03]))[None, :] + rng.normal(0, 0.3, (n, 5))
    logit[:, 1:] += 0.7 * np.exp(-((rr / 0.35) ** 2))[:, None]
    for _ in range(2 + n_boroughs // 3):
        group = int(rng.choice([2, 1, 2, 1, 3, 4]))
        ang, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0.1, 0.6)
        spot = np.array([math.cos(ang), math.sin(ang)]) * dist
        sigma = rng.uniform(0.08, 0.15)
        logit[:, group] += rng.uniform(1.8, 3.0) * np.exp(-0.5 * (np.hypot(*(rel - spot).T) / sigma) ** 2)
    share = np.exp(logit - logit.max(axis=1, keepdims=True))
    share /= share.sum(axis=1, keepdims=True)
    ethnicity = rng.multinomial(pop, share)
    ring = np.exp(-(((rr - 0.3) / 0.18) ** 2))
    dep_z = -1.0 + 1.6 * ring + 2.5 * (1 - share[:, 0]) + rng.normal(0, 0.5, n)
    for _ in range(2 + n_boroughs // 4):
        ang, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0.55, 0.85)
        spot = np.array([math.cos(ang), math.sin(ang)]) * dist
        dep_z += 1.5 * np.exp(-0.5 * (np.hypot(*(rel - spot).T) / 0.07) ** 2)
    return pop, ethnicity, 1 / (1 + np.exp(-dep_z))


def _snap_points(
    rng: np.random.Generator, shape: _Shape, seeds: np.ndarray, n_snap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Street centres on a finer jittered grid, even denser in the centre: (xy, LSOA, grid i, grid j)."""
    u, gi, gj = _disc_grid(n_snap, rng)
    snaps = shape.warp(u, 0.25)
    # Keep points clear of LSOA edges and the outline so a 6-decimal lon/lat falls in one polygon only.
    # A point's LSOA is its nearest seed (that is what a Voronoi cell is).
    d, i = cKDTree(seeds).query(snaps, k=2)
    gap = np.hypot(*(seeds[i[:, 1]] - seeds[i[:, 0]]).T)
    margin = (d[:, 1] ** 2 - d[:, 0] ** 2) / (2 * gap)
    inner = shapely.buffer(shape.polygon(), -3.0)
    keep = (margin >= 3.0) & shapely.contains_xy(inner, snaps[:, 0], snaps[:, 1])
    return snaps[keep], i[keep, 0], gi[keep], gj[keep]


def _street_names(
    rng: np.random.Generator, shape: _Shape, snaps: np.ndarray, gi: np.ndarray, gj: np.ndarray, nn: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """A street name per snap point (runs of grid neighbours share one), radial A-roads and a ring road."""
    vertical = gi % 5 == 0
    street_key = np.where(
        vertical,
        (gi + 10_000) * 100_000 + (gj + 10_000) // 4 + 5 * 10**9,
        (gj + 10_000) * 100_000 + (gi + 10_000) // 4,
    )
    _, street = np.unique(street_key, return_inverse=True)
    n_streets = int(street.max()) + 1
    stems = rng.integers(0, len(_STREET_STEMS), n_streets).tolist()
    suffixes = _choice(rng, _STREET_SUFFIX_P, n_streets).tolist()
    names = [f"{_STREET_STEMS[a]} {_STREET_SUFFIXES[b]}" for a, b in zip(stems, suffixes, strict=True)]
    location = [names[s] for s in street.tolist()]
    offset = snaps - shape.centre
    a_road = np.zeros(len(snaps), dtype=bool)
    numbers = rng.choice(np.arange(58, 700), size=5 + int(shape.radius // 6000), replace=False).tolist()
    for number, angle in zip(numbers, rng.uniform(0, 2 * math.pi, len(numbers)).tolist(), strict=True):
        along = offset @ np.array([math.cos(angle), math.sin(angle)])
        across = np.abs(offset @ np.array([-math.sin(angle), math.cos(angle)]))
        on = (along > 0.12 * shape.radius) & (across < 0.6 * nn)
        a_road |= on
        for s in np.flatnonzero(on).tolist():
            location[s] = f"A{number}"
    ring = np.abs(np.hypot(*offset.T) - 0.12 * shape.radius) < 0.5 * nn
    for s in np.flatnonzero(ring).tolist():
        location[s] = "Inner Ring Road"
    return location, a_road


def _places_and_features(
    rng: np.random.Generator,
    k: int,
    shape: _Shape,
    snaps: np.ndarray,
    snap_tree: cKDTree,
    location: list[str],
    a_road: np.ndarray,
    areas: dict[str, Any],
    population: int,
    names: _Names,
    counters: dict[str, int],
) -> tuple[dict[str, list[tuple[str, str, str, float, float]]], dict[str, np.ndarray], np.ndarray]:
    """Local centres, night-time economy, stations, parks and named public places.

    Returns the places files' rows, per-snap-point features (0..1) and each snap point's place kind.
    ``location`` is updated in place where a station or a public place takes over the street name.
    """
    centre, radius = shape.centre, shape.radius
    inner = shapely.buffer(shape.polygon(), -3.0)
    n_snap = len(snaps)
    n_boroughs = len(areas["borough_name"])
    places: dict[str, list[tuple[str, str, str, float, float]]] = {
        "stations": [],
        "nte": [],
        "open_spaces": [],
    }

    def add_place(file: str, prefix: str, name: str, kind: str, xy: np.ndarray) -> None:
        counters[prefix] = counters.get(prefix, 0) + 1
        places[file].append((f"SYN-{prefix}-{counters[prefix]:05d}", name, kind, float(xy[0]), float(xy[1])))

    # One local centre per borough (the central borough's is the city centre).
    local_centres = areas["borough_centre"] + rng.normal(0, 150, areas["borough_centre"].shape)
    local_centres[0] = centre
    cen_city = np.exp(-0.5 * (np.hypot(*(snaps - centre).T) / max(350.0, 0.08 * radius)) ** 2)
    cen = np.minimum(1.0, cen_city + 0.4 * _kernel(snaps, local_centres[1:], 250.0))

    # Night-time economy: a big cluster in the centre, smaller ones at half the local centres.
    spread = min(400.0, 0.06 * radius)
    n_central = min(150, max(12, round(population / 10_000)))
    venue_xy = [centre + rng.normal(0, spread, (n_central, 2))]
    for c in local_centres[1:][rng.random(n_boroughs - 1) < 0.5]:
        venue_xy.append(c + rng.normal(0, 150.0, (max(3, min(30, n_central // 5)), 2)))
    venues = np.vstack(venue_xy)
    venues = venues[shapely.contains_xy(inner, venues[:, 0], venues[:, 1])]
    in_centre = np.hypot(*(venues - centre).T) < 3 * spread
    venue_kind = np.where(
        in_centre,
        _choice(rng, np.array([0.40, 0.32, 0.18, 0.10]), len(venues)),
        _choice(rng, np.array([0.65, 0.15, 0.05, 0.15]), len(venues)),
    )
    venue_kind[0] = 2  # at least one nightclub
    kinds = ("pub", "bar", "nightclub", "late-night takeaway")
    club_style = (rng.random(len(venues)) < 0.5).tolist()
    for xy, kind, style in zip(venues, venue_kind.tolist(), club_style, strict=True):
        word = _BAR_WORDS[int(rng.integers(len(_BAR_WORDS)))]
        adjective, noun = (
            _PUB_ADJ[int(rng.integers(len(_PUB_ADJ)))],
            _PUB_NOUN[int(rng.integers(len(_PUB_NOUN)))],
        )
        name = (
            f"The {adjective} {noun}",
            f"{word} Bar",
            f"Club {word}" if style else f"The {word} Rooms",
            f"{_STREET_STEMS[int(rng.integers(len(_STREET_STEMS)))]} Grill",
        )[kind]
        add_place("nte", "NTE", name, kinds[kind], xy)
    nte = 1 - np.exp(-_kernel(snaps, venues, 120.0, k=16))

    # Stations: a central railway and bus station, railway lines radiating out, local bus stations.
    city = "City" if k == 0 else names.place()
    angle = rng.uniform(0, 2 * math.pi)
    station_xy = [centre + 300 * np.array([math.cos(angle), math.sin(angle)])]
    add_place("stations", "STN", f"{city} Central", "railway station", station_xy[0])
    bus_xy = [centre + 250 * np.array([math.cos(angle + 2.5), math.sin(angle + 2.5)])]
    add_place("stations", "STN", f"{city} Bus Station", "bus station", bus_xy[0])
    n_lines = 3 + int(radius // 8000)
    suffixes = ("", "", " Road", " Junction", " Parkway", " Lane", " Bridge", " Town")
    for line in (rng.uniform(0, 2 * math.pi) + np.arange(n_lines) * 2 * math.pi / n_lines).tolist():
        line += rng.normal(0, 0.2)
        dist = 0.15 * radius + rng.uniform(0, 1500)
        while True:
            xy = centre + dist * np.array([math.cos(line), math.sin(line)])
            if not shapely.contains_xy(inner, xy[0], xy[1]):
                break
            station_xy.append(xy)
            add_place(
                "stations", "STN", f"{names.place()}{suffixes[int(rng.integers(8))]}", "railway station", xy
            )
            dist += rng.uniform(1500, 2600)
    for b in range(2, n_boroughs, 3):
        bus_xy.append(local_centres[b])
        add_place(
            "stations", "STN", f"{areas['borough_name'][b]} Bus Station", "bus station", local_centres[b]
        )
    stations, buses = np.vstack(station_xy), np.vstack(bus_xy)
    sta = np.minimum(1.0, _kernel(snaps, np.vstack([stations, buses]), 200.0))
    for s in snap_tree.query(stations)[1].tolist():
        location[s] = "Station Approach"

    # Open spaces: a central park and others spread through the city.
    n_parks = max(4, round(float(inner.area) / 1e6 / 5))
    ang, dist = rng.uniform(0, 2 * math.pi, n_parks - 1), np.sqrt(rng.uniform(0.04, 0.8, n_parks - 1))
    parks = np.vstack(
        [
            centre + rng.normal(0, 0.08 * radius, 2),
            shape.warp(np.stack([dist * np.cos(ang), dist * np.sin(ang)], axis=1), 0.35),
        ]
    )
    park_radius = rng.uniform(120, 450, len(parks))
    park_kind = _choice(rng, np.array([0.55, 0.2, 0.12, 0.08, 0.05]), len(parks))
    park_kinds = ("park", "recreation ground", "playing fields", "common", "woodland")
    park_suffix = ("Park", "Recreation Ground", "Playing Fields", "Common", "Woods")
    for xy, kind in zip(parks, park_kind.tolist(), strict=True):
        add_place("open_spaces", "OS", f"{names.place()} {park_suffix[kind]}", park_kinds[kind], xy)
    d_park, i_park = cKDTree(parks).query(snaps)
    park = np.exp(-0.5 * (np.maximum(0.0, d_park - park_radius[i_park]) / 100.0) ** 2)

    # Public places that police.uk names instead of a street: first those tied to a place above, then a
    # weighted draw for the rest (supermarkets near local centres, car parks near the centre, ...).
    snap_kind = np.zeros(n_snap, dtype=np.int64)
    for label, targets in (
        ("Nightclub", venues[venue_kind == 2]),
        ("Bus/Coach Station", buses),
        ("Park/Open Space", parks[park_kind != 2]),
        ("Sports/Recreation Area", parks[park_kind == 2]),
        ("Police Station", local_centres + 120.0),
    ):
        idx = snap_tree.query(targets)[1] if len(targets) else np.zeros(0, dtype=np.int64)
        snap_kind[idx[snap_kind[idx] == 0]] = _K[label]
    snap_r = shape.relative(snaps)[1]
    residential = 1.0 - 0.7 * cen_city
    picks = {
        "Supermarket": (n_snap // 180, 0.2 + cen + residential * 0.3),
        "Parking Area": (n_snap // 150, 0.3 + 2 * cen + sta),
        "Shopping Area": (max(1, n_snap // 400), cen_city**2 + 0.02 * cen),
        "Petrol Station": (max(1, n_snap // 400), a_road + 0.05),
        "Sports/Recreation Area": (n_snap // 350, 0.2 + snap_r),
        "Hospital": (max(1, n_snap // 2500), np.exp(-(((snap_r - 0.35) / 0.2) ** 2))),
        "Further/Higher Educational Building": (max(1, n_snap // 1500), cen_city + 0.05),
        "Theatre/Concert Hall": (max(1, n_snap // 3000), cen_city**2),
        "Pedestrian Subway": (max(1, n_snap // 2500), cen_city + sta + 0.01),
        "Conference/Exhibition Centre": (int(n_snap >= 2000), cen_city),
        "Prison": (int(n_snap >= 3000), (snap_r > 0.6).astype(float)),
    }
    for label, (count, weight) in picks.items():
        chosen = _weighted_sample_without_replacement(rng, weight, count, snap_kind != 0)
        snap_kind[chosen] = _K[label]
    for s in np.flatnonzero(snap_kind).tolist():
        location[s] = PLACE_KINDS[snap_kind[s]]
    features = {
        "one": np.ones(n_snap),
        "centre": cen,
        "nte": nte,
        "station": sta,
        "park": park,
        "residential": (snap_kind == 0) * residential,
        "a_road": a_road.astype(float),
    }
    return places, features, snap_kind


def _risk(
    rng: np.random.Generator, config: CityConfig, features: dict[str, np.ndarray], kind: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-snap-point weights: (14, S) by type, (S,) night-time economy, (S,) stop and search.

    Each type mixes place features; persistent hot spots multiply in (lognormal attractiveness plus a
    few "problem places" at six times the rate), which gives Weisburd-like concentration.
    """
    n = len(kind)
    features = {**features, "res_deprived": features["residential"] * features["deprivation"]}
    matrix = np.stack([features[name] for name in _FEATURES], axis=1)
    mix = np.array([_FEATURE_MIX[t] for t in TYPES])
    pull = np.ones((len(TYPES), len(PLACE_KINDS)))
    for label, by_type in _PLACE_PULL.items():
        for t, mult in by_type.items():
            pull[_T[t], _K[label]] = mult
    hot = np.exp(config.hotspot_sigma * rng.standard_normal(n))
    hot[rng.random(n) < 0.02] *= 6.0
    noise = np.exp(0.4 * rng.standard_normal((len(TYPES), n)))
    weights = (mix @ matrix.T) * pull[:, kind] * hot[None, :] * noise
    venue = np.where(kind == _K["Nightclub"], 8.0, np.where(kind == _K["Bus/Coach Station"], 3.0, 1.0))
    weights_nte = (
        (0.01 + features["nte"] + 0.3 * features["station"] + 0.1 * features["centre"]) * venue * hot
    )

    def norm(w: np.ndarray) -> np.ndarray:
        return w / w.sum()

    # Searches follow drugs, weapons, night-time violence and robbery, more so in deprived areas.
    weights_stops = (
        norm(weights[_T["Drugs"]])
        + 0.6 * norm(weights[_T["Possession of weapons"]])
        + 0.4 * norm(weights_nte)
        + 0.3 * norm(weights[_ROBBERY])
    ) * (0.5 + features["deprivation"])
    return weights, weights_nte, weights_stops


def _force_name(config: CityConfig, k: int) -> str:
    if k == 0:
        return config.force_name
    if config.force_name.endswith(" Police"):
        return f"{config.force_name.removesuffix(' Police')} {k + 1} Police"
    return f"{config.force_name} {k + 1}"


# ---------------------------------------------------------------------------------------------------------
# Events, month by month
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Month:
    index: int
    year: int
    month: int
    label: str  # YYYY-MM
    start_min: int  # local minutes since epoch
    hours: int
    how: np.ndarray  # hour-of-week of each local hour
    valid: np.ndarray  # False for the non-existent spring-forward hour

    @classmethod
    def make(cls, index: int, year: int, month: int) -> _Month:
        start = _minutes(year, month, 1)
        days = calendar.monthrange(year, month)[1]
        hour_min = start + 60 * np.arange(days * 24, dtype=np.int64)
        day = hour_min // 1440
        how = ((day + 3) % 7) * 24 + (hour_min // 60) % 24  # 1970-01-01 was a Thursday
        return cls(
            index, year, month, f"{year:04d}-{month:02d}", start, days * 24, how, ~_in_dst_gap(hour_min)
        )


@dataclass
class _State:
    """What one force carries from month to month."""

    burglary_t: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    burglary_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    outcomes: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)
    year_seq: dict[int, int] = field(default_factory=dict)


def _sample_times(rng: np.random.Generator, month: _Month, how_weights: np.ndarray, n: int) -> np.ndarray:
    """Local minutes for n events with the given hour-of-week profile (never in the spring-forward gap)."""
    w = how_weights[month.how] * month.valid
    hour = _sample_cdf(np.cumsum(w), rng.random(n))
    return month.start_min + 60 * hour + rng.integers(0, 60, n)


def _month_cdfs(city: _City, month: _Month, n_months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative snap-point weights for the month, after the slow drift of each point's attractiveness."""
    trend = np.exp(city.drift * (month.index / max(1, n_months - 1) - 0.5))
    general = np.multiply(city.weights, trend[None, :])
    np.cumsum(general, axis=1, out=general)
    return general, np.cumsum(city.weights_nte * trend), np.cumsum(city.weights_stops * trend)


def _jitter(rng: np.random.Generator, city: _City, snap: np.ndarray) -> np.ndarray:
    """True points near their snap point, never nearer another one (police.uk snaps to the nearest)."""
    r = city.snap_jitter[snap] * np.sqrt(rng.random(len(snap)))
    a = rng.uniform(0, 2 * math.pi, len(snap))
    return city.snap_xy[snap] + np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def _events(
    config: CityConfig,
    city: _City,
    month: _Month,
    counts: np.ndarray,
    state: _State,
    cdfs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """One force-month of events: type, local time, snap point, true point, offence, flags."""
    rng = _rng(config.seed, city.index, 2, month.index)
    cdf_gen, cdf_nte, _ = cdfs
    n_children = int(rng.binomial(counts[_BURGLARY], config.near_repeat_share)) if counts[_BURGLARY] else 0
    types, times, snaps, nte_flags = [], [], [], []
    for t in range(len(TYPES)):
        n = int(counts[t]) - (n_children if t == _BURGLARY else 0)
        if n <= 0:
            continue
        tm = _sample_times(rng, month, _HOW_PROFILE[t], n)
        how = month.how[(tm - month.start_min) // 60]
        at_nte = rng.random(n) < _HOW_NTE[t][how]
        snap = np.empty(n, dtype=np.int64)
        snap[at_nte] = _sample_many(rng, cdf_nte, int(at_nte.sum()))
        snap[~at_nte] = _sample_many(rng, cdf_gen[t], int(n - at_nte.sum()))
        types.append(np.full(n, t, dtype=np.int64))
        times.append(tm)
        snaps.append(snap)
        nte_flags.append(at_nte)
    etype = np.concatenate(types) if types else np.zeros(0, dtype=np.int64)
    etime = np.concatenate(times) if times else np.zeros(0, dtype=np.int64)
    esnap = np.concatenate(snaps) if snaps else np.zeros(0, dtype=np.int64)
    enear = np.concatenate(nte_flags) if nte_flags else np.zeros(0, dtype=bool)
    exy = _jitter(rng, city, esnap)

    # Near repeats: a burglary raises the risk nearby (exponential distance, ~120 m, cut at 400 m) for
    # a few weeks (exponential lag, mean 9 days, cut at 6 weeks). Parents are earlier burglaries.
    if n_children:
        is_b = etype == _BURGLARY
        pool_t = np.concatenate([state.burglary_t, etime[is_b]])
        pool_xy = np.vstack([state.burglary_xy, exy[is_b]])
        child_t = np.zeros(0, dtype=np.int64)
        child_xy = np.zeros((0, 2))
        if len(pool_t):
            m = 8 * n_children
            parent = rng.integers(0, len(pool_t), m)
            lag = -9.0 * np.log1p(-rng.random(m) * (1 - math.exp(-_MAX_LAG_DAYS / 9.0)))
            ct = pool_t[parent] + np.round(lag * 1440).astype(np.int64)
            ok = (ct >= month.start_min) & (ct < month.start_min + 60 * month.hours) & (ct > pool_t[parent])
            ok &= ~_in_dst_gap(ct)
            sel = np.flatnonzero(ok)[:n_children]
            dist = -120.0 * np.log1p(-rng.random(len(sel)) * (1 - math.exp(-400.0 / 120.0)))
            ang = rng.uniform(0, 2 * math.pi, len(sel))
            child_t = ct[sel]
            child_xy = pool_xy[parent[sel]] + np.stack([dist * np.cos(ang), dist * np.sin(ang)], axis=1)
        short = n_children - len(child_t)
        if short:  # no parents yet (the first month): plain burglaries instead
            extra_t = _sample_times(rng, month, _HOW_PROFILE[_BURGLARY], short)
            extra_snap = _sample_cdf(cdf_gen[_BURGLARY], rng.random(short))
            child_t = np.concatenate([child_t, extra_t])
            child_xy = np.vstack([child_xy, city.snap_xy[extra_snap]])
        child_snap = city.snap_tree.query(child_xy)[1]
        etype = np.concatenate([etype, np.full(n_children, _BURGLARY, dtype=np.int64)])
        etime = np.concatenate([etime, child_t])
        esnap = np.concatenate([esnap, child_snap])
        enear = np.concatenate([enear, np.zeros(n_children, dtype=bool)])
        exy = np.vstack([exy, _jitter(rng, city, child_snap)])

    n = len(etype)
    # Times recorded loosely: many to 5 minutes, some property crime at midnight ("time unknown").
    round5 = rng.random(n) < 0.4
    etime = np.where(round5, etime - etime % 5, etime)
    unknown = np.isin(
        etype,
        [
            _BURGLARY,
            _T["Vehicle crime"],
            _T["Criminal damage and arson"],
            _T["Bicycle theft"],
            _T["Other theft"],
        ],
    ) & (rng.random(n) < 0.02)
    etime = np.where(unknown, etime - etime % 1440, etime)

    noloc = rng.random(n) < config.no_location_share * _NO_LOCATION_WEIGHT[etype]

    # Offence wording; in the night-time economy assaults outweigh harassment and domestic offences.
    offence = np.zeros(n, dtype=np.int64)
    for t in range(len(TYPES)):
        if t == _ASB:
            continue
        names = list(_OFFENCE_MIX[TYPES[t]])
        codes = np.array([_OFFENCE_LIST.index(w) for w in names])
        base = np.array([_OFFENCE_MIX[TYPES[t]][w] for w in names])
        at_night_venue = base * np.array([_NTE_OFFENCE_SHIFT.get(w, 1.0) for w in names])
        for flag, p in ((False, base), (True, at_night_venue)):
            sel = np.flatnonzero((etype == t) & (enear == flag))
            offence[sel] = codes[_choice(rng, p, len(sel))]

    # Exact repeats of another row (a handful, as in the published files).
    src = np.arange(n)
    n_dup = int(rng.binomial(n, config.duplicate_share)) if n > 1 else 0
    if n_dup:
        perm = rng.permutation(n)
        dup, source = perm[:n_dup], perm[n_dup : 2 * n_dup]
        if len(source) == n_dup:
            src[dup] = source
    is_dup = src != np.arange(n)

    # Keep recent burglaries as parents for next month's near repeats.
    keep_b = (etype == _BURGLARY) & ~noloc & ~is_dup
    cutoff = month.start_min + 60 * month.hours - int(_MAX_LAG_DAYS * 1440)
    old = state.burglary_t >= cutoff
    state.burglary_t = np.concatenate([state.burglary_t[old], etime[keep_b]])
    state.burglary_xy = np.vstack([state.burglary_xy[old], exy[keep_b]])

    return {
        "type": etype,
        "time": etime,
        "snap": esnap,
        "xy": exy,
        "noloc": noloc,
        "nte": enear,
        "offence": offence,
        "src": src,
        "dup": is_dup,
    }


def _outcomes(
    config: CityConfig, city: _City, month: _Month, ev: dict[str, np.ndarray], state: _State, n_months: int
) -> np.ndarray:
    """Each crime's final outcome and when it is reached; queue outcomes-file rows; return street labels."""
    rng = _rng(config.seed, city.index, 3, month.index)
    n = len(ev["type"])
    street = np.full(n, -1, dtype=np.int64)
    crime = np.flatnonzero((ev["type"] != _ASB) & ~ev["dup"])
    final = np.zeros(len(crime), dtype=np.int64)
    for t in range(len(TYPES)):
        sel = np.flatnonzero(ev["type"][crime] == t)
        if t == _ASB or len(sel) == 0:
            continue
        p = _mix_arrays(_OUTCOME_MIX[TYPES[t]], OUTCOME_LABELS[:_N_FINAL])
        final[sel] = _choice(rng, p, len(sel))
    mean1 = np.array([_LAG_MONTHS.get(lab, 2.0) for lab in OUTCOME_LABELS])[final]
    first = month.index + rng.geometric(1 / (1 + mean1)) - 1
    court = first + rng.geometric(1 / 5.0, len(crime))  # charge to court result: about five months
    last = n_months - 1
    is_court = _IS_COURT[final]
    status = final == _L[STATUS_UNAVAILABLE]
    label = np.where(status, final, np.where(first > last, _L[UNDER_INVESTIGATION], final))
    label = np.where(is_court & (first <= last) & (court > last), _L[AWAITING_COURT], label)
    street[crime] = label

    # Rows for the outcomes files: a charge then a court result, or one decision.
    row1 = ~status & (first <= last)
    row2 = is_court & (court <= last)
    rows = {
        "out_month": np.concatenate([first[row1], court[row2]]),
        "event": np.concatenate([crime[row1], crime[row2]]),
        "label": np.concatenate([np.where(is_court[row1], _L[SUSPECT_CHARGED], final[row1]), final[row2]]),
    }
    snap = np.where(ev["noloc"], -1, ev["snap"])
    rows["snap"] = snap[rows["event"]]
    rows["crime_month"] = np.full(len(rows["event"]), month.index, dtype=np.int64)
    order = np.argsort(rows["out_month"], kind="stable")
    rows = {k: v[order] for k, v in rows.items()}
    bounds = np.searchsorted(rows["out_month"], np.arange(month.index, n_months + 1))
    for i, m in enumerate(range(month.index, n_months)):
        lo, hi = bounds[i], bounds[i + 1]
        if hi > lo:
            state.outcomes.setdefault(m, []).append({k: v[lo:hi] for k, v in rows.items()})
    return street


def _street_table(
    config: CityConfig, city: _City, month: _Month, ev: dict[str, np.ndarray], street_label: np.ndarray
) -> pa.Table:
    src = ev["src"]
    noloc = ev["noloc"][src]
    snap = ev["snap"][src]
    lsoa = city.snap_lsoa[snap]
    order = np.argsort(np.where(noloc, len(city.lsoa_code), city.lsoa_rank[lsoa]), kind="stable")
    rows = src[order]
    noloc, snap, lsoa = noloc[order], snap[order], lsoa[order]
    etype = ev["type"][rows]
    n = len(rows)
    crime_valid = etype != _ASB
    ids = _crime_ids(config.seed, city.index, np.full(n, month.index), rows, crime_valid)
    labels = street_label[rows]
    return pa.table(
        [
            ids,
            _constant(month.label, n),
            _constant(city.force_name, n),
            _constant(city.force_name, n),
            _dict_column(snap, city.lon_text, noloc),
            _dict_column(snap, city.lat_text, noloc),
            _dict_column(np.where(noloc, len(city.snap_location), snap), city.location_text),
            _dict_column(lsoa, pa.array(city.lsoa_code), noloc),
            _dict_column(lsoa, pa.array(city.lsoa_name), noloc),
            _dict_column(etype, pa.array(TYPES)),
            _dict_column(np.maximum(labels, 0), pa.array(OUTCOME_LABELS), labels < 0),
            pa.nulls(n, pa.string()),
        ],
        names=list(STREET_COLUMNS),
    )


def _outcomes_table(config: CityConfig, city: _City, month: _Month, state: _State) -> pa.Table:
    chunks = state.outcomes.pop(month.index, [])
    if chunks:
        rows = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    else:
        rows = {k: np.zeros(0, dtype=np.int64) for k in ("event", "label", "snap", "crime_month")}
    n = len(rows["event"])
    noloc = rows["snap"] < 0
    snap = np.maximum(rows["snap"], 0)
    lsoa = city.snap_lsoa[snap] if n else np.zeros(0, dtype=np.int64)
    order = np.lexsort(
        (rows["event"], rows["crime_month"], np.where(noloc, len(city.lsoa_code), city.lsoa_rank[lsoa]))
    )
    ids = _crime_ids(
        config.seed, city.index, rows["crime_month"][order], rows["event"][order], np.ones(n, bool)
    )
    noloc, snap, lsoa = noloc[order], snap[order], lsoa[order]
    return pa.table(
        [
            ids,
            _constant(month.label, n),
            _constant(city.force_name, n),
            _constant(city.force_name, n),
            _dict_column(snap, city.lon_text, noloc),
            _dict_column(snap, city.lat_text, noloc),
            _dict_column(np.where(noloc, len(city.snap_location), snap), city.outcome_location_text),
            _dict_column(lsoa, pa.array(city.lsoa_code), noloc),
            _dict_column(lsoa, pa.array(city.lsoa_name), noloc),
            _dict_column(rows["label"][order], pa.array(OUTCOME_LABELS)),
        ],
        names=list(OUTCOME_COLUMNS),
    )


def _force_records_table(city: _City, month: _Month, ev: dict[str, np.ndarray], state: _State) -> pa.Table:
    keep = np.flatnonzero((ev["type"] != _ASB) & ~ev["dup"])
    keep = keep[np.argsort(ev["time"][keep], kind="stable")]
    n = len(keep)
    t = ev["time"][keep]
    noloc = ev["noloc"][keep]
    seq = state.year_seq.get(month.year, 0) + np.arange(1, n + 1)
    state.year_seq[month.year] = state.year_seq.get(month.year, 0) + n
    prefix = "".join(w[0] for w in city.force_id.split("-") if w).upper()
    ref = pc.binary_join_element_wise(
        pa.array(np.full(n, prefix)),
        pc.utf8_lpad(pa.array(seq).cast(pa.string()), 6, "0"),
        pa.array(np.full(n, f"{month.year % 100:02d}")),
        "/",
    )
    occurred = _minute_strings(t, " ", "")
    xy = np.round(ev["xy"][keep]).astype(np.int64)
    beat = city.lsoa_beat[city.snap_lsoa[ev["snap"][keep]]]
    return pa.table(
        [
            ref,
            occurred,
            _dict_column(ev["offence"][keep], pa.array(_OFFENCE_LIST)),
            pa.array(xy[:, 0], mask=noloc),
            pa.array(xy[:, 1], mask=noloc),
            _dict_column(beat, pa.array(city.beats), noloc),
        ],
        names=list(FORCE_RECORD_COLUMNS),
    )


def _stop_search_table(
    config: CityConfig,
    city: _City,
    month: _Month,
    ev: dict[str, np.ndarray],
    cdfs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> pa.Table:
    rng = _rng(config.seed, city.index, 4, month.index)
    cdf_stops = cdfs[2]
    n_base = int(rng.poisson(config.stop_search_per_crime * len(ev["type"])))
    times = _sample_times(rng, month, _HOW_STOPS, n_base)
    snap = _sample_many(rng, cdf_stops, n_base)
    legislation = _choice(rng, np.array([0.575, 0.417, 0.008]), n_base)

    # Section 60: after serious violence at night an authorisation (15 to 39 hours) brings a burst of
    # suspicionless searches within about a kilometre.
    target = 0.015 * n_base
    serious = np.flatnonzero(
        np.isin(ev["offence"], [_OFFENCE_LIST.index(w) for w in _SERIOUS_VIOLENCE])
        & (ev["type"] == _VIOLENCE)
        & ev["nte"]
        & ~ev["noloc"]
        & ~ev["dup"]
        | ((ev["type"] == _ROBBERY) & ev["nte"] & ~ev["noloc"] & ~ev["dup"])
    )
    n_trig = min(len(serious), int(rng.poisson(max(target / 20.0, 0.3))))
    op_flag = np.zeros(n_base, dtype=bool)
    op_name = np.zeros(n_base, dtype=np.int64)
    if n_trig:
        triggers = rng.choice(serious, size=n_trig, replace=False)
        burst_t, burst_snap, burst_op = [], [], []
        for trig in triggers.tolist():
            size = 1 + int(rng.poisson(max(target / n_trig, 5.0)))
            start = ev["time"][trig] + int(rng.integers(60, 180))
            length = int(rng.integers(15, 40)) * 60
            # Most searches come early in the authorisation, while officers are deployed to the area.
            bt = start + np.minimum(rng.exponential(length / 5, size).astype(np.int64), length - 1)
            near = np.asarray(city.snap_tree.query_ball_point(ev["xy"][trig], 1500.0), dtype=np.int64)
            near = near if len(near) else city.snap_tree.query(ev["xy"][trig], k=1)[1].reshape(1)
            d = np.hypot(*(city.snap_xy[near] - ev["xy"][trig]).T)
            bs = near[_sample_cdf(np.cumsum(city.weights_stops[near] * np.exp(-d / 400.0)), rng.random(size))]
            burst_t.append(bt)
            burst_snap.append(bs)
            burst_op.append(np.full(size, int(rng.integers(len(_OPERATIONS)))))
        bt = np.concatenate(burst_t)
        inside = (bt < month.start_min + 60 * month.hours) & ~_in_dst_gap(bt)
        times = np.concatenate([times, bt[inside]])
        snap = np.concatenate([snap, np.concatenate(burst_snap)[inside]])
        legislation = np.concatenate([legislation, np.full(int(inside.sum()), 3)])
        op_flag = np.concatenate([op_flag, np.ones(int(inside.sum()), dtype=bool)])
        op_name = np.concatenate([op_name, np.concatenate(burst_op)[inside]])
    n = len(times)
    order = np.argsort(times, kind="stable")
    times, snap, legislation, op_flag, op_name = (
        a[order] for a in (times, snap, legislation, op_flag, op_name)
    )

    stype = _choice(rng, np.array([0.80, 0.19, 0.01]), n)
    person = stype != 2
    objects = np.where(legislation == 0, 0, np.where(legislation == 2, 6, 7))
    pace = legislation == 1
    objects[pace] = np.array([_OBJECTS.index(o) for o in _PACE_OBJECTS])[
        _choice(rng, np.array(list(_PACE_OBJECTS.values())), int(pace.sum()))
    ]
    outcome = np.zeros(n, dtype=np.int64)
    for li, law in enumerate(_LEGISLATION):
        sel = np.flatnonzero(legislation == li)
        outcome[sel] = _choice(rng, np.array(_SEARCH_OUTCOME_P[law]), len(sel))
    recorded = rng.random(n) >= 0.25  # some forces leave the two flags blank
    found = np.where(outcome == 0, rng.random(n) < 0.03, rng.random(n) < 0.6)
    found &= ~((legislation == 3) & (rng.random(n) > 0.3))  # weapons turn up in ~1% of Section 60 searches
    removal = rng.random(n) < 0.015

    # Who is searched: the local population mix weighted by the per-group search rate.
    mix = city.lsoa_ethnicity[city.snap_lsoa[snap]].astype(float) * np.asarray(config.search_rate_by_group)
    cum = np.cumsum(mix, axis=1)
    group = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    self_defined = np.zeros(n, dtype=np.int64)
    offset = 0
    for g, name in enumerate(ETHNIC_GROUPS):
        options = _SELF_ETHNICITY[name]
        sel = np.flatnonzero(group == g)
        self_defined[sel] = offset + _choice(rng, np.array(list(options.values())), len(sel))
        offset += len(options)
    self_defined[rng.random(n) < 0.30] = len(_SELF_LIST) - 1  # "Not stated"
    officer = (rng.random(n)[:, None] > np.cumsum(_OFFICER_GIVEN_GROUP[group], axis=1)).sum(axis=1)
    officer = np.minimum(officer, 3)
    gender = _choice(rng, np.array([0.90, 0.087, 0.002]), n)
    gender_blank = rng.random(n) < 0.012
    age = _choice(rng, np.array([0.0005, 0.16, 0.27, 0.20, 0.23]), n)
    age_blank = rng.random(n) < 0.14
    no_where = rng.random(n) < config.stop_search_no_location_share

    # Published files give the UTC instant with "+00:00" all year; "local" mode writes local time and
    # "+01:00" in summer time.
    bst = _is_bst(times)
    if config.stop_search_offsets == "utc":
        date = _minute_strings(times - 60 * bst, "T", ":00+00:00")
    else:
        date = _minute_strings(times, "T", ":00+00:00", bst)
    bools = pa.array(["False", "True"])
    return pa.table(
        [
            _dict_column(stype, pa.array(_SEARCH_TYPES)),
            date,
            _dict_column(op_flag.astype(np.int64), bools),
            _dict_column(op_name, pa.array([f"Operation {w}" for w in _OPERATIONS]), ~op_flag),
            _dict_column(snap, city.lat_text, no_where),
            _dict_column(snap, city.lon_text, no_where),
            _dict_column(gender, pa.array(_GENDERS), ~person | gender_blank),
            _dict_column(age, pa.array(_AGES), ~person | age_blank),
            _dict_column(self_defined, pa.array(_SELF_LIST), ~person | (rng.random(n) < 0.01)),
            _dict_column(officer, pa.array(_OFFICER_ETHNICITY), ~person | (rng.random(n) < 0.02)),
            _dict_column(legislation, pa.array(_LEGISLATION)),
            _dict_column(objects, pa.array(_OBJECTS)),
            _dict_column(outcome, pa.array(_SEARCH_OUTCOMES)),
            _dict_column(found.astype(np.int64), bools, ~recorded),
            _dict_column(removal.astype(np.int64), bools, ~recorded | ~person),
        ],
        names=list(STOP_SEARCH_COLUMNS),
    )


# ---------------------------------------------------------------------------------------------------------
# Static files
# ---------------------------------------------------------------------------------------------------------


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


def _write_static(
    out: Path,
    config: CityConfig,
    cities: list[_City],
    files: dict[str, list[Path]],
    file_rows: dict[Path, int],
) -> None:
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
                "latitude": _fixed6(lat),
                "longitude": _fixed6(lon),
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
            config=json.dumps(asdict(config), indent=2),
            dates="Date in UTC, as published"
            if config.stop_search_offsets == "utc"
            else "Date in local time",
        )
    )
    files["readme"].append(path)


def _static_csv(
    path: Path, table: pa.Table, kind: str, files: dict[str, list[Path]], file_rows: dict[Path, int]
) -> None:
    file_rows[path] = _write_csv(path, tuple(table.column_names), table)
    files[kind].append(path)


def _mapping_toml(city: _City) -> str:
    lines = [
        "# Force records of a synthetic city: column names and offence wording -> police.uk crime type.",
        "[source]",
        f'force = "{city.force_id}"',
        'crs = "EPSG:27700"',
        'timezone = "Europe/London"',
        "",
        "[columns]",
        'id = "incident_ref"',
        'occurred_at = "occurred"',
        'occurred_format = "%Y-%m-%d %H:%M"',
        'crime_type = "offence"',
        'x = "easting"',
        'y = "northing"',
        "",
        "[crime_types]",
    ]
    lines += [f'"{wording}" = "{crime_type}"' for wording, crime_type in OFFENCES.items()]
    return "\n".join(lines) + "\n"


_README = """\
SYNTHETIC DATA - NOT REAL CRIME

This folder was made by safestreets.sources.synthetic. Every place, street, area, population, crime,
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


# ---------------------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------------------


def _month_list(config: CityConfig) -> list[_Month]:
    year, month = int(config.start[:4]), int(config.start[5:7])
    out = []
    for i in range(config.months):
        y, m = year + (month - 1 + i) // 12, (month - 1 + i) % 12 + 1
        out.append(_Month.make(i, y, m))
    return out


def _populations(config: CityConfig) -> np.ndarray:
    if config.population is not None:
        total = float(config.population)
    else:
        total = config.n_events * 12 / config.months / config.crimes_per_1000 * 1000
    if config.n_forces == 1:
        weights = np.ones(1)
    else:
        weights = np.sort(np.exp(0.6 * _rng(config.seed, 10_000).standard_normal(config.n_forces)))[::-1]
    return np.maximum(_MIN_POPULATION, np.round(total * weights / weights.sum())).astype(np.int64)


def _event_counts(config: CityConfig, populations: np.ndarray, months: list[_Month]) -> np.ndarray:
    """(forces, months, types) street rows: one multinomial so the total is exactly n_events."""
    shares = np.array([TYPE_SHARES[t] for t in TYPES])
    season = np.array(
        [
            [1 + _SEASON[t][0] * math.cos(2 * math.pi * (m.month - _SEASON[t][1]) / 12) for t in TYPES]
            for m in months
        ]
    )
    days = np.array([m.hours / 24 for m in months])
    p = populations[:, None, None] * (season * shares[None, :] * days[:, None])[None, :, :]
    counts = _rng(config.seed, 10_001).multinomial(config.n_events, (p / p.sum()).ravel())
    return counts.reshape(p.shape)


def generate_city(
    out_dir: Path | str, config: CityConfig = CityConfig(), *, progress: Progress | None = None
) -> CityManifest:
    """Write a synthetic city (or several) under ``out_dir``; see the module docstring for the layout.

    ``progress(stage, done, total)`` is called after each city's geography ("geography") and after each
    force-month ("months").
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    months = _month_list(config)
    populations = _populations(config)
    centres = _force_layout(config, populations)
    counts = _event_counts(config, populations, months)
    names = _Names(_rng(config.seed, 10_002))
    counters = {"borough": 0, "lsoa": 0}
    kinds = (
        "street",
        "outcomes",
        "stop-and-search",
        "force-records",
        "force-mapping",
        "lsoa-boundaries",
        "borough-boundaries",
        "borough-to-bcu",
        "population",
        "stations",
        "night-time-economy",
        "open-spaces",
        "readme",
    )
    files: dict[str, list[Path]] = {k: [] for k in kinds}
    file_rows: dict[Path, int] = {}

    cities = []
    for k in range(config.n_forces):
        cities.append(_build_city(config, k, centres[k], int(populations[k]), names, counters))
        if progress:
            progress("geography", k + 1, config.n_forces)
    _write_static(out, config, cities, files, file_rows)

    # Files are written on a second thread while the next month is generated (pyarrow releases the
    # GIL). One writer keeps every file's bytes in order; waiting on the previous month's writes before
    # queueing more keeps memory to about two months of rows.
    total = config.n_forces * len(months)
    done = 0
    with ThreadPoolExecutor(max_workers=1) as writer:
        for city in cities:
            state = _State()
            records_path = out / "force_records" / f"{city.force_id}-records.csv"
            records_path.parent.mkdir(parents=True, exist_ok=True)
            mapping_path = out / "force_records" / f"{city.force_id}-mapping.toml"
            mapping_path.write_text(_mapping_toml(city))
            files["force-mapping"].append(mapping_path)
            file_rows[records_path] = 0
            pending: list[Future[Any]] = []
            with pa.OSFile(str(records_path), "wb") as records:
                records.write((",".join(FORCE_RECORD_COLUMNS) + "\n").encode())
                for month in months:
                    cdfs = _month_cdfs(city, month, len(months))
                    ev = _events(config, city, month, counts[city.index, month.index], state, cdfs)
                    street_label = _outcomes(config, city, month, ev, state, len(months))
                    stem = out / "police_uk" / month.label / f"{month.label}-{city.force_id}"
                    jobs = [
                        ("street", _street_table(config, city, month, ev, street_label), STREET_COLUMNS),
                        ("outcomes", _outcomes_table(config, city, month, state), OUTCOME_COLUMNS),
                        (
                            "stop-and-search",
                            _stop_search_table(config, city, month, ev, cdfs),
                            STOP_SEARCH_COLUMNS,
                        ),
                    ]
                    table = _force_records_table(city, month, ev, state)
                    for future in pending:
                        future.result()
                    pending = []
                    for kind, data, header in jobs:
                        path = stem.with_name(f"{stem.name}-{kind}.csv")
                        file_rows[path] = data.num_rows
                        files[kind].append(path)
                        pending.append(writer.submit(_write_csv, path, header, data))
                    pending.append(writer.submit(_write_rows, records, table))
                    file_rows[records_path] += table.num_rows
                    done += 1
                    if progress:
                        progress("months", done, total)
                for future in pending:
                    future.result()
            files["force-records"].append(records_path)

    rows = {
        kind: sum(file_rows.get(p, 0) for p in paths) for kind, paths in files.items() if kind in _COUNTED
    }
    return CityManifest(
        out_dir=out,
        config=config,
        forces=tuple(c.force_id for c in cities),
        force_names=tuple(c.force_name for c in cities),
        months=tuple(m.label for m in months),
        files=MappingProxyType({k: tuple(v) for k, v in files.items()}),
        rows=MappingProxyType(rows),
        file_rows=MappingProxyType(file_rows),
    )


_COUNTED = frozenset(
    {
        "street",
        "outcomes",
        "stop-and-search",
        "force-records",
        "lsoa-boundaries",
        "borough-boundaries",
        "borough-to-bcu",
        "population",
        "stations",
        "night-time-economy",
        "open-spaces",
    }
)
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
