"""Emerging hot spot classifications kept in the store, keyed by forecast run and parameters.

``safestreets hotspots`` stores what it classifies; the briefing reads the classification back instead of
running the Gi* and Mann-Kendall tests again. A stored classification is one row per unit with what a map
and a briefing's list need (category, counts in the last period and before, the neighbourhood's counts,
the trend), so :class:`StoredEmerging` answers ``summary``, ``changes`` and ``window`` as the live
result does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.store.results import data_version, digest, read_header, read_rows, save_result
from safestreets.trends.emerging import CATEGORIES, NO_PATTERN, NOTABLE, Change, EmergingResult

#: Parameters that tell two classifications of one forecast's units apart (the rest describe the data).
KEY_PARAMS = (
    "period",
    "periods",
    "until",
    "alpha",
    "fdr",
    "threshold",
    "time_window",
    "measure",
    "neighbours",
)


def params_key(params: dict[str, Any]) -> str:
    return digest({k: params.get(k) for k in KEY_PARAMS})


@dataclass(frozen=True, eq=False)
class StoredEmerging:
    """A classification read back from the store (or made from a live result, see :func:`from_result`)."""

    table: pa.Table  # one row per unit: unit_id, bcu, category, counts, trend, x, y
    params: dict[str, Any]
    emerging_id: int | None = None
    forecast_run_id: int | None = None
    created_at: datetime | None = None
    data_batch: int | None = None

    @property
    def category(self) -> np.ndarray:
        return np.asarray(self.table.column("category").to_pylist(), dtype=object)

    def window(self) -> str:
        return str(self.params.get("window", ""))

    def summary(self, *, include_empty: bool = False) -> dict[str, int]:
        """Units per category, in CATEGORIES order (empty categories left out unless asked for)."""
        cat = self.category
        counted = {c: int((cat == c).sum()) for c in CATEGORIES}
        return {c: k for c, k in counted.items() if k or include_empty}

    def changes(self, categories: tuple[str, ...] = NOTABLE, limit: int | None = None) -> list[Change]:
        """As :meth:`EmergingResult.changes`: each category's biggest change in counts first."""
        d = self.table.to_pydict()
        cat = self.category
        last = np.asarray(d["last_count"], dtype="float64")
        before = np.asarray(d["mean_count"], dtype="float64")
        out: list[Change] = []
        for c in categories:
            idx = np.flatnonzero(cat == c)
            idx = idx[np.argsort(-np.abs(last[idx] - before[idx]), kind="stable")]
            out.extend(
                Change(
                    unit_id=str(d["unit_id"][i]),
                    bcu=str(d["bcu"][i] or ""),
                    category=c,
                    last_count=float(last[i]),
                    mean_before=float(before[i]),
                    last_nearby=float(d["last_nearby"][i]),
                    mean_nearby_before=float(d["mean_nearby_before"][i]),
                    last_gi_z=float(d["last_gi_z"][i]),
                    trend_z=float(d["trend_z"][i]),
                    trend_p=float(d["trend_p"][i]),
                    x=float(d["x"][i]),
                    y=float(d["y"][i]),
                )
                for i in idx
            )
        return out if limit is None else out[:limit]

    def aligned(self, ids: Sequence[Any] | np.ndarray) -> StoredEmerging:
        """The same classification with one row per id of ``ids``, in that order (a unit the
        classification did not cover has no pattern and no counts), e.g. to draw it on a stored
        surface's units."""
        where = {u: i for i, u in enumerate(self.table.column("unit_id").to_pylist())}
        keys = [str(u) for u in ids]
        take = pa.array([where.get(k) for k in keys], pa.int64())
        rows = self.table.take(take)  # null rows where a unit is missing
        fill = {"unit_id": pa.array(keys, pa.string()),
                "category": pa.array([c if c is not None else NO_PATTERN
                                      for c in rows.column("category").to_pylist()], pa.string())}  # fmt: skip
        cols = {name: fill.get(name, rows.column(name)) for name in rows.column_names}
        return StoredEmerging(pa.table(cols), self.params, self.emerging_id, self.forecast_run_id,
                              self.created_at, self.data_batch)  # fmt: skip


def from_result(result: EmergingResult) -> StoredEmerging:
    """A live result in the stored form (what :func:`save_emerging` writes)."""
    base = result.to_table()
    nearby = result.nearby_counts()
    table = pa.table({
        "pos": pa.array(np.arange(base.num_rows, dtype="int32")),
        "unit_id": base.column("unit_id"), "bcu": base.column("bcu"), "category": base.column("category"),
        "hot_share": base.column("hot_share"), "trend_z": base.column("trend_z"), "trend_p": base.column("trend_p"),
        "last_count": base.column("last_count"), "mean_count": base.column("mean_count"),
        "last_nearby": pa.array(nearby[:, -1], pa.float64()),
        "mean_nearby_before": pa.array(nearby[:, :-1].mean(axis=1), pa.float64()),
        "last_gi_z": base.column("last_gi_z"), "x": base.column("x"), "y": base.column("y"),
    })  # fmt: skip
    return StoredEmerging(table, dict(result.params))


def save_emerging(
    con: duckdb.DuckDBPyConnection, forecast_run: int, result: EmergingResult
) -> StoredEmerging:
    """Store a classification of forecast run ``forecast_run``'s units; returns it as stored."""
    stored = from_result(result)
    p = stored.params
    batch = data_version(con)
    new_id = save_result(
        con, "emerging_runs", "emerging_id",
        {"forecast_run_id": forecast_run, "params_key": params_key(p), "periods": int(p["periods"]),
         "window_label": stored.window(), "data_batch": batch, "params": p},
        {"emerging_units": stored.table},
    )  # fmt: skip
    return StoredEmerging(stored.table, p, new_id, forecast_run, None, batch)


def read_emerging(
    con: duckdb.DuckDBPyConnection,
    forecast_run: int,
    *,
    periods: int | None = None,
    params: dict[str, Any] | None = None,
) -> StoredEmerging | None:
    """The newest classification stored for a forecast run (with ``periods`` periods, or exactly these
    ``params`` when given), or None."""
    where, args = "forecast_run_id = ?", [forecast_run]
    if params is not None:
        where, args = where + " AND params_key = ?", [*args, params_key(params)]
    if periods is not None:
        where, args = where + " AND periods = ?", [*args, periods]
    head = read_header(con, "emerging_runs", where, args, json_columns=("params",))
    if head is None:
        return None
    rows = read_rows(con, "emerging_units", "emerging_id", head["emerging_id"], "pos")
    return StoredEmerging(rows, head["params"], int(head["emerging_id"]), forecast_run, head["created_at"],
                          head["data_batch"])  # fmt: skip
