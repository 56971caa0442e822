"""A force's own crime records: the same crimes with local time, true point, offence wording and beat, and
the mapping file that tells ``safestreets.sources.force_records`` how to read them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safestreets.synthetic.city import City, ForceState
from safestreets.synthetic.clock import Month
from safestreets.synthetic.columns import dict_column, minute_strings
from safestreets.synthetic.tables import ASB, OFFENCE_LIST, OFFENCES

FORCE_RECORD_COLUMNS: tuple[str, ...] = ("incident_ref", "occurred", "offence", "easting", "northing", "beat")


def force_records_table(city: City, month: Month, ev: dict[str, np.ndarray], state: ForceState) -> pa.Table:
    """The month's force records in time order, numbered ``SC000123/23`` within each year (ASB excluded)."""
    keep = np.flatnonzero((ev["type"] != ASB) & ~ev["dup"])
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
    occurred = minute_strings(t, " ", "")
    xy = np.round(ev["xy"][keep]).astype(np.int64)
    beat = city.lsoa_beat[city.snap_lsoa[ev["snap"][keep]]]
    return pa.table(
        [
            ref,
            occurred,
            dict_column(ev["offence"][keep], pa.array(OFFENCE_LIST)),
            pa.array(xy[:, 0], mask=noloc),
            pa.array(xy[:, 1], mask=noloc),
            dict_column(beat, pa.array(city.beats), noloc),
        ],
        names=list(FORCE_RECORD_COLUMNS),
    )


def mapping_toml(city: City) -> str:
    """The ``<force>-mapping.toml`` that ``safestreets.sources.force_records`` reads the records with."""
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
