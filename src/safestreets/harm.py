"""Harm weights per crime type.

The default is an approximation of the Cambridge Crime Harm Index (Sherman, Neyroud & Neyroud 2016):
days of custody at the Sentencing Council starting point for a first offender. police.uk types are
coarse, so each weight is an average over the type's usual mix of offences (see docs/harm.md).
Anti-social behaviour is not a crime and weighs nothing.
"""

from __future__ import annotations

from pathlib import Path

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

# An ONS-Crime-Severity-Score-like scheme: ONS weighs an offence by its sentencing outcomes (custody rate x
# mean custodial days, plus non-custodial sentences converted to days), anchored at about 7,800 for
# homicide and 3 for cannabis possession (ONS 2016). These per-type values are approximate averages over
# each police.uk type's usual offence mix; docs/harm.md explains them. Override with a table for exact work.
ONS_LIKE: dict[str, float] = {
    "Anti-social behaviour": 0.0,
    "Bicycle theft": 15.0,
    "Burglary": 350.0,  # domestic about 440, non-domestic about 150
    "Criminal damage and arson": 15.0,
    "Drugs": 20.0,  # possession 3-5 dominates; trafficking several hundred
    "Other theft": 20.0,
    "Possession of weapons": 150.0,
    "Public order": 25.0,
    "Robbery": 500.0,
    "Shoplifting": 8.0,
    "Theft from the person": 60.0,
    "Vehicle crime": 30.0,
    "Violence and sexual offences": 120.0,  # common assault low, wounding and sexual offences high
    "Other crime": 50.0,
    "Public disorder and weapons": 60.0,
}

SCHEMES: dict[str, dict[str, float]] = {"cchi": CCHI, "ons": ONS_LIKE}
DEFAULT_SCHEME = "cchi"


def weights(scheme: str = DEFAULT_SCHEME) -> dict[str, float]:
    from safestreets.errors import unknown

    try:
        return SCHEMES[scheme]
    except KeyError:
        raise unknown("harm scheme", scheme, sorted(SCHEMES)) from None


def read_table(path: str | Path, base: str = DEFAULT_SCHEME) -> dict[str, float]:
    """Weights from a CSV with columns ``crime_type,weight`` laid over the ``base`` scheme.

    Types may be police.uk names or API slugs; a type the table leaves out keeps its ``base`` weight.
    """
    import csv

    from safestreets.errors import InputError
    from safestreets.vocab import canonical_crime_type

    path = Path(path)
    out = dict(weights(base))
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"crime_type", "weight"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(
                    str(path), f"missing column(s) {', '.join(sorted(missing))}; expected crime_type,weight"
                )
            for row_no, row in enumerate(reader, start=1):
                name = canonical_crime_type(row["crime_type"] or "")
                if name is None:
                    raise InputError(
                        str(path),
                        "unknown crime type",
                        row=row_no,
                        column="crime_type",
                        value=row["crime_type"],
                    )
                try:
                    weight = float(row["weight"])
                except (TypeError, ValueError):
                    raise InputError(
                        str(path), "weight is not a number", row=row_no, column="weight", value=row["weight"]
                    ) from None
                if not weight >= 0:
                    raise InputError(
                        str(path),
                        "weight must be zero or more",
                        row=row_no,
                        column="weight",
                        value=row["weight"],
                    )
                out[name] = weight
    except OSError as err:
        raise InputError(str(path), f"cannot read harm table: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not a UTF-8 text CSV: save the harm table as CSV (UTF-8)") from None
    except csv.Error as err:
        raise InputError(str(path), f"not a readable CSV: {err}") from None
    return out
