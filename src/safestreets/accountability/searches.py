"""Stop and search: volumes, outcome rates with intervals, breakdowns and trends over the stored rows.

Measures (each a share of the searches in scope, with a Wilson interval from statsmodels):

- **positive outcome rate**: any outcome but "A no further action disposal" (police.uk's wording since
  2018; the older "Nothing found - no further action" is renamed to it on load);
- **linked find rate**: ``Outcome linked to object of search`` true, over the rows where the force filled
  that column in (the Met leaves it blank in most months: the report says how many rows it rests on);
- **arrest rate**: outcome "Arrest".

One grouped query over the store gives every breakdown at once (legislation, object of search, age,
gender, self- and officer-defined ethnicity, borough, BCU, month, search type), so the full report on the
Met's million rows is one scan. Trends are GLMs on the monthly counts (statsmodels; quasi-likelihood
scale, since months vary more than a binomial or Poisson allows): the change per year in volume (rate
ratio) and in each rate (odds ratio), with intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from statsmodels.stats.proportion import proportion_confint

from safestreets import vocab
from safestreets.errors import NoDataError, ParameterError
from safestreets.timespec import parse_months

NOT_RECORDED = "(not recorded)"
NO_LOCATION = "(no location)"
ALPHA = 0.05

#: Self-defined ethnicity as published (2011 and 2021 wordings) -> the five broad groups. Chinese sits in
#: Asian, as in the 2021 census and the Home Office rates; "Not stated" and blanks are not recorded.
SELF_GROUP_SQL = """CASE
    WHEN {c} IS NULL OR {c} ILIKE '%not stated%' THEN NULL
    WHEN {c} ILIKE 'White%' THEN 'White'
    WHEN {c} ILIKE 'Black%' THEN 'Black'
    WHEN {c} ILIKE 'Asian%' THEN 'Asian'
    WHEN {c} ILIKE 'Mixed%' THEN 'Mixed'
    WHEN {c} ILIKE 'Chinese or other ethnic group - Chinese%' THEN 'Asian'
    WHEN {c} ILIKE 'Other%' OR {c} ILIKE 'Chinese%' THEN 'Other'
    ELSE NULL END"""
#: Officer-defined ethnicity has no Mixed category on police.uk.
OFFICER_GROUP_SQL = (
    """CASE WHEN {c} IN ('Asian', 'Black', 'White', 'Mixed', 'Other') THEN {c} ELSE NULL END"""
)

POSITIVE_SQL = f"(outcome IS NOT NULL AND outcome <> '{vocab.NO_FURTHER_ACTION}')"

#: Breakdown name -> SQL over ``stop_searches`` (NULL shown as not recorded).
DIMENSIONS: dict[str, str] = {
    "legislation": "legislation",
    "object": "object_of_search",
    "age": "age_range",
    "gender": "gender",
    "ethnicity_self": SELF_GROUP_SQL.format(c="self_defined_ethnicity"),
    "ethnicity_officer": OFFICER_GROUP_SQL.format(c="officer_defined_ethnicity"),
    "borough": "borough_code",
    "bcu": "bcu",
    "month": "strftime(month, '%Y-%m')",
    "search_type": "search_type",
}


@dataclass(frozen=True)
class Scope:
    """Which stored rows a report covers."""

    force: str | None = None
    months: tuple[str, ...] = ()
    legislation: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        parts, params = ["TRUE"], []
        if self.force:
            parts.append("force = ?")
            params.append(self.force)
        if self.months:
            parts.append("strftime(month, '%Y-%m') IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.months))
        if self.legislation:
            parts.append("legislation ILIKE ?")
            params.append(f"%{self.legislation}%")
        return " AND ".join(parts), params

    def describe(self) -> str:
        bits = [self.force or "all forces"]
        if self.months:
            bits.append(f"{self.months[0]}..{self.months[-1]} ({len(self.months)} months)")
        if self.legislation:
            bits.append(f"legislation ~ {self.legislation}")
        return ", ".join(bits)


def scope(force: str | None = None, months: str | None = None, legislation: str | None = None) -> Scope:
    return Scope(force or None, tuple(parse_months(months)) if months else (), legislation or None)


def wilson(k: np.ndarray, n: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate, lower and upper Wilson bounds (NaN where ``n`` is 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    lo, hi = proportion_confint(k, safe, alpha=alpha, method="wilson")
    rate = np.where(n > 0, k / safe, np.nan)
    lo, hi = np.minimum(lo, k / safe), np.maximum(hi, k / safe)  # rounding at 0 and 1 must not cross the rate
    return rate, np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def measures(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add the three rates and their intervals to arrays of ``searches, positive, linked_recorded, linked,
    arrests``."""
    out = dict(columns)
    n = columns["searches"]
    for name, k, base in (
        ("positive", columns["positive"], n),
        ("linked", columns["linked"], columns["linked_recorded"]),
        ("arrest", columns["arrests"], n),
    ):
        out[f"{name}_rate"], out[f"{name}_lo"], out[f"{name}_hi"] = wilson(k, base)
    return out


@dataclass
class SearchAnalysis:
    """Volumes and rates overall, by each breakdown and by month, with trends."""

    scope: Scope
    summary: dict[str, Any]
    breakdown: pa.Table  # dimension, value, label, searches, share, positive..., arrests...
    trends: pa.Table  # dimension, value ("all" overall), measure, per_year, lo, hi, p_value, months
    notes: list[str] = field(default_factory=list)

    def by(self, dimension: str) -> list[dict[str, Any]]:
        """The rows of one breakdown (``month`` in order, the others largest first)."""
        if dimension not in DIMENSIONS:
            from safestreets.errors import unknown

            raise unknown("breakdown", dimension, DIMENSIONS)
        return [r for r in self.breakdown.to_pylist() if r["dimension"] == dimension]


def _labels(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, str]:
    rows = con.execute("SELECT code, name FROM areas WHERE kind = ?", [kind]).fetchall()
    return {str(c): str(n or c) for c, n in rows}


def analyse(
    con: duckdb.DuckDBPyConnection, sc: Scope, dimensions: Sequence[str] | None = None
) -> SearchAnalysis:
    """Every measure overall and by each of ``dimensions`` (default: all of :data:`DIMENSIONS`)."""
    dims = list(dimensions or DIMENSIONS)
    for d in dims:
        if d not in DIMENSIONS:
            raise ParameterError(f"unknown breakdown {d!r} (one of: {', '.join(DIMENSIONS)})")
    # One scan: every breakdown, and each trend breakdown by month, as grouping sets of the same query.
    where, params = sc.where()
    trend_dims = [d for d in TREND_BY if d in dims] if "month" in dims else []
    cols = ", ".join(f"coalesce(CAST({DIMENSIONS[d]} AS VARCHAR), '{NOT_RECORDED}') AS {d}" for d in dims)
    sets = ", ".join([*(f"({d})" for d in dims), *(f"({d}, month)" for d in trend_dims)])
    flags = ", ".join(f"grouping({d}) AS g_{d}" for d in dims)
    sql = f"""
        WITH base AS (
            SELECT {cols}, {POSITIVE_SQL} AS pos, outcome = 'Arrest' AS arr, outcome_linked AS lnk
            FROM stop_searches WHERE {where})
        SELECT {", ".join(dims)}, {flags},
               count(*) AS searches, count(*) FILTER (WHERE pos) AS positive,
               count(lnk) AS linked_recorded, count(*) FILTER (WHERE lnk) AS linked,
               count(*) FILTER (WHERE arr) AS arrests
        FROM base GROUP BY GROUPING SETS ((), {sets})"""
    con.complete()
    counts = ("searches", "positive", "linked_recorded", "linked", "arrests")
    flat, by_value = [], []
    for r in con.sql(sql, params=params).to_arrow_table().to_pylist():
        grouped = [d for d in dims if r[f"g_{d}"] == 0]
        c = {k: r[k] for k in counts}
        if not grouped:
            flat.append({"dimension": "all", "value": "all", **c})
        elif len(grouped) == 1:
            flat.append({"dimension": grouped[0], "value": r[grouped[0]], **c})
        else:
            d = next(g for g in grouped if g != "month")
            by_value.append({"dimension": d, "value": r[d], "month": r["month"], **c})
    t = pa.Table.from_pylist(flat)
    total_rows = [r for r in t.to_pylist() if r["dimension"] == "all"]
    if not total_rows or total_rows[0]["searches"] == 0:
        raise NoDataError(f"no stop-and-search rows for {sc.describe()}: load some with 'safestreets ingest'")
    total = total_rows[0]["searches"]
    order = {d: i for i, d in enumerate(["all", *dims])}
    rows = sorted(t.to_pylist(), key=lambda r: (order[r["dimension"]], _sort_key(r)))
    names = {"borough": _labels(con, "borough"), "bcu": _labels(con, "bcu")}
    for r in rows:
        r["label"] = names.get(r["dimension"], {}).get(r["value"], r["value"])
        if r["dimension"] in ("borough", "bcu") and r["value"] == NOT_RECORDED:
            r["label"] = NO_LOCATION
    arrays = {k: np.array([r[k] for r in rows], dtype=np.int64)
              for k in ("searches", "positive", "linked_recorded", "linked", "arrests")}  # fmt: skip
    m = measures(arrays)
    table = pa.table({
        "dimension": [r["dimension"] for r in rows],
        "value": [r["value"] for r in rows],
        "label": [r["label"] for r in rows],
        **{k: pa.array(v) for k, v in m.items()},
        "share": pa.array(arrays["searches"] / total),
    })  # fmt: skip
    summary = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in m.items()}
    summary["scope"] = sc.describe()
    notes = []
    if summary["linked_recorded"] == 0:
        notes.append(
            "'Outcome linked to object of search' is blank in every row in scope: no linked find rate."
        )
    elif summary["linked_recorded"] < summary["searches"]:
        notes.append(
            f"'Outcome linked to object of search' is filled in for {summary['linked_recorded']:,} of "
            f"{summary['searches']:,} rows: the linked find rate rests on those alone."
        )
    trends = monthly_trends(table, by_value) if "month" in dims else _empty_trends()
    return SearchAnalysis(sc, summary, table, trends, notes)


def _sort_key(r: dict[str, Any]) -> tuple[int, Any]:
    if r["dimension"] == "month":
        return (0, r["value"])
    return (1, -r["searches"])


TREND_COLUMNS = ("dimension", "value", "measure", "per_year", "lo", "hi", "p_value", "months")
#: Breakdowns whose values get trends of their own (overall trends always come first).
TREND_BY = ("legislation", "object", "ethnicity_self", "bcu")
MIN_TREND_MONTHS = 6
MIN_TREND_SEARCHES = 100


def _empty_trends() -> pa.Table:
    types = {"per_year": pa.float64(), "lo": pa.float64(), "hi": pa.float64(), "p_value": pa.float64(),
             "months": pa.int64()}  # fmt: skip
    return pa.table({c: pa.array([], types.get(c, pa.string())) for c in TREND_COLUMNS})


def _fit_series(rows: list[dict[str, Any]], dimension: str, value: str) -> list[dict[str, Any]]:
    """Change per year in one monthly series: volume as a quasi-Poisson rate ratio, each rate as a
    quasi-binomial odds ratio (quasi: months vary more than the counts alone allow)."""
    import warnings

    import statsmodels.api as sm

    years = np.array([int(r["value"][:4]) + (int(r["value"][5:7]) - 1) / 12 for r in rows])
    x = sm.add_constant(years - years.mean())
    out: list[dict[str, Any]] = []

    def add(name: str, model: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # separation and convergence notes: a bad fit is dropped below
            try:
                fit = model.fit(scale="X2")
            except (ValueError, np.linalg.LinAlgError):
                return
        lo, hi = fit.conf_int(alpha=ALPHA)[1]
        if not np.isfinite([fit.params[1], lo, hi]).all():
            return
        out.append({"dimension": dimension, "value": value, "measure": name, "per_year": float(np.exp(fit.params[1])),
                    "lo": float(np.exp(lo)), "hi": float(np.exp(hi)), "p_value": float(fit.pvalues[1]),
                    "months": len(rows)})  # fmt: skip

    n = np.array([r["searches"] for r in rows], dtype=float)
    add("searches", sm.GLM(n, x, family=sm.families.Poisson()))
    for name, k_col, n_col in (("positive_rate", "positive", "searches"), ("arrest_rate", "arrests", "searches"),
                               ("linked_rate", "linked", "linked_recorded")):  # fmt: skip
        k = np.array([r[k_col] for r in rows], dtype=float)
        base = np.array([r[n_col] for r in rows], dtype=float)
        use = base > 0
        if use.sum() < 3 or k[use].max() == 0 or (k[use] == base[use]).all():
            continue  # no variation to fit: the rate is 0 (or 1) throughout
        # Proportions weighted by their searches: with a two-column endog statsmodels takes the Pearson scale on
        # the proportion scale, which shrinks the quasi-binomial interval by the square root of n.
        add(name, sm.GLM(k[use] / base[use], x[use], family=sm.families.Binomial(), var_weights=base[use]))
    return out


def monthly_trends(breakdown: pa.Table, by_value: list[dict[str, Any]] | None = None) -> pa.Table:
    """Trends overall (from the month breakdown) and, from ``by_value`` (rows of ``dimension, value, month``
    and the counts), for each value of the :data:`TREND_BY` breakdowns with enough months and searches."""
    rows = [r for r in breakdown.to_pylist() if r["dimension"] == "month" and r["value"] != NOT_RECORDED]
    out: list[dict[str, Any]] = []
    if len(rows) >= 3:
        out += _fit_series(rows, "all", "all")
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in by_value or []:
        if r["month"] != NOT_RECORDED:
            series.setdefault((r["dimension"], r["value"]), []).append({**r, "value": r["month"]})
    for (dim, val), months in sorted(series.items(), key=lambda kv: (TREND_BY.index(kv[0][0]), kv[0][1])):
        if len(months) >= MIN_TREND_MONTHS and sum(m["searches"] for m in months) >= MIN_TREND_SEARCHES:
            out += _fit_series(sorted(months, key=lambda m: m["value"]), dim, val)
    if not out:
        return _empty_trends()
    return pa.Table.from_pylist(out).select(list(TREND_COLUMNS))
