"""Hub rankings kept in the store, keyed by forecast run and parameters: ``safestreets hubs`` stores what
it ranks, and the briefing reads it back instead of ranking the hubs again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from safestreets.plan.hubs import HubRanking
from safestreets.store.results import data_version, digest, read_header, read_rows, save_result


def params_key(params: dict[str, Any]) -> str:
    """The parameters that shape a ranking, the budget aside: the first k deployments of a larger budget
    are those of budget k (they are chosen best first)."""
    return digest({k: v for k, v in params.items() if k != "budget"})


@dataclass
class StoredHubs:
    ranking: HubRanking
    ranking_id: int
    forecast_run_id: int | None
    created_at: datetime | None
    data_batch: int | None

    @property
    def budget(self) -> int:
        return int(self.ranking.params.get("budget", self.ranking.deployments.num_rows))


def save_hub_ranking(con: duckdb.DuckDBPyConnection, ranking: HubRanking) -> int:
    """Store a ranking (its hubs and deployments, notes, parameters, provenance); returns its id. The
    forecast run is the one its provenance names."""
    forecast = ranking.provenance.get("forecast") or {}
    return save_result(
        con, "hub_rankings", "ranking_id",
        {"forecast_run_id": forecast.get("run_id"), "params_key": params_key(ranking.params),
         "budget": int(ranking.params.get("budget", 0)), "data_batch": data_version(con),
         "params": ranking.params, "notes": list(ranking.notes), "provenance": ranking.provenance},
        {"hub_scores": ranking.hubs, "hub_deployments": ranking.deployments},
    )  # fmt: skip


def read_hub_ranking(
    con: duckdb.DuckDBPyConnection, forecast_run: int | None, *, params: dict[str, Any] | None = None
) -> StoredHubs | None:
    """The newest ranking stored for a forecast run (``None``: made without a forecast), with the same
    parameters when ``params`` are given (any budget), or None."""
    where, args = (
        ("forecast_run_id = ?", [forecast_run])
        if forecast_run is not None
        else ("forecast_run_id IS NULL", [])
    )
    if params is not None:
        where, args = where + " AND params_key = ?", [*args, params_key(params)]
    head = read_header(con, "hub_rankings", where, args, json_columns=("params", "notes", "provenance"))
    if head is None:
        return None
    rid = int(head["ranking_id"])
    hubs = read_rows(con, "hub_scores", "ranking_id", rid, "rank")
    deployments = read_rows(con, "hub_deployments", "ranking_id", rid, "deployment")
    reasons = {str(p): str(r).split("; ") for p, r in zip(hubs.column("place_id").to_pylist(),
                                                         hubs.column("reasons").to_pylist(), strict=True)}  # fmt: skip
    ranking = HubRanking(hubs, deployments, reasons, list(head["notes"]), head["params"], head["provenance"])
    return StoredHubs(ranking, rid, head["forecast_run_id"], head["created_at"], head["data_batch"])
