"""Disproportionality: searches per 1,000 people of each ethnic group, and the relative rate against White.

Numerators are the stored searches in scope, grouped by self-defined ethnicity (as the Home Office
publishes; officer-defined on request), mapped to the five broad groups of the 2021 census. Denominators
are the Census 2021 TS021 populations the user loaded (``store.population``), summed over the boroughs of
the force's area: the boroughs with a BCU when a BCU lookup is loaded and most searches fall in them (the
Met's 32), otherwise the boroughs where the force searches often enough per resident not to be spill-over
across its edge (the City of London's own), as :func:`force_boroughs` says. The force-wide rate counts every search, with a
location or not; the per-borough rates count the searches placed in each borough.

The relative rate's interval is the Wald interval on the log rate ratio (statsmodels
``confint_poisson_2indep``, ``wald-log``), treating the census counts as fixed. Rates over a period of
``m`` months are also given per year (``x 12 / m``), the form the published figures take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from statsmodels.stats.rates import confint_poisson_2indep

from safestreets.accountability.searches import (
    ALPHA,
    NOT_RECORDED,
    OFFICER_GROUP_SQL,
    SELF_GROUP_SQL,
    Scope,
)
from safestreets.errors import NoDataError, ParameterError
from safestreets.sources.census import GROUPS
from safestreets.store.population import population_by_borough

BASES = {"self": ("self_defined_ethnicity", SELF_GROUP_SQL), "officer": ("officer_defined_ethnicity",
                                                                          OFFICER_GROUP_SQL)}  # fmt: skip
REFERENCE = "White"
#: Searches a year above this share of the area's residents: the residents are not who is searched (the
#: Met's searches a year are about 2% of Londoners' number; the City of London Police's, a third of the
#: City's).
RESIDENT_SHARE = 0.1


@dataclass
class Disproportionality:
    basis: str
    months: int
    boroughs: list[str]
    rates: pa.Table  # ethnic_group, searches, population, per_1000, per_1000_year, rr, rr_lo, rr_hi
    by_borough: pa.Table  # borough_code, borough, ethnic_group, searches, population, per_1000, rr, lo, hi
    cross: pa.Table  # officer, self, searches
    missing: dict[str, Any]  # rows, self_missing, officer_missing and their shares
    notes: list[str] = field(default_factory=list)
    #: What every output showing these rates must say beside them (the notes are for the full report).
    warnings: list[str] = field(default_factory=list)

    def rate(self, group: str) -> dict[str, Any]:
        return next(r for r in self.rates.to_pylist() if r["ethnic_group"] == group)


#: Outside the boroughs of a loaded BCU lookup, a borough is in the force's area when the force searches at
#: least this share as often per resident there as where it searches most; below that, searches across
#: its edge (the City of London Police in Tower Hamlets: 1/400 as often per resident as in the City).
SPILL_OVER = 1 / 20


def force_boroughs(con: duckdb.DuckDBPyConnection, populated: set[str], pops: pa.Table | None = None,
                   where: str = "TRUE", params: list[Any] | None = None) -> tuple[list[str], str]:  # fmt: skip
    """Boroughs making up the force's area, and how they were chosen: those under a loaded BCU when most
    of the searches in scope (``where``) are placed in them (the Met's 32); else those where the force
    searches at least :data:`SPILL_OVER` as often per resident as where it searches most (a force without
    BCUs loaded, such as the City of London's); else, with no located search, every populated one."""
    rows = con.execute(
        "SELECT b.code FROM areas b JOIN areas u ON u.kind = 'bcu' AND u.code = b.parent WHERE b.kind = 'borough'"
    ).fetchall()
    with_bcu = {r[0] for r in rows} & populated
    placed = dict(con.execute(f"SELECT borough_code, count(*) FROM stop_searches WHERE {where} AND borough_code "
                              "IS NOT NULL GROUP BY 1", params or []).fetchall())  # fmt: skip
    located = sum(placed.values())
    if with_bcu and (not located or sum(placed.get(b, 0) for b in with_bcu) > located / 2):
        return sorted(with_bcu), "the boroughs of the loaded command units"
    people: dict[str, int] = {}
    for r in (pops.to_pylist() if pops is not None else []):
        people[r["borough_code"]] = people.get(r["borough_code"], 0) + int(r["population"])
    rate = {b: n / people[b] for b, n in placed.items() if people.get(b)}
    if not rate:
        return sorted(populated), "every borough with a population (no search in scope is placed in one)"
    top = max(rate.values())
    area = sorted(b for b, r in rate.items() if r >= top * SPILL_OVER)
    left = located - sum(placed[b] for b in area)
    return area, (f"where the searches are placed ({left:,} of {located:,} located searches fall outside, "
                  "across the force's edge)" if left else "where the searches are placed")  # fmt: skip


def rate_ratio(k: np.ndarray, pop: np.ndarray, k_ref: float, pop_ref: float) -> tuple[np.ndarray, ...]:
    ok = (k > 0) & (pop > 0) & (k_ref > 0) & (pop_ref > 0)
    rr = np.full(len(k), np.nan)
    lo, hi = rr.copy(), rr.copy()
    if ok.any():
        rr[ok] = (k[ok] / pop[ok]) / (k_ref / pop_ref)
        lo[ok], hi[ok] = confint_poisson_2indep(k[ok], pop[ok], k_ref, pop_ref, method="wald-log",
                                                compare="ratio", alpha=ALPHA)  # fmt: skip
    return rr, lo, hi


def disproportionality(
    con: duckdb.DuckDBPyConnection, sc: Scope, *, basis: str = "self", level: str | None = None,
    boroughs: list[str] | None = None,
) -> Disproportionality:  # fmt: skip
    if basis not in BASES:
        raise ParameterError(f"unknown ethnicity basis {basis!r} (one of: self, officer)")
    pops = population_by_borough(con, level)
    if pops.num_rows == 0:
        raise NoDataError(
            "no census populations in the store: load TS021 with 'safestreets stopsearch population FILE'"
        )
    populated = set(pops.column("borough_code").to_pylist())
    where, params = sc.where()
    if boroughs:
        area, chosen = sorted(boroughs), "the boroughs asked for"
    else:
        area, chosen = force_boroughs(con, populated, pops, where, params)
    unknown_b = sorted(set(area) - populated)
    if unknown_b:
        raise ParameterError(f"no population loaded for borough(s) {', '.join(unknown_b)}")
    column, mapping = BASES[basis]
    group_sql = mapping.format(c=column)
    con.complete()
    months = int(con.execute(f"SELECT count(DISTINCT month) FROM stop_searches WHERE {where}", params)
                 .fetchall()[0][0])  # fmt: skip
    if months == 0:
        raise NoDataError(f"no stop-and-search rows for {sc.describe()}")
    counts = dict(con.execute(f"SELECT {group_sql} AS g, count(*) FROM stop_searches WHERE {where} GROUP BY g",
                              params).fetchall())  # fmt: skip
    pop_rows = [r for r in pops.to_pylist() if r["borough_code"] in set(area)]
    pop = {g: sum(r["population"] for r in pop_rows if r["ethnic_group"] == g) for g in GROUPS}
    k = np.array([counts.get(g, 0) for g in GROUPS], dtype=float)
    p = np.array([pop[g] for g in GROUPS], dtype=float)
    ref = GROUPS.index(REFERENCE)
    rr, lo, hi = rate_ratio(k, p, k[ref], p[ref])
    lo[ref] = hi[ref] = np.nan  # the reference against itself has no interval
    per = np.where(p > 0, 1000 * k / np.where(p > 0, p, 1), np.nan)
    all_k = float(sum(counts.values()))
    rates = pa.table({
        "ethnic_group": [*GROUPS, "All"],
        "searches": pa.array([*k.astype(np.int64), int(all_k)]),
        "population": pa.array([*p.astype(np.int64), int(p.sum())]),
        "per_1000": pa.array([*per, 1000 * all_k / p.sum()]),
        "per_1000_year": pa.array([*(per * 12 / months), 1000 * all_k / p.sum() * 12 / months]),
        "rr": pa.array([*rr, np.nan]), "rr_lo": pa.array([*lo, np.nan]), "rr_hi": pa.array([*hi, np.nan]),
    })  # fmt: skip
    by_b = _by_borough(con, sc, group_sql, pops, area)
    cross = con.sql(
        f"SELECT coalesce({OFFICER_GROUP_SQL.format(c='officer_defined_ethnicity')}, '{NOT_RECORDED}') AS officer, "
        f"coalesce({SELF_GROUP_SQL.format(c='self_defined_ethnicity')}, '{NOT_RECORDED}') AS self, "
        f"count(*) AS searches FROM stop_searches WHERE {where} GROUP BY ALL ORDER BY ALL", params=params
    ).to_arrow_table()  # fmt: skip
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {SELF_GROUP_SQL.format(c='self_defined_ethnicity')} IS NULL), "
        f"count(*) FILTER (WHERE {OFFICER_GROUP_SQL.format(c='officer_defined_ethnicity')} IS NULL) "
        f"FROM stop_searches WHERE {where}", params
    ).fetchall()[0]  # fmt: skip
    n, self_missing, officer_missing = (int(v) for v in row)
    agree = sum(r["searches"] for r in cross.to_pylist() if r["officer"] == r["self"] != NOT_RECORDED)
    both = sum(r["searches"] for r in cross.to_pylist() if NOT_RECORDED not in (r["officer"], r["self"]))
    missing = {
        "rows": n, "self_missing": self_missing, "self_missing_share": self_missing / n,
        "officer_missing": officer_missing, "officer_missing_share": officer_missing / n,
        "both_recorded": both, "agree": agree, "agree_share": agree / both if both else float("nan"),
    }  # fmt: skip
    notes = [
        f"{self_missing / n:.1%} of searches have no {'self' if basis == 'self' else 'officer'}-defined ethnic group "
        f"and are in no group's rate (they are in 'All')." if basis == "self" else
        f"{officer_missing / n:.1%} of searches have no officer-defined ethnic group.",
    ]  # fmt: skip
    if basis == "officer":
        notes.append("Officers record no Mixed group: the Mixed rate on officer-defined ethnicity is zero.")
    notes.append(f"Populations of {len(area)} borough{'s' if len(area) != 1 else ''}: {chosen}.")
    warnings = []
    yearly = all_k * 12 / months
    if yearly > RESIDENT_SHARE * p.sum():
        warnings.append(
            f"Searches a year number {yearly / p.sum():.0%} of the residents: most people searched here do not "
            "live here (a city centre, or a small area), so rates per resident overstate and the relative "
            "rates compare who passes through with who lives here."
        )
    return Disproportionality(basis, months, area, rates, by_b, cross, missing, notes + warnings, warnings)


def _by_borough(con: duckdb.DuckDBPyConnection, sc: Scope, group_sql: str, pops: pa.Table,
                area: list[str]) -> pa.Table:  # fmt: skip
    where, params = sc.where()
    got = con.execute(
        f"SELECT borough_code, {group_sql} AS g, count(*) FROM stop_searches WHERE {where} AND borough_code IS NOT NULL "
        "GROUP BY ALL", params
    ).fetchall()  # fmt: skip
    counts = {(b, g): int(c) for b, g, c in got}
    names = dict(con.execute("SELECT code, name FROM areas WHERE kind = 'borough'").fetchall())
    pop = {(r["borough_code"], r["ethnic_group"]): r["population"] for r in pops.to_pylist()}
    out: dict[str, list[Any]] = {k: [] for k in ("borough_code", "borough", "ethnic_group", "searches",
                                                  "population", "per_1000", "rr", "rr_lo", "rr_hi")}  # fmt: skip
    for b in area:
        k = np.array([counts.get((b, g), 0) for g in GROUPS], dtype=float)
        p = np.array([pop.get((b, g), 0) for g in GROUPS], dtype=float)
        ref = GROUPS.index(REFERENCE)
        rr, lo, hi = rate_ratio(k, p, k[ref], p[ref])
        for i, g in enumerate(GROUPS):
            vals = (b, names.get(b, b), g, int(k[i]), int(p[i]), 1000 * k[i] / p[i] if p[i] else np.nan,
                    rr[i], lo[i], hi[i])  # fmt: skip
            for key, v in zip(out, vals, strict=True):
                out[key].append(v)
    return pa.table(out)
