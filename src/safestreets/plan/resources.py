"""What a patrol plan has to work with: shifts, teams per BCU and shift, and the rules a plan must keep.

Resources come from a small CSV (``bcu,shift,teams``; ``bcu`` may be ``*`` for a citywide pool such as a
violence suppression unit that can go to any BCU, and is a command unit's code or, given the loaded names,
its name in any case: "Central East", "central-east", "Tower Hamlets") or from ``uniform``. Rules carry
every assumption of the planner, including the dosage-response one, so a plan records exactly what made it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safestreets.errors import InputError, ParameterError, unknown

POOL = "*"


@dataclass(frozen=True)
class Shift:
    name: str
    start_hour: float  # local clock hour the shift starts, 0-24
    hours: float

    @property
    def minutes(self) -> float:
        return self.hours * 60.0

    def covers(self, hour: float) -> bool:
        """Whether the clock hour falls in the shift (shifts may run past midnight)."""
        offset = (hour - self.start_hour) % 24.0
        return offset < self.hours


DEFAULT_SHIFTS: tuple[Shift, ...] = (Shift("early", 7, 8), Shift("late", 15, 8), Shift("night", 23, 8))


@dataclass(frozen=True)
class Rules:
    """The rules a plan keeps and the assumptions it rests on. Every field is recorded with the plan."""

    #: Length of one hot spot visit. Koper (1995): 10-16 minutes deters longest; 15 is the usual choice.
    visit_minutes: float = 15.0
    #: Least time between two visits to one hot spot within a shift ("at most about every two hours").
    min_gap_minutes: float = 120.0
    #: Share of a shift a team spends on planned visits (the rest: briefing, calls, arrests, refs).
    patrol_share: float = 0.5
    #: Walking speed between hot spots, for travel time inside a patrol area.
    speed_kmh: float = 4.5
    #: Every hot spot of a team lies within this distance of its patrol area's centre.
    patrol_radius_m: float = 600.0
    #: Dosage-response: minutes after a visit ends during which its deterrence lasts (Koper's 30 minutes).
    residual_minutes: float = 30.0
    #: Dosage-response: share of expected harm prevented while a visit protects a hot spot.
    effect: float = 0.5
    #: Dosage-response: each further visit to one hot spot in one shift counts this much of the one before.
    decay: float = 0.8
    #: Each BCU receives at least this share of all planned visits (0 turns the rule off).
    min_bcu_share: float = 0.0
    #: Over ``cap_weeks`` weeks (this one included) no area receives more than ``cap_share`` of its BCU's visits.
    cap_share: float = 0.25
    cap_weeks: int = 4
    #: What "an area" is for the cap: "lsoa" (where LSOAs are loaded, else the unit) or "unit".
    cap_by: str = "lsoa"
    #: Candidate hot spots per BCU, as a multiple of the visits its teams can make in a shift.
    candidates_factor: float = 3.0
    shifts: tuple[Shift, ...] = field(default=DEFAULT_SHIFTS)

    def __post_init__(self) -> None:
        if not 10.0 <= self.visit_minutes <= 16.0:
            raise ParameterError(
                f"visit length {self.visit_minutes:g} min is outside Koper's 10-16 minutes (--visit-minutes)"
            )
        checks = {
            "min_gap_minutes": (self.min_gap_minutes >= self.visit_minutes, "at least the visit length"),
            "patrol_share": (0.0 < self.patrol_share <= 1.0, "above 0 and at most 1"),
            "speed_kmh": (self.speed_kmh > 0, "positive"),
            "patrol_radius_m": (self.patrol_radius_m > 0, "positive"),
            "residual_minutes": (self.residual_minutes >= 0, "0 or more"),
            "effect": (0.0 <= self.effect <= 1.0, "between 0 and 1"),
            "decay": (0.0 < self.decay <= 1.0, "above 0 and at most 1"),
            "min_bcu_share": (0.0 <= self.min_bcu_share < 1.0, "0 or more and below 1"),
            "cap_share": (0.0 < self.cap_share <= 1.0, "above 0 and at most 1"),
            "cap_weeks": (self.cap_weeks >= 1, "at least 1"),
            "cap_by": (self.cap_by in ("lsoa", "unit"), "'lsoa' or 'unit'"),
            "candidates_factor": (self.candidates_factor >= 1.0, "at least 1"),
            "shifts": (len(self.shifts) > 0 and len({s.name for s in self.shifts}) == len(self.shifts),
                       "one or more, with different names"),
        }  # fmt: skip
        bad = [(k, need) for k, (ok, need) in checks.items() if not ok]
        if bad:
            name, need = bad[0]
            raise ParameterError(f"invalid planning rule {name}={getattr(self, name)!r}: it must be {need}")

    def shift(self, name: str) -> Shift:
        for s in self.shifts:
            if s.name == name:
                return s
        raise unknown("shift", name, [s.name for s in self.shifts])

    def max_visits(self, shift: Shift) -> int:
        """Visits one hot spot can take in a shift with the minimum gap between them."""
        return max(1, int((shift.minutes - self.visit_minutes) // self.min_gap_minutes) + 1)

    def protected_share(self, shift: Shift) -> float:
        """Share of a shift one visit protects: the visit plus its residual deterrence."""
        return min(1.0, (self.visit_minutes + self.residual_minutes) / shift.minutes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shifts"] = [asdict(s) for s in self.shifts]
        return d


@dataclass(frozen=True)
class Resources:
    """Teams per (BCU, shift); BCU ``*`` is a pool that may patrol any BCU."""

    teams: dict[tuple[str, str], int]

    @classmethod
    def uniform(cls, bcus: list[str], shifts: tuple[Shift, ...] | list[str], teams: int) -> Resources:
        names = [s if isinstance(s, str) else s.name for s in shifts]
        return cls({(b, s): int(teams) for b in bcus for s in names})

    def bcus(self) -> list[str]:
        return sorted({b for b, _ in self.teams if b != POOL})

    def total(self) -> int:
        return sum(self.teams.values())

    def get(self, bcu: str, shift: str) -> int:
        return self.teams.get((bcu, shift), 0)

    def to_rows(self) -> list[dict[str, Any]]:
        return [{"bcu": b, "shift": s, "teams": n} for (b, s), n in sorted(self.teams.items())]


def place_key(text: str) -> str:
    """A command unit's name or code as compared: any case, any run of spaces, hyphens or other marks
    alike ("Central East" = "central-east")."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def read_resources(
    path: str | Path, shifts: tuple[Shift, ...] = DEFAULT_SHIFTS, places: Mapping[str, str] | None = None
) -> Resources:
    """Read ``bcu,shift,teams`` rows; a bad row names the file, row and column.

    ``places`` maps what a row may say (command unit names and codes, as loaded) to the code: a ``bcu``
    is matched against it in any case (:func:`place_key`), and one that matches nothing is refused with a
    "did you mean". Without ``places`` the ``bcu`` is taken as written."""
    path = Path(path)
    lookup = None if places is None else {place_key(k): v for k, v in places.items()}
    names = {s.name for s in shifts}
    try:
        text = path.read_text("utf-8-sig")
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise InputError(path, "not UTF-8 text") from err
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("bcu", "shift", "teams") if c not in header]
    if missing:
        raise InputError(path, f"missing column {missing[0]!r}: expected bcu,shift,teams")
    teams: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(reader, start=1):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not row["bcu"]:
            raise InputError(path, "empty BCU (use * for a citywide pool)", row=i, column="bcu")
        if lookup is not None and row["bcu"] != POOL:
            code = lookup.get(place_key(row["bcu"]))
            if code is None:
                assert places is not None
                reason = str(unknown("BCU or borough", row["bcu"], sorted(places, key=str.lower)))
                raise InputError(path, reason, row=i, column="bcu")
            row["bcu"] = code
        shift = next((n for n in names if n.lower() == row["shift"].lower()), None)
        if shift is None:
            raise InputError(path, f"unknown shift; expected one of {', '.join(sorted(names))}", row=i,
                             column="shift", value=row["shift"])  # fmt: skip
        row["shift"] = shift
        try:
            n = int(row["teams"])
        except ValueError:
            raise InputError(path, "teams must be a whole number", row=i, column="teams",
                             value=row["teams"]) from None  # fmt: skip
        if n < 0:
            raise InputError(path, "teams cannot be negative", row=i, column="teams", value=row["teams"])
        key = (row["bcu"], row["shift"])
        if key in teams:
            raise InputError(path, f"BCU {key[0]} shift {key[1]} given twice", row=i, column="bcu")
        teams[key] = n
    if not teams:
        raise InputError(path, "no rows: expected bcu,shift,teams")
    return Resources(teams)


#: Command units covering less than this share of a forecast's area get no teams of their own: they are
#: slivers of neighbouring units at the study area's edge.
MIN_BCU_AREA_SHARE = 0.02


def uniform_for_area(
    bcu: np.ndarray, area_m2: np.ndarray, shifts: tuple[Shift, ...], teams: int
) -> tuple[Resources, list[str]]:
    """``teams`` per command unit and shift over the units that hold at least ``MIN_BCU_AREA_SHARE`` of
    the area; returns the resources and the command units left without teams."""
    total = float(np.sum(area_m2))
    share = {str(b): float(np.sum(area_m2[bcu == b])) / total for b in set(bcu.tolist()) - {""}} if total else {}
    kept = sorted(b for b, v in share.items() if v >= MIN_BCU_AREA_SHARE)
    return Resources.uniform(kept, shifts, teams), sorted(set(share) - set(kept))
