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
#: Parameters of a stored hub ranking kept when it is made again (its data window follows the data).
RERANK = ("kinds", "catchment_m", "weeks_back", "signal_months", "profile_weeks", "slot_hours", "day_start_hour",
          "max_per_hub", "weights")  # fmt: skip

Inputs = Callable[[], tuple[History, Units]]


@dataclass
class Part:
    """One result the briefing rests on: read from the store or computed for this briefing."""

    name: str
    stored: bool  # read as stored (False: computed for this briefing, or not available)
    ref: str = ""  # where it is kept: "forecast run 3", "emerging hot spots 2", ...
    note: str | None = None  # what the briefing says about it, when it was computed or is missing
    params: dict[str, Any] | None = field(default=None, repr=False)
    what: str = ""  # in a few words, for the provenance table

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
    from safestreets.forecast import BASELINES, canonical, make_model, model_class

    prov = surface.provenance
    history, units = inputs()
    name = canonical(prov.get("model", "last-period"))
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
        what = _backtest_what(stored)
        return stored.summary, Part(
            "forecast backtest", True, f"forecast run {run}", note, stored.params, what
        )
    try:
        made = backtest_summary(con, surface, inputs=inputs)
    except SafestreetsError as err:
        return [], Part(
            "forecast backtest", False, note=f"{model} was chosen by hand and no backtest could be run: {err}"
        )
    if save and run is not None:
        _keep(lambda: fstore.save_backtest(con, made))
    note = (f"{model} was chosen by hand, so the forecast ran no backtest: computed for this briefing with its "
            f"parameters over the last {made.params['origins']} periods, against the baselines.")  # fmt: skip
    return made.summary, Part(
        "forecast backtest", False, f"forecast run {run}", note, made.params, _backtest_what(made)
    )


def _backtest_what(b: StoredBacktest) -> str:
    models = sorted({str(r["model"]) for r in b.summary})
    origins = max((int(r.get("origins") or 0) for r in b.summary), default=0)
    covs = sorted({float(r["coverage"]) for r in b.summary})
    by = "auto's choice among" if b.computed_by == "forecast" else f"{b.model} against"
    others = [m for m in models if m != b.model] if b.computed_by != "forecast" else models
    return f"{by} {', '.join(others)}; {origins} origins; coverages {', '.join(f'{c:.0%}' for c in covs)}"


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
                           params=found.params, what=_emerging_what(found.params))  # fmt: skip
    if found is not None:
        why = f"the hot spots stored for this forecast were classified before the latest data load ({_when(found.created_at)})"
    # A stale classification is made again as it was made (the analyst chose its periods).
    n = periods or (
        int(found.params.get("periods", DEFAULT_PERIODS)) if found is not None else DEFAULT_PERIODS
    )
    try:
        result, _units = trends_run.emerging_for_forecast(con, surface.provenance, surface.window[0], periods=n,
                                                          inputs=inputs())  # fmt: skip
    except SafestreetsError as err:
        return None, Part(name, False, note=f"emerging hot spots not computed: {err}")
    made = tstore.from_result(result)
    if save and run is not None:
        made = _keep(lambda: tstore.save_emerging(con, run, result)) or made
    p = made.params
    ref = f"emerging hot spots {made.emerging_id}" if made.emerging_id is not None else ""
    note = (f"{why[0].upper()}{why[1:]}: computed now with {_periods(p)} ({made.window()}), "
            f"Gi* at alpha {p['alpha']}{' with FDR' if p.get('fdr') else ''}"
            f"{', and stored' if made.emerging_id is not None else ''}. Run safestreets hotspots to choose "
            "the periods.")  # fmt: skip
    return made, Part(name, False, ref, note, p, _emerging_what(p))


def _periods(p: dict[str, Any]) -> str:
    every = {"1m": "monthly", "1w": "weekly", "7d": "weekly"}.get(str(p.get("period")))
    return (
        f"{p.get('periods')} {every} periods" if every else f"{p.get('periods')} periods of {p.get('period')}"
    )


def _emerging_what(p: dict[str, Any]) -> str:
    return (f"{_periods(p)}, {p.get('window', '')}; Gi* at alpha {p.get('alpha')}"
            f"{' with FDR' if p.get('fdr') else ''}")  # fmt: skip


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
                             params=found.ranking.params, what=_hubs_what(found.ranking.params))  # fmt: skip
    # A stale or short ranking is made again with the parameters the analyst chose for it.
    again = {k: v for k, v in (found.ranking.params if found is not None else {}).items() if k in RERANK}
    n = budget if budget is not None else (found.budget if found is not None else DEFAULT_HUBS)
    try:
        ranking = hubs.rank_hubs(con, surface, budget=n, **again)
    except SafestreetsError as err:
        return None, Part(name, False, note=f"hub tactics not computed: {err}")
    rid = _keep(lambda: hub_store.save_hub_ranking(con, ranking)) if save else None
    p = ranking.params
    note = (f"{why[0].upper()}{why[1:]}: ranked now with {p['budget']} deployment(s), catchment {p['catchment_m']:g} m, "
            f"{'/'.join(p['kinds'])} places{', and stored' if rid is not None else ''}. Run safestreets hubs "
            "to choose them.")  # fmt: skip
    if not ranking.hubs.num_rows:
        note = None  # no hubs to rank: the ranking's own note says which places are missing
    return ranking, Part(name, False, f"hub ranking {rid}" if rid is not None else "", note, p, _hubs_what(p))


def _hubs_what(p: dict[str, Any]) -> str:
    return (f"{p.get('budget')} deployment(s) from {'/'.join(p.get('kinds', []))} places, catchment "
            f"{float(p.get('catchment_m', 0)):g} m")  # fmt: skip


# --- provenance ------------------------------------------------------------------------------------------


def data_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """What the store holds, per source and force: the months covered, the records and the gaps (runs of
    months with no records at all between the first and the last)."""
    from safestreets.store.queries import gaps

    missing: dict[str, list[str]] = {}
    for what, first, last, n in gaps(con):
        span = first if first == last else f"{first} to {last}"
        missing.setdefault(what, []).append(f"{span} ({n} month{'s' if n > 1 else ''})")
    out = []
    for source, force, first, last, n, timed in con.execute(
        "SELECT source, force, strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m'), count(*), "
        "bool_or(occurred_at IS NOT NULL) FROM events GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall():
        out.append({"source": source, "force": force, "what": "crimes" + (", timed" if timed else ", month only"),
                    "months": f"{first} to {last}", "rows": int(n),
                    "gaps": missing.get(f"{force} {source}", [])})  # fmt: skip
    for force, first, last, n in con.execute(
        "SELECT force, strftime(min(month), '%Y-%m'), strftime(max(month), '%Y-%m'), count(*) FROM stop_searches "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall():
        out.append({"source": "stop and search", "force": force, "what": "searches", "months": f"{first} to {last}",
                    "rows": int(n), "gaps": missing.get(f"{force} stop and search", [])})  # fmt: skip
    return out


def made_by(surface: Surface, parts: list[Part], plan: dict[str, Any] | None) -> list[dict[str, str]]:
    """One row per result the briefing rests on: what it is, where it is kept, whether it was read or
    computed, and the digest of its parameters (as the provenance sidecar gives them)."""
    prov = surface.provenance
    units = prov.get("units", {})
    cells = (f"{units.get('units', '?'):,} grid cells of {float(units['cell_size_m']):g} m"
             if units.get("kind") == "grid" and units.get("cell_size_m") else f"{units.get('units', '?')} {units.get('kind', 'units')}")  # fmt: skip
    rows = [{"part": "forecast", "what": f"{prov.get('model')}, {surface.window[0]:%Y-%m-%d} to "
             f"{surface.window[1]:%Y-%m-%d}, {cells}, ranked by {prov.get('rank_by')}",
             "ref": f"forecast run {surface.run_id}", "how": "stored", "digest": digest(prov.get("params", {}))}]  # fmt: skip
    for p in parts:
        what = p.what or p.note or ""
        rows.append({"part": p.name, "what": what, "ref": p.ref, "how": p.how, "digest": p.digest})
    if plan is not None:
        rows.append({"part": "patrol plan", "what": f"week of {plan['week_start']}, solver {plan['solver']}",
                     "ref": f"plan {plan['plan_id']}", "how": "stored", "digest": digest(plan["params"])})  # fmt: skip
    return rows


def impact_sections(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Near-repeat advice and the fairness summary, read from what ``evaluate near-repeat`` and ``audit
    fairness`` stored (never computed here: a Knox test needs timestamped data and takes seconds to
    minutes), with a note saying how to get each one that is missing or made before the latest load."""
    from safestreets.store.impact import read_impact

    out: dict[str, Any] = {"advice": None, "fairness": None, "notes": []}
    nr = read_impact(con, "near-repeat")
    if nr is None:
        out["notes"].append(
            "No near-repeat test stored: run 'safestreets evaluate near-repeat' on timestamped data."
        )
    else:
        out["advice"] = nr["result"]["advice"]["text"]
        if nr["stale"]:
            out["notes"].append(
                f"The near-repeat test ({nr['created_at'][:10]}) predates the latest data load."
            )
    fair = read_impact(con, "fairness")
    if fair is None:
        out["notes"].append("No fairness audit stored: run 'safestreets audit fairness' after planning.")
    else:
        out["fairness"] = list(fair["result"].get("summary", []))
        if fair["stale"]:
            out["notes"].append(
                f"The fairness audit ({fair['created_at'][:10]}) predates the latest data load."
            )
    return out
