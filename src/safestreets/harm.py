"""Harm weights per crime type.

The default is an approximation of the Cambridge Crime Harm Index (Sherman, Neyroud & Neyroud 2016):
days of custody at the Sentencing Council starting point for a first offender. police.uk types are
coarse, so each weight is an average over the type's usual mix of offences (see docs/harm.md).
Anti-social behaviour is not a crime and weighs nothing.
"""

from __future__ import annotations

CCHI: dict[str, float] = {
    "Anti-social behaviour": 0.0,
    "Bicycle theft": 2.0,
    "Burglary": 225.0,  # residential 273.5 days, non-residential much lower; mix ~80/20
    "Criminal damage and arson": 11.0,  # damage 2 days, arson 185; ~5% arson
    "Drugs": 3.5,  # possession 3, trafficking 5; mostly possession
    "Other theft": 2.0,
    "Possession of weapons": 273.75,
    "Public order": 7.5,
    "Robbery": 365.0,
    "Shoplifting": 1.0,
    "Theft from the person": 2.0,
    "Vehicle crime": 2.0,
    "Violence and sexual offences": 200.0,  # 160-235 depending on force mix
    "Other crime": 10.0,
    "Public disorder and weapons": 50.0,  # pre-2013 type: public order and weapons possession together
}

SCHEMES: dict[str, dict[str, float]] = {"cchi": CCHI}
DEFAULT_SCHEME = "cchi"


def weights(scheme: str = DEFAULT_SCHEME) -> dict[str, float]:
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown harm scheme {scheme!r}: choose one of {sorted(SCHEMES)}") from None
