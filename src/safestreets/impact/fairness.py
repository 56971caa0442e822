"""Who bears the cost: each area's share of police exposure (patrol time, stop and search, later Section
60) against its share of harm and, where loaded, of the people who live there and of each ethnic group.

An area is flagged as over-exposed when its share of exposure is more than ``threshold`` times its share
of harm (and it takes at least ``min_share`` of all exposure, so tiny areas do not flag on noise). Per
group, exposure is shared out over each area's residents: a group's exposure per resident against
everyone's is the relative exposure Lum and Isaac (2016) asked such tools to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safestreets.errors import ParameterError
from safestreets.impact.common import plain


@dataclass(frozen=True)
class FairnessAudit:
    kind: str  # what exposure is: "patrol minutes", "stop and search"...
    ids: list[str]
    exposure_share: np.ndarray
    harm_share: np.ndarray
    population_share: np.ndarray | None
    over_exposed: np.ndarray  # bool
    exposure_to_harm: np.ndarray  # ratio of shares (nan where the area has no harm)
    groups: dict[str, dict[str, float]]  # group -> share of residents, share of exposure, relative rate
    threshold: float
    min_share: float
    notes: list[str] = field(default_factory=list)
    #: Per group, each area's share of that group's residents (the area's row beside its exposure share).
    group_shares: dict[str, np.ndarray] = field(default_factory=dict)
    #: Each area's name as people know it (an LSOA's "Westminster 013G"), where the store has one.
    names: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for i, a in enumerate(self.ids):
            r = self.exposure_to_harm[i]
            out.append(
                {
                    "area": a,
                    "name": self.names.get(a),
                    "exposure_share": round(float(self.exposure_share[i]), 5),
                    "harm_share": round(float(self.harm_share[i]), 5),
                    "population_share": None
                    if self.population_share is None
                    else round(float(self.population_share[i]), 5),
                    "exposure_to_harm": None if not np.isfinite(r) else round(float(r), 3),
                    "over_exposed": bool(self.over_exposed[i]),
                    **{f"{g}_share": round(float(v[i]), 5) for g, v in self.group_shares.items()},
                }
            )
        return out

    @property
    def flagged(self) -> list[str]:
        return [a for a, f in zip(self.ids, self.over_exposed, strict=True) if f]

    def _named(self, area: str) -> str:
        return f"{self.names[area]} ({area})" if self.names.get(area) else area

    def summary(self) -> str:
        n = len(self.flagged)
        head = (
            f"{self.kind}: {n} of {len(self.ids)} areas get more than {self.threshold:g} times their share of "
            "harm" + (f" ({', '.join(self._named(a) for a in self.flagged[:5])}{'...' if n > 5 else ''})" if n else "")
        )
        if self.groups:
            worst = max(self.groups.items(), key=lambda kv: kv[1]["relative_exposure"])
            head += (
                f"; residents most exposed: {worst[0]} at {worst[1]['relative_exposure']:.2f} times the "
                "exposure per resident of everyone"
            )
        return head

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "kind": self.kind,
                "threshold": self.threshold,
                "min_share": self.min_share,
                "flagged": self.flagged,
                "areas": self.rows(),
                "groups": self.groups,
                "notes": self.notes,
                "summary": self.summary(),
            }
        )


def _shares(values: Any, name: str, n: int) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    if v.shape != (n,):
        raise ParameterError(f"{name} has {v.shape[0] if v.ndim else 0} values for {n} areas")
    if np.any(~np.isfinite(v)) or np.any(v < 0):
        raise ParameterError(f"{name} must be finite and non-negative")
    total = v.sum()
    return v / total if total > 0 else np.zeros(n)


def fairness_audit(
    ids: Any,
    exposure: Any,
    harm: Any,
    *,
    population: Any = None,
    groups: dict[str, Any] | None = None,
    kind: str = "patrol exposure",
    threshold: float = 1.5,
    min_share: float = 0.01,
    names: dict[str, str] | None = None,
) -> FairnessAudit:
    """The audit over areas ``ids`` from per-area ``exposure`` and ``harm`` (any units: only shares
    matter), optional ``population`` and optional ``groups`` (group name -> residents per area);
    ``names``: the areas' names, to show beside their codes."""
    ids = [str(a) for a in ids]
    n = len(ids)
    if n == 0:
        raise ParameterError("no areas to audit")
    if threshold <= 1:
        raise ParameterError(f"the over-exposure threshold must be above 1, not {threshold}")
    e = _shares(exposure, "exposure", n)
    h = _shares(harm, "harm", n)
    notes = []
    if e.sum() == 0:
        notes.append(f"no {kind} recorded in any area")
    if h.sum() == 0:
        notes.append("no harm recorded in any area: shares of harm are all zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h > 0, e / h, np.where(e > 0, np.inf, np.nan))
    over = (e >= min_share) & (ratio > threshold)
    pop_share = None if population is None else _shares(population, "population", n)
    group_out: dict[str, dict[str, float]] = {}
    group_shares: dict[str, np.ndarray] = {}
    if groups:
        residents = {g: np.asarray(v, dtype="float64") for g, v in groups.items()}
        for g, v in residents.items():
            if v.shape != (n,) or np.any(v < 0) or np.any(~np.isfinite(v)):
                raise ParameterError(f"group {g!r} needs one non-negative count per area")
        everyone = (
            np.asarray(population, dtype="float64") if population is not None else sum(residents.values())
        )
        total_people = float(np.sum(everyone))
        for g, v in residents.items():
            people = float(v.sum())
            if people <= 0 or total_people <= 0:
                continue
            group_shares[g] = v / people
            # Exposure shared over an area's residents: each resident of area a carries e_a / people_a.
            with np.errstate(divide="ignore", invalid="ignore"):
                per_resident = np.where(everyone > 0, e / everyone, 0.0)
            group_exposure = float((per_resident * v).sum())
            group_out[g] = {
                "residents_share": people / total_people,
                "exposure_share": group_exposure,
                "relative_exposure": (group_exposure / people) / (1.0 / total_people)
                if group_exposure > 0
                else 0.0,
            }
    return FairnessAudit(
        kind,
        ids,
        e,
        h,
        pop_share,
        over,
        ratio,
        group_out,
        float(threshold),
        float(min_share),
        notes,
        group_shares,
        {a: str(names[a]) for a in ids if names and names.get(a)},
    )
