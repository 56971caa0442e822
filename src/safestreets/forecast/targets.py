"""Named forecast targets: which police.uk crime types a forecast counts.

Targets default to crime the public reports. Crime found mostly by police activity (Drugs, Possession of
weapons) feeds back on itself (patrols find more where they patrol), so it enters a target only when asked
for by name, and every output of such a forecast carries ``police_found: true`` and a warning label.
"""

from __future__ import annotations

from dataclasses import dataclass

from safestreets.errors import ParameterError, unknown
from safestreets.vocab import CRIME_TYPES, POLICE_FOUND_TYPES, canonical_crime_type

TARGETS: dict[str, tuple[str, ...]] = {
    "violence": ("Violence and sexual offences", "Robbery"),
    "robbery": ("Robbery",),
    "burglary": ("Burglary",),
    "street": ("Theft from the person", "Robbery", "Bicycle theft"),
    # Every type the public mostly reports (not anti-social behaviour, which is not a crime).
    "public": tuple(t for t in CRIME_TYPES if t not in POLICE_FOUND_TYPES and t != "Anti-social behaviour"),
}

POLICE_FOUND_LABEL = (
    "includes police-found crime (Drugs, Possession of weapons): these counts follow where police look, "
    "not only where crime is"
)


FEEDBACK_WARNING = (
    "forecasting police-found crime feeds back on itself: patrols sent where it was found find more there, "
    "so the forecast -> patrol -> recorded-crime loop can run away from where crime is (Ensign et al. 2018; "
    "see 'safestreets evaluate feedback-loop'); audit the plan with 'safestreets audit fairness'"
)


def target_warnings(target: dict[str, object] | None) -> list[str]:
    """The warnings every output of a forecast or plan with this target (as ``Target.describe()`` gives
    it, or as stored in a run's provenance) must carry."""
    if not target or not target.get("police_found"):
        return []
    return [POLICE_FOUND_LABEL, FEEDBACK_WARNING]


@dataclass(frozen=True)
class Target:
    name: str
    types: tuple[str, ...]

    @property
    def police_found(self) -> tuple[str, ...]:
        return tuple(t for t in self.types if t in POLICE_FOUND_TYPES)

    @property
    def label(self) -> str:
        base = f"{self.name} ({', '.join(self.types)})" if self.name not in self.types else self.name
        return f"{base} [{POLICE_FOUND_LABEL}]" if self.police_found else base

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "types": list(self.types), "police_found": bool(self.police_found)}


def parse_target(spec: str, *, allow_police_found: bool = False) -> Target:
    """A target from a name (``violence``) or a comma-separated list of types or slugs
    (``robbery,theft-from-the-person``). Police-found types need ``allow_police_found``."""
    text = spec.strip()
    if not text:
        raise ParameterError(
            "empty target: use violence, robbery, burglary, street, public or a list of types"
        )
    if text.lower() in TARGETS:
        target = Target(text.lower(), TARGETS[text.lower()])
    else:
        types: list[str] = []
        for part in text.split(","):
            name = canonical_crime_type(part)
            if name is None:
                err = unknown("target or crime type", part.strip(), [*TARGETS, *CRIME_TYPES])
                raise ParameterError(
                    f"{err}; use one of {', '.join(TARGETS)} or police.uk crime types (names or slugs), "
                    "comma-separated"
                )
            if name not in types:
                types.append(name)
        target = Target(
            types[0] if len(types) == 1 else ",".join(CRIME_TYPES.get(t, t) for t in types), tuple(types)
        )
    if target.police_found and not allow_police_found:
        raise ParameterError(
            f"target {spec!r} includes police-found crime ({', '.join(target.police_found)}), which follows "
            "where police look: pass --include-police-found to forecast it anyway (outputs will say so)"
        )
    return target
