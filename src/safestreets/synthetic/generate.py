""":func:`generate_city`: size the forces and their monthly counts, build each city, then draw and write
crime month by month, with the files written on a second thread.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from safestreets.synthetic.city import ForceState, build_city
from safestreets.synthetic.clock import Month, month_list
from safestreets.synthetic.config import CityConfig, CityManifest, Progress
from safestreets.synthetic.crimes import STREET_COLUMNS, draw_events, month_cdfs, street_table
from safestreets.synthetic.draws import random_stream
from safestreets.synthetic.geometry import BNG, force_layout
from safestreets.synthetic.intervention import apply_planted, write_planted
from safestreets.synthetic.names import Names
from safestreets.synthetic.outcomes import OUTCOME_COLUMNS, draw_outcomes, outcomes_table
from safestreets.synthetic.records import FORCE_RECORD_COLUMNS, force_records_table, mapping_toml
from safestreets.synthetic.stops import STOP_SEARCH_COLUMNS, stop_search_table
from safestreets.synthetic.tables import SEASON, TYPE_SHARES, TYPES
from safestreets.synthetic.writers import write_csv, write_rows, write_static

_MIN_POPULATION = 100_000  # a force smaller than this has too few areas to be useful

# File kinds whose data rows CityManifest.rows counts (not the mapping files or the README).
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


def _populations(config: CityConfig) -> np.ndarray:
    """Residents per force: the configured (or implied) total, split unevenly among forces, largest first."""
    if config.population is not None:
        total = float(config.population)
    else:
        total = config.n_events * 12 / config.months / config.crimes_per_1000 * 1000
    if config.n_forces == 1:
        weights = np.ones(1)
    else:
        spread = random_stream(config.seed, 10_000).standard_normal(config.n_forces)
        weights = np.sort(np.exp(0.6 * spread))[::-1]
    return np.maximum(_MIN_POPULATION, np.round(total * weights / weights.sum())).astype(np.int64)


def _event_counts(config: CityConfig, populations: np.ndarray, months: list[Month]) -> np.ndarray:
    """(forces, months, types) street rows: one multinomial so the total is exactly n_events."""
    shares = np.array([TYPE_SHARES[t] for t in TYPES])
    season = np.array(
        [
            [1 + SEASON[t][0] * math.cos(2 * math.pi * (m.month - SEASON[t][1]) / 12) for t in TYPES]
            for m in months
        ]
    )
    days = np.array([m.hours / 24 for m in months])
    p = populations[:, None, None] * (season * shares[None, :] * days[:, None])[None, :, :]
    counts = random_stream(config.seed, 10_001).multinomial(config.n_events, (p / p.sum()).ravel())
    return counts.reshape(p.shape)


def generate_city(
    out_dir: Path | str, config: CityConfig = CityConfig(), *, progress: Progress | None = None
) -> CityManifest:
    """Write a synthetic city (or several) under ``out_dir``; see the package docstring for the layout.

    ``progress(stage, done, total)`` is called after each city's geography ("geography") and after each
    force-month ("months").
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    months = month_list(config)
    populations = _populations(config)
    centres = force_layout(config, populations)
    counts = _event_counts(config, populations, months)
    names = Names(random_stream(config.seed, 10_002))
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
        cities.append(build_city(config, k, centres[k], int(populations[k]), names, counters))
        if progress:
            progress("geography", k + 1, config.n_forces)
    write_static(out, config, cities, files, file_rows)
    if config.intervention is not None:
        files["intervention"] = [write_planted(out, config.intervention, cities[0].centre, BNG)]

    # Files are written on a second thread while the next month is generated (pyarrow releases the
    # GIL). One writer keeps every file's bytes in order; waiting on the previous month's writes before
    # queueing more keeps memory to about two months of rows.
    total = config.n_forces * len(months)
    done = 0
    with ThreadPoolExecutor(max_workers=1) as writer:
        for city in cities:
            state = ForceState()
            records_path = out / "force_records" / f"{city.force_id}-records.csv"
            records_path.parent.mkdir(parents=True, exist_ok=True)
            mapping_path = out / "force_records" / f"{city.force_id}-mapping.toml"
            mapping_path.write_text(mapping_toml(city))
            files["force-mapping"].append(mapping_path)
            file_rows[records_path] = 0
            pending: list[Future[Any]] = []
            with pa.OSFile(str(records_path), "wb") as records:
                records.write((",".join(FORCE_RECORD_COLUMNS) + "\n").encode())
                for month in months:
                    cdfs = month_cdfs(city, month, len(months))
                    month_counts = counts[city.index, month.index]
                    planted = config.intervention
                    if planted is not None and city.index == 0 and planted.active(month.label):
                        cdfs, month_counts = apply_planted(
                            planted, city.snap_xy, city.centre, cdfs, month_counts
                        )
                    ev = draw_events(config, city, month, month_counts, state, cdfs)
                    street_label = draw_outcomes(config, city, month, ev, state, len(months))
                    stem = out / "police_uk" / month.label / f"{month.label}-{city.force_id}"
                    jobs = [
                        ("street", street_table(config, city, month, ev, street_label), STREET_COLUMNS),
                        ("outcomes", outcomes_table(config, city, month, state), OUTCOME_COLUMNS),
                        (
                            "stop-and-search",
                            stop_search_table(config, city, month, ev, cdfs),
                            STOP_SEARCH_COLUMNS,
                        ),
                    ]
                    table = force_records_table(city, month, ev, state)
                    for future in pending:
                        future.result()
                    pending = []
                    for kind, data, header in jobs:
                        path = stem.with_name(f"{stem.name}-{kind}.csv")
                        file_rows[path] = data.num_rows
                        files[kind].append(path)
                        pending.append(writer.submit(write_csv, path, header, data))
                    pending.append(writer.submit(write_rows, records, table))
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
