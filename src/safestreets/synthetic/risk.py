"""Where each crime type happens: snap-point weights from place features, the pull of named places and
persistent hot spots.
"""

from __future__ import annotations

import numpy as np

from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.places import PLACE_INDEX, PLACE_KINDS
from safestreets.synthetic.tables import ROBBERY, TYPE_INDEX, TYPES

# Snap-point features that shape risk; each type's weight is a linear mix of them.
_FEATURES = (
    "one",
    "centre",
    "nte",
    "station",
    "park",
    "deprivation",
    "residential",
    "res_deprived",
    "a_road",
)
_FEATURE_MIX: dict[str, tuple[float, ...]] = {
    "Anti-social behaviour": (0.3, 1.5, 0.5, 0.5, 0.8, 1.2, 0.3, 0.8, 0.2),
    "Bicycle theft": (0.1, 2.5, 0.2, 2.5, 0.4, 0.0, 0.2, 0.0, 0.1),
    "Burglary": (0.02, 0.1, 0.0, 0.0, 0.0, 0.0, 0.5, 1.6, 0.1),
    "Criminal damage and arson": (0.1, 0.6, 0.3, 0.2, 0.4, 0.3, 0.5, 1.4, 0.2),
    "Drugs": (0.1, 1.0, 1.0, 0.8, 0.8, 1.8, 0.0, 0.3, 0.1),
    "Other theft": (0.3, 2.0, 0.4, 0.6, 0.4, 0.2, 0.3, 0.2, 0.3),
    "Possession of weapons": (0.1, 0.8, 0.6, 0.6, 0.5, 1.8, 0.0, 0.3, 0.1),
    "Public order": (0.2, 1.5, 0.6, 0.5, 0.3, 0.8, 0.2, 0.8, 0.2),
    "Robbery": (0.05, 1.0, 0.4, 1.2, 0.6, 1.2, 0.0, 0.3, 0.2),
    "Shoplifting": (0.01, 3.0, 0.1, 0.3, 0.0, 0.1, 0.0, 0.0, 0.2),
    "Theft from the person": (0.05, 4.0, 1.0, 2.0, 0.2, 0.1, 0.0, 0.0, 0.1),
    "Vehicle crime": (0.2, 0.3, 0.1, 0.8, 0.2, 0.3, 0.6, 0.8, 0.4),
    "Violence and sexual offences": (0.3, 1.0, 0.4, 0.5, 0.3, 1.0, 0.4, 1.6, 0.2),
    "Other crime": (0.3, 0.6, 0.2, 0.2, 0.1, 0.8, 0.3, 0.6, 0.1),
}

# How strongly each public place attracts each type (multiplier on the snap point's weight; unlisted
# types keep 1).
_PLACE_PULL: dict[str, dict[str, float]] = {
    "Supermarket": {
        "Shoplifting": 60,
        "Other theft": 3,
        "Vehicle crime": 3,
        "Anti-social behaviour": 2,
        "Public order": 2,
        "Violence and sexual offences": 1.5,
        "Burglary": 0.3,
    },
    "Shopping Area": {
        "Shoplifting": 40,
        "Theft from the person": 6,
        "Other theft": 4,
        "Anti-social behaviour": 3,
        "Public order": 2,
        "Bicycle theft": 3,
        "Burglary": 0.3,
    },
    "Parking Area": {
        "Vehicle crime": 20,
        "Criminal damage and arson": 2,
        "Anti-social behaviour": 1.5,
        "Burglary": 0.1,
    },
    "Petrol Station": {"Other theft": 10, "Shoplifting": 8, "Robbery": 2, "Burglary": 0.3},
    "Sports/Recreation Area": {
        "Other theft": 4,
        "Vehicle crime": 3,
        "Anti-social behaviour": 2,
        "Violence and sexual offences": 1.5,
        "Burglary": 0.3,
    },
    "Park/Open Space": {
        "Anti-social behaviour": 3,
        "Drugs": 3,
        "Robbery": 2,
        "Criminal damage and arson": 2,
        "Violence and sexual offences": 1.2,
        "Burglary": 0.05,
    },
    "Nightclub": {
        "Violence and sexual offences": 4,
        "Public order": 4,
        "Drugs": 5,
        "Theft from the person": 5,
        "Possession of weapons": 3,
        "Burglary": 0.2,
    },
    "Hospital": {
        "Violence and sexual offences": 4,
        "Other theft": 5,
        "Public order": 3,
        "Bicycle theft": 3,
        "Burglary": 0.2,
    },
    "Police Station": {
        "Other crime": 8,
        "Public order": 4,
        "Drugs": 3,
        "Possession of weapons": 3,
        "Violence and sexual offences": 2,
        "Burglary": 0.1,
    },
    "Further/Higher Educational Building": {"Bicycle theft": 15, "Other theft": 6, "Burglary": 0.3},
    "Bus/Coach Station": {
        "Robbery": 4,
        "Theft from the person": 6,
        "Anti-social behaviour": 4,
        "Public order": 3,
        "Drugs": 2,
        "Possession of weapons": 2,
        "Burglary": 0.1,
    },
    "Theatre/Concert Hall": {"Theft from the person": 4, "Other theft": 3, "Burglary": 0.2},
    "Pedestrian Subway": {
        "Robbery": 5,
        "Anti-social behaviour": 3,
        "Criminal damage and arson": 3,
        "Drugs": 2,
        "Burglary": 0.05,
    },
    "Conference/Exhibition Centre": {"Other theft": 4, "Burglary": 0.2},
    "Prison": {
        "Drugs": 10,
        "Violence and sexual offences": 5,
        "Other crime": 4,
        "Possession of weapons": 4,
        "Burglary": 0.05,
    },
}


def risk_weights(
    rng: np.random.Generator, config: CityConfig, features: dict[str, np.ndarray], kind: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-snap-point weights: (14, S) by type, (S,) night-time economy, (S,) stop and search.

    Each type mixes place features; persistent hot spots multiply in (lognormal attractiveness plus a
    few "problem places" at six times the rate), which gives Weisburd-like concentration.
    """
    n = len(kind)
    features = {**features, "res_deprived": features["residential"] * features["deprivation"]}
    matrix = np.stack([features[name] for name in _FEATURES], axis=1)
    mix = np.array([_FEATURE_MIX[t] for t in TYPES])
    pull = np.ones((len(TYPES), len(PLACE_KINDS)))
    for label, by_type in _PLACE_PULL.items():
        for t, mult in by_type.items():
            pull[TYPE_INDEX[t], PLACE_INDEX[label]] = mult
    hot = np.exp(config.hotspot_sigma * rng.standard_normal(n))
    hot[rng.random(n) < 0.02] *= 6.0
    noise = np.exp(0.4 * rng.standard_normal((len(TYPES), n)))
    weights = (mix @ matrix.T) * pull[:, kind] * hot[None, :] * noise
    venue = np.where(
        kind == PLACE_INDEX["Nightclub"], 8.0, np.where(kind == PLACE_INDEX["Bus/Coach Station"], 3.0, 1.0)
    )
    weights_nte = (
        (0.01 + features["nte"] + 0.3 * features["station"] + 0.1 * features["centre"]) * venue * hot
    )

    def norm(w: np.ndarray) -> np.ndarray:
        return w / w.sum()

    # Searches follow drugs, weapons, night-time violence and robbery, more so in deprived areas.
    weights_stops = (
        norm(weights[TYPE_INDEX["Drugs"]])
        + 0.6 * norm(weights[TYPE_INDEX["Possession of weapons"]])
        + 0.4 * norm(weights_nte)
        + 0.3 * norm(weights[ROBBERY])
    ) * (0.5 + features["deprivation"])
    return weights, weights_nte, weights_stops
