"""What every impact result shares: an answer or a plain "cannot say", what it assumes, how sure it is.

A method that the data cannot support (too few periods before the start, too few donor areas, no crime to
compare) returns ``answerable=False`` with the reason, never a number that looks like an answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from safestreets.errors import ParameterError

#: Two-sided level of every interval unless the caller asks otherwise.
LEVEL = 0.95


@dataclass(frozen=True)
class Effect:
    """One method's estimate of an intervention's effect on the target area.

    ``ratio`` is observed / counterfactual (0.8 = 20% fewer than expected), with its interval; ``change``
    is the difference in counts (or harm) over the whole period after the start, with its interval.
    """

    method: str
    answerable: bool
    reason: str = ""
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    change: float | None = None
    change_low: float | None = None
    change_high: float | None = None
    p_value: float | None = None
    level: float = LEVEL
    assumptions: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def percent(self) -> float | None:
        return None if self.ratio is None else 100.0 * (self.ratio - 1.0)

    @property
    def significant(self) -> bool:
        return bool(self.answerable and self.p_value is not None and self.p_value < 1 - self.level)

    def verdict(self) -> str:
        """One line a reader can act on: the estimate and how sure it is, or why there is none."""
        if not self.answerable:
            return f"{self.method}: cannot say ({self.reason})"
        pct = self.percent or 0.0
        lo = 100 * ((self.ratio_low or 0.0) - 1)
        hi = 100 * ((self.ratio_high or 0.0) - 1)
        sure = "a real change" if self.significant else "no change distinguishable from chance"
        p = "" if self.p_value is None else f", p={self.p_value:.3f}"
        return f"{self.method}: {pct:+.0f}% ({int(self.level * 100)}% interval {lo:+.0f}% to {hi:+.0f}%{p}): {sure}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["assumptions"] = list(self.assumptions)
        out["verdict"] = self.verdict()
        return plain(out)


def cannot_say(method: str, reason: str, assumptions: tuple[str, ...] = (), **detail: Any) -> Effect:
    return Effect(method=method, answerable=False, reason=reason, assumptions=assumptions, detail=detail)


def check_level(level: float) -> float:
    if not 0.5 <= level < 1.0:
        raise ParameterError(f"interval level must be between 0.5 and 1, not {level}")
    return float(level)


def plain(value: Any) -> Any:
    """JSON-ready copies of numpy scalars and arrays inside nested results."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def one_thread() -> Any:
    """Small regressions run faster on one BLAS thread: on a busy machine the threads of a many-core
    BLAS fight each other (a ten-fold slow-down measured on a 48 x 50 GLM)."""
    return threadpool_limits(1)
