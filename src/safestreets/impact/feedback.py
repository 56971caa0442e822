"""The forecast -> patrol -> recorded-crime loop, simulated in the spirit of Ensign et al. (2018),
"Runaway feedback loops in predictive policing".

Areas have true crime rates. Each round the forecast (an exponentially weighted mean of recorded crime,
as the project's EWMA model keeps) sets each area's share of patrols, and crime is recorded:

- ``reported`` targets (crime the public reports: burglary, robbery, violence) are recorded whatever the
  patrols, so the forecast converges on the true rates and patrols follow harm;
- ``found`` targets (crime police find: drugs, weapons possession) are recorded where patrols look, in
  proportion to their presence, so an area's forecast feeds its own patrols: the loop runs away to the
  area that started ahead or is a little higher, far past its share of crime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from safestreets.errors import ParameterError
from safestreets.impact.common import plain

Targets = Literal["reported", "found"]
#: A final patrol allocation this far (total variation) from the true shares of crime has run away.
RUNAWAY_DISTANCE = 0.2


@dataclass(frozen=True)
class FeedbackResult:
    targets: str
    true_share: np.ndarray
    patrol_share: np.ndarray  # (rounds + 1, areas): the allocation at the start of each round, and after
    distance: float  # total variation distance between the final patrol shares and the true shares
    runaway: bool

    def summary(self) -> str:
        top = int(np.argmax(self.patrol_share[-1]))
        return (
            f"{self.targets} targets: after {len(self.patrol_share) - 1} rounds area {top} gets "
            f"{self.patrol_share[-1, top]:.0%} of patrols against {self.true_share[top]:.0%} of crime; "
            f"distance from the true shares {self.distance:.2f}: "
            + ("the loop ran away" if self.runaway else "patrols follow crime")
        )

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "targets": self.targets,
                "true_share": self.true_share,
                "final_patrol_share": self.patrol_share[-1],
                "distance": self.distance,
                "runaway": self.runaway,
                "summary": self.summary(),
            }
        )


def feedback_loop(
    rates: Any = (1.2, 1.0, 1.0, 1.0, 0.8),
    *,
    targets: Targets = "reported",
    rounds: int = 300,
    crimes_per_round: float = 200.0,
    initial_share: Any = None,
    halflife: float = 3.0,
    seed: int = 0,
) -> FeedbackResult:
    """Run the loop; ``rates`` are relative true rates per area, ``crimes_per_round`` the expected recorded
    total in a round where patrols match crime."""
    lam = np.asarray(rates, dtype="float64")
    if lam.ndim != 1 or len(lam) < 2 or np.any(lam <= 0):
        raise ParameterError("rates must be two or more positive numbers")
    if targets not in ("reported", "found"):
        raise ParameterError(f"targets must be 'reported' or 'found', not {targets!r}")
    if rounds < 1 or halflife <= 0:
        raise ParameterError("rounds and halflife must be positive")
    true = lam / lam.sum()
    share = np.full(len(lam), 1.0 / len(lam)) if initial_share is None else np.asarray(initial_share, float)
    share = share / share.sum()
    rng = np.random.default_rng(seed)
    alpha = 1.0 - 0.5 ** (1.0 / halflife)
    forecast = share * crimes_per_round
    history = [share]
    for _ in range(rounds):
        share = forecast / forecast.sum()
        if targets == "reported":
            mean = crimes_per_round * true
        else:
            # Found crime: what patrols see is the crime there times how much they look there.
            mean = crimes_per_round * len(lam) * true * share
        recorded = rng.poisson(mean)
        forecast = (1 - alpha) * forecast + alpha * recorded + 1e-9
        history.append(forecast / forecast.sum())
    shares = np.vstack(history)
    distance = 0.5 * float(np.abs(shares[-1] - true).sum())
    return FeedbackResult(targets, true, shares, distance, distance > RUNAWAY_DISTANCE)
