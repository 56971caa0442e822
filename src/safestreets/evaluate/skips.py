"""Models that cannot run on the data at hand: asked before any work, skipped with a reason when told to.

A backtest (and ``auto``, which is one) over several models used to fail as a whole when one of them
could not run here (prospective hotspotting's 50 m raster over a study area stretched by a few records
geocoded far away, say), and only after minutes of the others' work. Now every model is asked first, from
sizes alone (:meth:`~safestreets.forecast.base.Forecaster.feasible`); with ``skip_failing`` a model that
cannot run, then or in one of its tasks, is left out and named with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from safestreets.errors import NoDataError, ParameterError, SafestreetsError
from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History
from safestreets.geo.units import Units


def preflight(
    models: dict[str, Forecaster], history: History, units: Units, skip_failing: bool
) -> tuple[dict[str, Forecaster], dict[str, str]]:
    """The models that can run, and the reason of each that cannot (raised unless ``skip_failing``)."""
    keep: dict[str, Forecaster] = {}
    skipped: dict[str, str] = {}
    for name, model in models.items():
        try:
            model.feasible(history, units)
        except SafestreetsError as err:
            if not skip_failing:
                raise ParameterError(f"{name} cannot run here: {err}") from err
            skipped[name] = str(err)
            continue
        keep[name] = model
    if models and not keep:
        raise NoDataError("no model can run on this data: " + "; ".join(f"{n}: {r}" for n, r in skipped.items()))
    return keep, skipped


def guarded(run: Callable[[Any], dict[str, Any]], task: tuple[Any, ...]) -> dict[str, Any]:
    """``run(task)``, or a marker naming the model and the error when the model cannot run here."""
    try:
        return run(task)
    except (SafestreetsError, MemoryError) as err:
        return {"model": task[0], "failed": f"{type(err).__name__}: {err}" if isinstance(err, MemoryError) else str(err)}


def drop_failed(results: list[dict[str, Any]], options: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Results without every task of a model that failed in any task (a model is compared on all the
    origins or on none), and the reasons of all the skipped models."""
    skipped = dict(options.get("skipped") or {})
    for res in results:
        if "failed" in res:
            skipped.setdefault(res["model"], res["failed"])
    kept = [r for r in results if r["model"] not in skipped]
    if results and not kept:
        raise NoDataError("no model could run on this data: " + "; ".join(f"{n}: {r}" for n, r in skipped.items()))
    return kept, skipped
