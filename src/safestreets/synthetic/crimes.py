"""Crime, one force-month at a time: type, local time, snap point, true point, offence wording, near-repeat
burglary and exact duplicates; and the street-level file those events make.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from safestreets.sources import policeuk
from safestreets.synthetic.city import City, ForceState
from safestreets.synthetic.clock import HOW_NTE, HOW_PROFILE, Month, in_dst_gap, sample_times
from safestreets.synthetic.columns import constant_column, crime_ids, dict_column
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import choice, random_stream, sample_cdf, sample_many
from safestreets.synthetic.outcomes import OUTCOME_LABELS
from safestreets.synthetic.tables import (
    ASB,
    BURGLARY,
    NO_LOCATION_WEIGHT,
    NTE_OFFENCE_SHIFT,
    OFFENCE_LIST,
    OFFENCE_MIX,
    TYPE_INDEX,
    TYPES,
)

# The published header, kept in one place (sources/policeuk.py).
STREET_COLUMNS: tuple[str, ...] = tuple(policeuk.STREET_COLUMNS)

_MAX_LAG_DAYS = 42.0  # near-repeat window


def month_cdfs(city: City, month: Month, n_months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative snap-point weights for the month, after the slow drift of each point's attractiveness."""
    trend = np.exp(city.drift * (month.index / max(1, n_months - 1) - 0.5))
    general = np.multiply(city.weights, trend[None, :])
    np.cumsum(general, axis=1, out=general)
    return general, np.cumsum(city.weights_nte * trend), np.cumsum(city.weights_stops * trend)


def _jitter(rng: np.random.Generator, city: City, snap: np.ndarray) -> np.ndarray:
    """True points near their snap point, never nearer another one (police.uk snaps to the nearest)."""
    r = city.snap_jitter[snap] * np.sqrt(rng.random(len(snap)))
    a = rng.uniform(0, 2 * math.pi, len(snap))
    return city.snap_xy[snap] + np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def draw_events(
    config: CityConfig,
    city: City,
    month: Month,
    counts: np.ndarray,
    state: ForceState,
    cdfs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """One force-month of events: type, local time, snap point, true point, offence, flags."""
    rng = random_stream(config.seed, city.index, 2, month.index)
    cdf_gen, cdf_nte, _ = cdfs
    n_children = int(rng.binomial(counts[BURGLARY], config.near_repeat_share)) if counts[BURGLARY] else 0
    types, times, snaps, nte_flags = [], [], [], []
    for t in range(len(TYPES)):
        n = int(counts[t]) - (n_children if t == BURGLARY else 0)
        if n <= 0:
            continue
        tm = sample_times(rng, month, HOW_PROFILE[t], n)
        how = month.how[(tm - month.start_min) // 60]
        at_nte = rng.random(n) < HOW_NTE[t][how]
        snap = np.empty(n, dtype=np.int64)
        snap[at_nte] = sample_many(rng, cdf_nte, int(at_nte.sum()))
        snap[~at_nte] = sample_many(rng, cdf_gen[t], int(n - at_nte.sum()))
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
        is_b = etype == BURGLARY
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
            ok &= ~in_dst_gap(ct)
            sel = np.flatnonzero(ok)[:n_children]
            dist = -120.0 * np.log1p(-rng.random(len(sel)) * (1 - math.exp(-400.0 / 120.0)))
            ang = rng.uniform(0, 2 * math.pi, len(sel))
            child_t = ct[sel]
            child_xy = pool_xy[parent[sel]] + np.stack([dist * np.cos(ang), dist * np.sin(ang)], axis=1)
        short = n_children - len(child_t)
        if short:  # no parents yet (the first month): plain burglaries instead
            extra_t = sample_times(rng, month, HOW_PROFILE[BURGLARY], short)
            extra_snap = sample_cdf(cdf_gen[BURGLARY], rng.random(short))
            child_t = np.concatenate([child_t, extra_t])
            child_xy = np.vstack([child_xy, city.snap_xy[extra_snap]])
        child_snap = city.snap_tree.query(child_xy)[1]
        etype = np.concatenate([etype, np.full(n_children, BURGLARY, dtype=np.int64)])
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
            BURGLARY,
            TYPE_INDEX["Vehicle crime"],
            TYPE_INDEX["Criminal damage and arson"],
            TYPE_INDEX["Bicycle theft"],
            TYPE_INDEX["Other theft"],
        ],
    ) & (rng.random(n) < 0.02)
    etime = np.where(unknown, etime - etime % 1440, etime)

    noloc = rng.random(n) < config.no_location_share * NO_LOCATION_WEIGHT[etype]

    # Offence wording; in the night-time economy assaults outweigh harassment and domestic offences.
    offence = np.zeros(n, dtype=np.int64)
    for t in range(len(TYPES)):
        if t == ASB:
            continue
        names = list(OFFENCE_MIX[TYPES[t]])
        codes = np.array([OFFENCE_LIST.index(w) for w in names])
        base = np.array([OFFENCE_MIX[TYPES[t]][w] for w in names])
        at_night_venue = base * np.array([NTE_OFFENCE_SHIFT.get(w, 1.0) for w in names])
        for flag, p in ((False, base), (True, at_night_venue)):
            sel = np.flatnonzero((etype == t) & (enear == flag))
            offence[sel] = codes[choice(rng, p, len(sel))]

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
    keep_b = (etype == BURGLARY) & ~noloc & ~is_dup
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


def street_table(
    config: CityConfig, city: City, month: Month, ev: dict[str, np.ndarray], street_label: np.ndarray
) -> pa.Table:
    """The month's street-level file: one row per event, in LSOA-name order as police.uk writes them."""
    src = ev["src"]
    noloc = ev["noloc"][src]
    snap = ev["snap"][src]
    lsoa = city.snap_lsoa[snap]
    order = np.argsort(np.where(noloc, len(city.lsoa_code), city.lsoa_rank[lsoa]), kind="stable")
    rows = src[order]
    noloc, snap, lsoa = noloc[order], snap[order], lsoa[order]
    etype = ev["type"][rows]
    n = len(rows)
    crime_valid = etype != ASB
    ids = crime_ids(config.seed, city.index, np.full(n, month.index), rows, crime_valid)
    labels = street_label[rows]
    return pa.table(
        [
            ids,
            constant_column(month.label, n),
            constant_column(city.force_name, n),
            constant_column(city.force_name, n),
            dict_column(snap, city.lon_text, noloc),
            dict_column(snap, city.lat_text, noloc),
            dict_column(np.where(noloc, len(city.snap_location), snap), city.location_text),
            dict_column(lsoa, pa.array(city.lsoa_code), noloc),
            dict_column(lsoa, pa.array(city.lsoa_name), noloc),
            dict_column(etype, pa.array(TYPES)),
            dict_column(np.maximum(labels, 0), pa.array(OUTCOME_LABELS), labels < 0),
            pa.nulls(n, pa.string()),
        ],
        names=list(STREET_COLUMNS),
    )
