"""Outcomes in current police.uk wording: how each type's crimes end and how long that takes, the label the
street file shows, and the monthly outcomes file (a charge, then a court result, or one decision).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from safestreets.sources import policeuk
from safestreets.synthetic.city import City, ForceState
from safestreets.synthetic.clock import Month
from safestreets.synthetic.columns import constant_column, crime_ids, dict_column
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import choice, mix_arrays, random_stream
from safestreets.synthetic.tables import ASB, TYPES

# The published header, kept in one place (sources/policeuk.py).
OUTCOME_COLUMNS: tuple[str, ...] = tuple(policeuk.OUTCOME_COLUMNS)

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


def draw_outcomes(
    config: CityConfig, city: City, month: Month, ev: dict[str, np.ndarray], state: ForceState, n_months: int
) -> np.ndarray:
    """Each crime's final outcome and when it is reached; queue outcomes-file rows; return street labels."""
    rng = random_stream(config.seed, city.index, 3, month.index)
    n = len(ev["type"])
    street = np.full(n, -1, dtype=np.int64)
    crime = np.flatnonzero((ev["type"] != ASB) & ~ev["dup"])
    final = np.zeros(len(crime), dtype=np.int64)
    for t in range(len(TYPES)):
        sel = np.flatnonzero(ev["type"][crime] == t)
        if t == ASB or len(sel) == 0:
            continue
        p = mix_arrays(_OUTCOME_MIX[TYPES[t]], OUTCOME_LABELS[:_N_FINAL])
        final[sel] = choice(rng, p, len(sel))
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


def outcomes_table(config: CityConfig, city: City, month: Month, state: ForceState) -> pa.Table:
    """The month's outcomes file: the rows earlier months queued for it, with their crimes' IDs."""
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
    ids = crime_ids(
        config.seed, city.index, rows["crime_month"][order], rows["event"][order], np.ones(n, bool)
    )
    noloc, snap, lsoa = noloc[order], snap[order], lsoa[order]
    return pa.table(
        [
            ids,
            constant_column(month.label, n),
            constant_column(city.force_name, n),
            constant_column(city.force_name, n),
            dict_column(snap, city.lon_text, noloc),
            dict_column(snap, city.lat_text, noloc),
            dict_column(np.where(noloc, len(city.snap_location), snap), city.outcome_location_text),
            dict_column(lsoa, pa.array(city.lsoa_code), noloc),
            dict_column(lsoa, pa.array(city.lsoa_name), noloc),
            dict_column(rows["label"][order], pa.array(OUTCOME_LABELS)),
        ],
        names=list(OUTCOME_COLUMNS),
    )
