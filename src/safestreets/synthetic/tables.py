"""Crime types and offence wording: shares, cycles and the pull of the night-time economy.

The 14 police.uk types in national proportions with their seasonal and daily cycles, the force wording of
each type's offences (which the force records use), and which rows police.uk withholds a location for.
"""

from __future__ import annotations

import numpy as np

from safestreets.vocab import CRIME_TYPES

# Broad ethnic groups: the population file's columns, and whom stop and search draws from.
ETHNIC_GROUPS: tuple[str, ...] = ("white", "black", "asian", "mixed", "other")

# Arrays indexed by crime type follow this (police.uk) order.
TYPES: tuple[str, ...] = tuple(CRIME_TYPES)
TYPE_INDEX = {name: i for i, name in enumerate(TYPES)}
ASB, BURGLARY, VIOLENCE, ROBBERY = (
    TYPE_INDEX["Anti-social behaviour"],
    TYPE_INDEX["Burglary"],
    TYPE_INDEX["Violence and sexual offences"],
    TYPE_INDEX["Robbery"],
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
SEASON: dict[str, tuple[float, int]] = {
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
DAILY: dict[str, tuple[float, list[tuple[float, float, float]], tuple[float, ...], float]] = {
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
NTE_AFFINITY: dict[str, float] = {
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

# Force offence wording (force records) -> police.uk type, with each wording's share within its type.
OFFENCE_MIX: dict[str, dict[str, float]] = {
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
OFFENCES: dict[str, str] = {w: t for t, mix in OFFENCE_MIX.items() for w in mix}
OFFENCE_LIST: tuple[str, ...] = tuple(OFFENCES)
SERIOUS_VIOLENCE = frozenset({"ASSAULT - GBH", "WOUNDING WITH INTENT", "HOMICIDE - MURDER"})
# How the wording shifts for violence drawn to bars, clubs and stations at night.
NTE_OFFENCE_SHIFT = {
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

# Relative chance that a row has no location: mostly violence and sexual offences (withheld to protect
# victims) and other crime; scaled so the national mix gives ``no_location_share``.
NO_LOCATION_WEIGHT = np.array(
    [2.5 if t == "Violence and sexual offences" else 3.0 if t == "Other crime" else 0.4 for t in TYPES]
)
NO_LOCATION_WEIGHT /= (NO_LOCATION_WEIGHT * np.array([TYPE_SHARES[t] for t in TYPES]) / 100).sum()
