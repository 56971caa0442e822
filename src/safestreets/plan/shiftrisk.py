"""Risk by shift for a plan: each unit's expected harm in each shift of each day of the planned week.

The forecast gives each unit's harm over its window; where the store holds timestamped events of the same
target (a force's own records), each unit's time-of-week profile (forecast/timeofweek.py: its own hours
shrunk towards its command unit's and the city's) spreads its weekly harm over the 7 x shifts slots of the
week. The planner then weighs each unit's shifts by its own shares, so a night-time economy street and a
daytime shopping street are hot spots in different shifts.

Without timestamped events (police.uk files carry the month only) there is nothing to learn when harm
falls per place: :func:`shift_risk` returns None and the planner keeps one set of shift shares for every
unit (``plan.run.shift_shares``), and says so in the plan's notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from safestreets.errors import NoDataError
from safestreets.forecast.data import load_history
from safestreets.forecast.store import Surface
from safestreets.forecast.targets import Target
from safestreets.forecast.timeofweek import DAYS, TimeOfWeek, fit_profiles, week_by_slot
from safestreets.plan.resources import Shift


@dataclass
class ShiftRisk:
    """``by_slot`` (n_units, 7, n_shifts): expected harm in each shift of each day of the week (Monday
    first); ``shares`` (n_units, n_shifts): each unit's share of a day's harm per shift, summing to 1."""

    by_slot: np.ndarray
    shares: np.ndarray
    profile: TimeOfWeek
    source: str

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, **self.profile.describe()}

    def rows(self, ids: np.ndarray, units: Sequence[int], shifts: Sequence[Shift]) -> list[dict[str, Any]]:
        """One row per unit of ``units``, day and shift: its expected harm then."""
        return [{"unit_id": str(ids[u]), "day": day, "shift": s.name, "harm": float(self.by_slot[u, d, k])}
                for u in units for d, day in enumerate(DAYS) for k, s in enumerate(shifts)]  # fmt: skip


def shift_risk(con: duckdb.DuckDBPyConnection, surface: Surface, shifts: Sequence[Shift]) -> tuple[ShiftRisk | None, str]:
    """Each unit's expected harm by day and shift from its time-of-week profile, learnt from the target's
    timestamped events before the forecast window; None (and why) where there are none."""
    target = surface.provenance.get("data", {}).get("target", {})
    types = tuple(target.get("types") or ())
    if not types or surface.window is None:
        return None, "the forecast does not say its target's crime types"
    tgt = Target(str(target.get("name", "target")), types)
    start = np.datetime64(surface.window[0].replace(tzinfo=None), "s")
    try:
        history = load_history(con, tgt, need_timestamps=True, until=start, with_context=False)
        profile = fit_profiles(history, surface.units, until=start)
    except NoDataError:
        return None, "no timestamped events of the target (police.uk files carry the month only)"
    by_slot = week_by_slot(surface.harm_week(), profile, shifts)
    per_shift = profile.shift_shares(shifts)
    shares = per_shift / np.maximum(per_shift.sum(axis=1, keepdims=True), 1e-12)
    source = (f"each unit's time-of-week profile from {profile.events:,} timestamped events "
              f"({history.meta.get('source')}), shrunk towards its BCU's and the city's "
              f"(strengths {profile.strength_bcu:,.0f} and {profile.strength_unit:,.0f} events)")  # fmt: skip
    return ShiftRisk(by_slot, shares, profile, source), source
