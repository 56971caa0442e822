"""What the briefing reads from the store, and what it computes only when the store lacks it.

A forecast run stores the backtest ``auto`` chose by; ``safestreets hotspots`` and ``safestreets hubs``
store their classification and ranking. The briefing reads those. Where one is missing (a model chosen
by hand, hot spots never classified for the forecast, hubs never ranked) or stale (made before the latest
load), it computes it here, stores it for the next briefing, and each :class:`Part` says which it was so
the document can say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from safestreets.errors import SafestreetsError
from safestreets.forecast.history import History
from safestreets.forecast.store import StoredBacktest, Surface
from safestreets.geo.units import Units
from safestreets.plan.hubs import HubRanking
from safestreets.store.results import data_version, digest
from safestreets.trends.store import StoredEmerging

#: Periods the briefing classifies over when no classification is stored.
DEFAULT_PERIODS = 12
#: Hub deployments the briefing ranks when no ranking is stored.
DEFAULT_HUBS = 5
#: Origins of the short backtest of a model chosen by hand.
HAND_ORIGINS = 4

Inputs = Callable[[], tuple[History, Units]]


@dataclass
class Part:
    """One result the briefing rests on: read from the store or computed for this briefing."""

    name: str
    stored: bool  # read as stored (False: computed for this briefing, or not available)
    ref: str = ""  # where it is kept: "forecast run 3", "emerging hot spots 2", ...
    note: str | None = None  # what the briefing says about it, when it was computed or is missing
    params: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def how(self) -> str:
        if self.stored:
            return "stored"
        return "computed for this briefing" if self.params is not None else "not available"

    @property
    def digest(self) -> str:
        return digest(self.params) if self.params is not None else ""


def _when(value: Any) -> str:
    return f"{value:%d %b %Y}" if hasattr(value, "strftime") else "earlier"


def _keep(save: Callable[[], Any]) -> Any:
    """Store a computed result for the next briefing; a read-only store just does not keep it."""
    try:
        return save()
    except duckdb.Error:
        return None


# --- the forecast's backtest ---------------------------------------------------------------------------


def backtest_summary(
    con: duckdb.DuckDBPyConnection, surface: Surface, *, origins: int = HAND_ORIGINS, inputs: Inputs
) -> StoredBacktest:
    """A short backtest of the forecast's model with its parameters against the baselines, over the last
    ``origins`` periods before its window (for a model chosen by hand: the forecast ran none)."""
    from safestreets.evaluate.backtest import backtest, summarise
    from safestreets.forecast import BASELINES, make_model, model_class

    prov = surface.provenance
    history, units = inputs()
    name = prov.get("model", "naive")
    chosen = make_model(name)
    known = model_class(name)().get_params(deep=False)
    chosen.set_params(**{k: v for k, v in prov.get("params", {}).items() if k in known})
    models = {name: chosen, **{b: make_model(b) for b in BASELINES if b != name}}
    horizon = prov.get("horizon", "1m")
    result = backtest(models, history, units, origins=origins, horizons=[horizon], coverages=(0.01, 0.05),
                      by_bcu=False)  # fmt: skip
    rows = summarise(result.metrics).to_pylist()
    return StoredBacktest(
        run_id=int(surface.run_id or 0), computed_by="brief", model=name, reason=None, scores={}, summary=rows,
        params={"origins": origins, "horizon": horizon, "coverages": [0.01, 0.05], "against": "baselines"},
    )  # fmt: skip


def accuracy(
    con: duckdb.DuckDBPyConnection, surface: Surface, *, inputs: Inputs, save: bool = True
) -> tuple[list[dict[str, Any]], Part]:
    """The backtest rows of the forecast, stored or (for a model chosen by hand) computed now."""
    from safestreets.forecast import store as fstore

    model = surface.provenance.get("model")
    run = surface.run_id
    stored = fstore.read_backtest(con, run) if run is not None else None
    if stored is not None:
        if stored.computed_by == "forecast":
            note = None
        else:
            note = (f"{model} was chosen by hand: backtested for a briefing of this forecast on "
                    f"{_when(stored.created_at)}, with its parameters over the last {stored.params.get('origins', '?')} "
                    "periods, against the baselines.")  # fmt: skip
        return stored.summary, Part("forecast backtest", True, f"forecast run {run}", note, stored.params)
    try:
        made = backtest_summary(con, surface, inputs=inputs)
    except (SafestreetsError, ValueError) as err:
        return [], Part(
            "forecast backtest", False, note=f"{model} was chosen by hand and no backtest could be run: {err}"
        )
    if save and run is not None:
        _keep(lambda: fstore.save_backtest(con, made))
    note = (f"{model} was chosen by hand, so the forecast ran no backtest: computed for this briefing with its "
            f"parameters over the last {made.params['origins']} periods, against the baselines.")  # fmt: skip
    return made.summary, Part("forecast backtest", False, f"forecast run {run}", note, made.params)


# --- emerging hot spots ----------------------------------------------------------------------------------


def emerging(
    con: duckdb.DuckDBPyConnection,
    surface: Surface,
    *,
    periods: int | None,
    inputs: Inputs,
    save: bool = True,
) -> tuple[StoredEmerging | None, Part]:
    """The forecast's emerging hot spots as stored by ``safestreets hotspots`` (the newest; with
    ``periods`` periods when given), unless made before the latest load; else classified now."""
    from safestreets.trends import run as trends_run
    from safestreets.trends import store as tstore

    name = "emerging hot spots"
    run = surface.run_id
    found = tstore.read_emerging(con, run, periods=periods) if run is not None else None
    why = "hot spots were not classified for this forecast" + (f" over {periods} periods" if periods else "")
    if found is not None and found.data_batch == data_version(con):
        return found, Part(name, True, f"emerging hot spots {found.emerging_id} ({_when(found.created_at)})",
                           params=found.params)  # fmt: skip
    if found is not None:
        why = f"the hot spots stored for this forecast were classified before the latest data load ({_when(found.created_at)})"
    n = periods or DEFAULT_PERIODS
    try:
        result, _units = trends_run.emerging_for_forecast(con, surface.provenance, surface.window[0], periods=n,
                                                          inputs=inputs())  # fmt: skip
    except (SafestreetsError, ValueError) as err:
        return None, Part(name, False, note=f"emerging hot spots not computed: {err}")
    made = tstore.from_result(result)
    if save and run is not None:
        made = _keep(lambda: tstore.save_emerging(con, run, result)) or made
    p = made.params
    ref = f"emerging hot spots {made.emerging_id}" if made.emerging_id is not None else ""
    every = {"1m": "monthly", "1w": "weekly", "7d": "weekly"}.get(str(p["period"]), f"{p['period']}")
    note = (f"{why[0].upper()}{why[1:]}: computed now with {p['periods']} {every} periods ({made.window()}), "
            f"Gi* at alpha {p['alpha']}{' with FDR' if p.get('fdr') else ''}"
            f"{', and stored' if made.emerging_id is not None else ''}. Run safestreets hotspots to choose "
            "the periods.")  # fmt: skip
    return made, Part(name, False, ref, note, p)


# --- hub ranking -----------------------------------------------------------------------------------------


def hub_ranking(
    con: duckdb.DuckDBPyConnection,
    surface: Surface,
    *,
    budget: int | None,
    save: bool = True,
) -> tuple[HubRanking | None, Part]:
    """The hub ranking ``safestreets hubs`` stored for the forecast (the newest; with at least ``budget``
    deployments when given, of which the first ``budget`` are shown), unless made before the latest load;
    else ranked now."""
    from safestreets.plan import hub_store, hubs

    name = "hub ranking"
    run = surface.run_id
    found = hub_store.read_hub_ranking(con, run) if run is not None else None
    why = "hubs were not ranked for this forecast"
    if found is not None and budget is not None and found.budget < budget:
        why = f"the hub ranking stored for this forecast has {found.budget} deployment(s), fewer than the {budget} asked for"
    elif found is not None and found.data_batch != data_version(con):
        why = f"the hub ranking stored for this forecast was made before the latest data load ({_when(found.created_at)})"
    elif found is not None:
        ranking = found.ranking
        if budget is not None and ranking.deployments.num_rows > budget:
            ranking = HubRanking(ranking.hubs, ranking.deployments.slice(0, budget), ranking.reasons,
                                 ranking.notes, ranking.params, ranking.provenance)  # fmt: skip
        return ranking, Part(name, True, f"hub ranking {found.ranking_id} ({_when(found.created_at)})",
                             params=found.ranking.params)  # fmt: skip
    n = DEFAULT_HUBS if budget is None else budget
    try:
        ranking = hubs.rank_hubs(con, surface, budget=n)
    except (SafestreetsError, ValueError) as err:
        return None, Part(name, False, note=f"hub tactics not computed: {err}")
    rid = _keep(lambda: hub_store.save_hub_ranking(con, ranking)) if save else None
    p = ranking.params
    note = (f"{why[0].upper()}{why[1:]}: ranked now with {p['budget']} deployment(s), catchment {p['catchment_m']:g} m, "
            f"{'/'.join(p['kinds'])} places{', and stored' if rid is not None else ''}. Run safestreets hubs "
            "to choose them.")  # fmt: skip
    return ranking, Part(name, False, f"hub ranking {rid}" if rid is not None else "", note, p)
