"""The police.uk vocabulary: crime types, forces, and outcome wording old and new.

Outcome labels changed over the years (the April/May 2014 outcome standard renamed several police.uk
categories; stop-and-search outcomes were reworded in 2018). Everything is stored in today's wording,
with the published wording kept beside it where the table has room.
"""

from __future__ import annotations

import re

# The 14 police.uk street-crime types, with the API category slug of each.
CRIME_TYPES: dict[str, str] = {
    "Anti-social behaviour": "anti-social-behaviour",
    "Bicycle theft": "bicycle-theft",
    "Burglary": "burglary",
    "Criminal damage and arson": "criminal-damage-arson",
    "Drugs": "drugs",
    "Other theft": "other-theft",
    "Possession of weapons": "possession-of-weapons",
    "Public order": "public-order",
    "Robbery": "robbery",
    "Shoplifting": "shoplifting",
    "Theft from the person": "theft-from-the-person",
    "Vehicle crime": "vehicle-crime",
    "Violence and sexual offences": "violent-crime",
    "Other crime": "other-crime",
}
SLUG_TO_TYPE: dict[str, str] = {slug: name for name, slug in CRIME_TYPES.items()}

# Names used before the 2013 reclassification. "Public disorder and weapons" (2011-09..2013-04) cannot
# be split into its two successors, so it is kept as a type of its own.
LEGACY_CRIME_TYPES: dict[str, str] = {
    "Violent crime": "Violence and sexual offences",
    "Public disorder and weapons": "Public disorder and weapons",
}
SLUG_TO_TYPE["public-disorder-weapons"] = "Public disorder and weapons"

# Crime found mostly through police activity: excluded from default forecast targets.
POLICE_FOUND_TYPES = frozenset({"Drugs", "Possession of weapons"})

_TYPE_LOOKUP = {k.lower(): v for k, v in {**{t: t for t in CRIME_TYPES}, **LEGACY_CRIME_TYPES}.items()}


def canonical_crime_type(name: str) -> str | None:
    """The current police.uk type for a published name or API slug, or None if unknown."""
    key = name.strip().lower()
    return _TYPE_LOOKUP.get(key) or SLUG_TO_TYPE.get(key)


def crime_type_lookup() -> dict[str, str]:
    """``canonical_crime_type`` as a table: every lower-case name or slug it knows."""
    return {**SLUG_TO_TYPE, **_TYPE_LOOKUP}


# Street and outcomes files: old label -> current label.
OUTCOME_RENAMES: dict[str, str] = {
    "No further action": "Investigation complete; no suspect identified",
    "Offender sentenced as part of another case": "Suspect charged as part of another case",
    "Offender given community penalty": "Offender given community sentence",
    "Offender imprisoned": "Offender sent to prison",
    "Suspect found not guilty": "Defendant found not guilty",
    "Awaiting court result": "Awaiting court outcome",
    "Offender given a penalty notice": "Offender given penalty notice",
    "Offender given suspended sentence": "Offender given suspended prison sentence",
    "Offender given a drugs possession warning": "Offender given a drugs possession warning",
    "Unable to proceed": "Court case unable to proceed",
}

# Stop-and-search outcomes: wording before 2018 -> wording since.
STOP_OUTCOME_RENAMES: dict[str, str] = {
    "Nothing found - no further action": "A no further action disposal",
    "Suspect arrested": "Arrest",
    "Offender given drugs possession warning": "Khat or Cannabis warning",
    "Offender cautioned": "Caution (simple or conditional)",
    "Suspect summonsed to court": "Summons / charged by post",
    "Offender given penalty notice": "Penalty Notice for Disorder",
    "Local resolution": "Community resolution",
}
NO_FURTHER_ACTION = "A no further action disposal"

# police.uk force ids and names (the API's /forces list).
FORCES: dict[str, str] = {
    "avon-and-somerset": "Avon and Somerset Constabulary",
    "bedfordshire": "Bedfordshire Police",
    "btp": "British Transport Police",
    "cambridgeshire": "Cambridgeshire Constabulary",
    "cheshire": "Cheshire Constabulary",
    "city-of-london": "City of London Police",
    "cleveland": "Cleveland Police",
    "cumbria": "Cumbria Constabulary",
    "derbyshire": "Derbyshire Constabulary",
    "devon-and-cornwall": "Devon & Cornwall Police",
    "dorset": "Dorset Police",
    "durham": "Durham Constabulary",
    "dyfed-powys": "Dyfed-Powys Police",
    "essex": "Essex Police",
    "gloucestershire": "Gloucestershire Constabulary",
    "greater-manchester": "Greater Manchester Police",
    "gwent": "Gwent Police",
    "hampshire": "Hampshire Constabulary",
    "hertfordshire": "Hertfordshire Constabulary",
    "humberside": "Humberside Police",
    "kent": "Kent Police",
    "lancashire": "Lancashire Constabulary",
    "leicestershire": "Leicestershire Police",
    "lincolnshire": "Lincolnshire Police",
    "merseyside": "Merseyside Police",
    "metropolitan": "Metropolitan Police Service",
    "norfolk": "Norfolk Constabulary",
    "north-wales": "North Wales Police",
    "north-yorkshire": "North Yorkshire Police",
    "northamptonshire": "Northamptonshire Police",
    "northern-ireland": "Police Service of Northern Ireland",
    "northumbria": "Northumbria Police",
    "nottinghamshire": "Nottinghamshire Police",
    "south-wales": "South Wales Police",
    "south-yorkshire": "South Yorkshire Police",
    "staffordshire": "Staffordshire Police",
    "suffolk": "Suffolk Constabulary",
    "surrey": "Surrey Police",
    "sussex": "Sussex Police",
    "thames-valley": "Thames Valley Police",
    "warwickshire": "Warwickshire Police",
    "west-mercia": "West Mercia Police",
    "west-midlands": "West Midlands Police",
    "west-yorkshire": "West Yorkshire Police",
    "wiltshire": "Wiltshire Police",
}
_FORCE_BY_NAME = {name.lower(): fid for fid, name in FORCES.items()}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")


def force_id(name_or_id: str) -> str:
    """The police.uk id for a force name or id; unknown forces (a synthetic city) get a slug."""
    text = name_or_id.strip()
    if text.lower() in FORCES:
        return text.lower()
    return _FORCE_BY_NAME.get(text.lower()) or slugify(text)


# --- Operations (issue 17): the fixed vocabulary of tactics an operation records ---------------------
# slug -> how people write it. Lookups accept either, any case, with spaces, hyphens or underscores.
TACTICS: dict[str, str] = {
    "hot-spot-patrols": "Hot spot patrols",
    "weapons-sweeps": "Weapons sweeps",
    "knife-arches": "Knife arches",
    "drug-dogs": "Drug dogs",
    "anpr": "ANPR",
    "community-events": "Community events",
    "stop-and-search": "Stop and search",
    "plan": "The patrol plan it followed",
}


def tactic_slug(text: str) -> str | None:
    """The slug of a tactic as typed ("Knife arches", "knife_arches", "knife-arches"), or None."""
    key = "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    if key in TACTICS:
        return key
    by_label = {"-".join(v.lower().split()): k for k, v in TACTICS.items()}
    return by_label.get(key)
