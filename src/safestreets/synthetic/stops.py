"""Stop and search in current police.uk wording (as in the Met files): searches where drugs, weapons and
night-time violence are, Section 60 bursts after serious violence, and who is searched.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from safestreets.sources import policeuk
from safestreets.synthetic.city import City
from safestreets.synthetic.clock import HOW_STOPS, Month, in_dst_gap, is_bst, sample_times
from safestreets.synthetic.columns import dict_column, minute_strings
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import choice, random_stream, sample_cdf, sample_many
from safestreets.synthetic.tables import ETHNIC_GROUPS, OFFENCE_LIST, ROBBERY, SERIOUS_VIOLENCE, VIOLENCE

# The published header, kept in one place (sources/policeuk.py).
STOP_SEARCH_COLUMNS: tuple[str, ...] = tuple(policeuk.STOP_COLUMNS)

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


def stop_search_table(
    config: CityConfig,
    city: City,
    month: Month,
    ev: dict[str, np.ndarray],
    cdfs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> pa.Table:
    """The month's stop-and-search file, in time order; Section 60 bursts follow this month's events."""
    rng = random_stream(config.seed, city.index, 4, month.index)
    cdf_stops = cdfs[2]
    n_base = int(rng.poisson(config.stop_search_per_crime * len(ev["type"])))
    times = sample_times(rng, month, HOW_STOPS, n_base)
    snap = sample_many(rng, cdf_stops, n_base)
    legislation = choice(rng, np.array([0.575, 0.417, 0.008]), n_base)

    # Section 60: after serious violence at night an authorisation (15 to 39 hours) brings a burst of
    # suspicionless searches within about a kilometre.
    target = 0.015 * n_base
    serious = np.flatnonzero(
        np.isin(ev["offence"], [OFFENCE_LIST.index(w) for w in SERIOUS_VIOLENCE])
        & (ev["type"] == VIOLENCE)
        & ev["nte"]
        & ~ev["noloc"]
        & ~ev["dup"]
        | ((ev["type"] == ROBBERY) & ev["nte"] & ~ev["noloc"] & ~ev["dup"])
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
            bs = near[sample_cdf(np.cumsum(city.weights_stops[near] * np.exp(-d / 400.0)), rng.random(size))]
            burst_t.append(bt)
            burst_snap.append(bs)
            burst_op.append(np.full(size, int(rng.integers(len(_OPERATIONS)))))
        bt = np.concatenate(burst_t)
        inside = (bt < month.start_min + 60 * month.hours) & ~in_dst_gap(bt)
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

    stype = choice(rng, np.array([0.80, 0.19, 0.01]), n)
    person = stype != 2
    objects = np.where(legislation == 0, 0, np.where(legislation == 2, 6, 7))
    pace = legislation == 1
    objects[pace] = np.array([_OBJECTS.index(o) for o in _PACE_OBJECTS])[
        choice(rng, np.array(list(_PACE_OBJECTS.values())), int(pace.sum()))
    ]
    outcome = np.zeros(n, dtype=np.int64)
    for li, law in enumerate(_LEGISLATION):
        sel = np.flatnonzero(legislation == li)
        outcome[sel] = choice(rng, np.array(_SEARCH_OUTCOME_P[law]), len(sel))
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
        self_defined[sel] = offset + choice(rng, np.array(list(options.values())), len(sel))
        offset += len(options)
    self_defined[rng.random(n) < 0.30] = len(_SELF_LIST) - 1  # "Not stated"
    officer = (rng.random(n)[:, None] > np.cumsum(_OFFICER_GIVEN_GROUP[group], axis=1)).sum(axis=1)
    officer = np.minimum(officer, 3)
    gender = choice(rng, np.array([0.90, 0.087, 0.002]), n)
    gender_blank = rng.random(n) < 0.012
    age = choice(rng, np.array([0.0005, 0.16, 0.27, 0.20, 0.23]), n)
    age_blank = rng.random(n) < 0.14
    no_where = rng.random(n) < config.stop_search_no_location_share

    # Published files give the UTC instant with "+00:00" all year; "local" mode writes local time and
    # "+01:00" in summer time.
    bst = is_bst(times)
    if config.stop_search_offsets == "utc":
        date = minute_strings(times - 60 * bst, "T", ":00+00:00")
    else:
        date = minute_strings(times, "T", ":00+00:00", bst)
    bools = pa.array(["False", "True"])
    return pa.table(
        [
            dict_column(stype, pa.array(_SEARCH_TYPES)),
            date,
            dict_column(op_flag.astype(np.int64), bools),
            dict_column(op_name, pa.array([f"Operation {w}" for w in _OPERATIONS]), ~op_flag),
            dict_column(snap, city.lat_text, no_where),
            dict_column(snap, city.lon_text, no_where),
            dict_column(gender, pa.array(_GENDERS), ~person | gender_blank),
            dict_column(age, pa.array(_AGES), ~person | age_blank),
            dict_column(self_defined, pa.array(_SELF_LIST), ~person | (rng.random(n) < 0.01)),
            dict_column(officer, pa.array(_OFFICER_ETHNICITY), ~person | (rng.random(n) < 0.02)),
            dict_column(legislation, pa.array(_LEGISLATION)),
            dict_column(objects, pa.array(_OBJECTS)),
            dict_column(outcome, pa.array(_SEARCH_OUTCOMES)),
            dict_column(found.astype(np.int64), bools, ~recorded),
            dict_column(removal.astype(np.int64), bools, ~recorded | ~person),
        ],
        names=list(STOP_SEARCH_COLUMNS),
    )
