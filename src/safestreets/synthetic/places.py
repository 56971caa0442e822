"""Places that shape crime: local centres, night-time economy, stations, parks, and the public places
police.uk names instead of a street ("On or near Supermarket").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from safestreets.synthetic.draws import choice, weighted_sample_without_replacement
from safestreets.synthetic.geometry import Shape, kernel
from safestreets.synthetic.names import BAR_WORDS, PUB_ADJ, PUB_NOUN, STREET_STEMS, Names

# Public places police.uk names instead of a street ("On or near Supermarket"); "" is a plain street.
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
PLACE_INDEX = {name: i for i, name in enumerate(PLACE_KINDS)}


def places_and_features(
    rng: np.random.Generator,
    k: int,
    shape: Shape,
    snaps: np.ndarray,
    snap_tree: cKDTree,
    location: list[str],
    a_road: np.ndarray,
    areas: dict[str, Any],
    population: int,
    names: Names,
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
    cen = np.minimum(1.0, cen_city + 0.4 * kernel(snaps, local_centres[1:], 250.0))

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
        choice(rng, np.array([0.40, 0.32, 0.18, 0.10]), len(venues)),
        choice(rng, np.array([0.65, 0.15, 0.05, 0.15]), len(venues)),
    )
    venue_kind[0] = 2  # at least one nightclub
    kinds = ("pub", "bar", "nightclub", "late-night takeaway")
    club_style = (rng.random(len(venues)) < 0.5).tolist()
    for xy, kind, style in zip(venues, venue_kind.tolist(), club_style, strict=True):
        word = BAR_WORDS[int(rng.integers(len(BAR_WORDS)))]
        adjective, noun = (
            PUB_ADJ[int(rng.integers(len(PUB_ADJ)))],
            PUB_NOUN[int(rng.integers(len(PUB_NOUN)))],
        )
        name = (
            f"The {adjective} {noun}",
            f"{word} Bar",
            f"Club {word}" if style else f"The {word} Rooms",
            f"{STREET_STEMS[int(rng.integers(len(STREET_STEMS)))]} Grill",
        )[kind]
        add_place("nte", "NTE", name, kinds[kind], xy)
    nte = 1 - np.exp(-kernel(snaps, venues, 120.0, k=16))

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
    sta = np.minimum(1.0, kernel(snaps, np.vstack([stations, buses]), 200.0))
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
    park_kind = choice(rng, np.array([0.55, 0.2, 0.12, 0.08, 0.05]), len(parks))
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
        snap_kind[idx[snap_kind[idx] == 0]] = PLACE_INDEX[label]
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
        chosen = weighted_sample_without_replacement(rng, weight, count, snap_kind != 0)
        snap_kind[chosen] = PLACE_INDEX[label]
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
