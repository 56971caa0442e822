"""The contract every forecaster keeps, in the scikit-learn style.

* Parameters are keyword arguments of ``__init__``, stored unchanged under the same names, so
  :func:`clone` can copy an unfitted model and ``get_params`` / ``set_params`` work.
* ``fit(history, until)`` learns from the events strictly before ``until`` (the base class cuts the
  history, so no model can see the future) and returns ``self``. Fitted state ends in ``_``.
* ``predict(units, start, end)`` returns the expected number of events in each unit over ``[start, end)``
  as a float array in the units' order. It does not change the model; it may memoise work per units.

A model that learns unit-level structure (per-cell rates, a feature model) does so on first sight of the
units, from the fitted history only, and memoises it: fit does not know the units a forecast will use.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from typing import Any, ClassVar

import numpy as np

from safestreets.errors import ParameterError, unknown
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.geo.units import Units


class NotFittedError(RuntimeError):
    """``predict`` was called before ``fit``."""


class Forecaster:
    """Base class: subclasses implement ``_fit(history)`` and ``_predict(units, start, end)``."""

    name: ClassVar[str] = "base"
    #: One line for tables and the ``auto`` explanation.
    summary: ClassVar[str] = ""
    #: A baseline is a published method we must beat, not a candidate for ``auto``.
    baseline: ClassVar[bool] = False
    #: Forecasts with other models (an ensemble, auto): a backtest runs it after the others, so it finds
    #: their forecasts shared (:mod:`safestreets.forecast.shared`) instead of repeating them.
    composite: ClassVar[bool] = False

    # --- parameters ----------------------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and isinstance(value, Forecaster):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Forecaster:
        valid = set(self._param_names())
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise unknown(f"{type(self).__name__} parameter", name, sorted(valid))
            if sub:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"

    # --- fit / predict -------------------------------------------------------------------------------

    def fit(self, history: History, until: Any) -> Forecaster:
        until = as_time(until)
        if history.resolution == "month" and until.astype("datetime64[M]").astype("datetime64[s]") != until:
            # Month-only events all sit on the 1st: a mid-month cut-off would let the rest of the month in.
            raise ParameterError(f"month-only data can only be cut at a month boundary, not {until}")
        seen = history.before(until)
        self.__dict__.pop("memo_", None)  # a refit must not reuse what was learnt for the last fit
        self.history_ = seen
        self.until_ = until
        self._fit(seen)
        return self

    def predict(self, units: Units, start: Any, end: Any) -> np.ndarray:
        if not hasattr(self, "history_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(history, until) first")
        start, end = as_time(start), as_time(end)
        if end <= start:
            raise ParameterError(f"forecast period is empty: {start} .. {end}")
        if start < self.until_:
            raise ParameterError(f"forecast starts at {start}, before the data cut-off {self.until_}")
        out = np.asarray(self._predict(units, start, end), dtype="float64")
        if out.shape != (len(units),):
            raise AssertionError(f"{self.name} returned shape {out.shape} for {len(units)} units")
        return np.clip(np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0, None)

    def feasible(self, history: History, units: Units) -> None:
        """Raise :class:`~safestreets.errors.ParameterError` if this model cannot run on these units and
        data (a raster too large, say), from sizes alone: backtests and ``auto`` ask before any work, so
        a model that cannot run fails (or is skipped) in a second, not after minutes of the others."""

    def _fit(self, history: History) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _predict(
        self, units: Units, start: np.datetime64, end: np.datetime64
    ) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # --- helpers for subclasses ----------------------------------------------------------------------

    def _memo(self, units: Units, key: Any, build: Any) -> Any:
        """Memoise ``build()`` for these units on this fitted model."""
        memo = self.__dict__.setdefault("memo_", {})
        k = (units_token(units), key)
        if k not in memo:
            memo[k] = build()
        return memo[k]


def units_token(units: Units) -> tuple[Any, ...]:
    """Names a set of units in shared memos: its key, and a digest of what models read from it (areas,
    grid, covariates), because a copy made with ``dataclasses.replace`` (new covariates, say) keeps the
    key of the original."""
    digest = hashlib.sha256(np.ascontiguousarray(units.area, dtype="float64").tobytes())
    digest.update(repr((units.kind, units.grid)).encode())
    for name in sorted(units.covariates):
        values = np.asarray(units.covariates[name])
        digest.update(name.encode())
        digest.update(values.tobytes() if values.dtype != object else repr(values.tolist()).encode())
    return units.key, len(units), digest.hexdigest()[:16]


def period_of(history: History, start: np.datetime64, end: np.datetime64) -> Horizon:
    """The horizon a forecast for ``[start, end)`` spans: whole months when both ends are month
    boundaries and the data are monthly (or the span is a calendar month), else whole days."""
    start_m = start.astype("datetime64[M]")
    end_m = end.astype("datetime64[M]")
    on_months = start_m.astype("datetime64[s]") == start and end_m.astype("datetime64[s]") == end
    if on_months and (history.resolution == "month" or (end_m - start_m).astype(int) >= 1):
        return Horizon(int((end_m - start_m).astype(int)), "M")
    days = (end - start).astype("timedelta64[D]").astype(int)
    if history.resolution == "month":
        raise ParameterError(
            f"cannot forecast {start}..{end} from month-only data: use whole calendar months"
        )
    return Horizon(max(int(days), 1), "D")


def clone(model: Forecaster) -> Forecaster:
    """An unfitted copy with the same parameters (sub-models cloned too)."""
    params = {}
    for name, value in model.get_params(deep=False).items():
        if isinstance(value, Forecaster):
            value = clone(value)
        elif isinstance(value, list | dict):
            value = copy.deepcopy(value)
        params[name] = value
    return type(model)(**params)
