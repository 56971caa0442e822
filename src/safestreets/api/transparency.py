"""``safestreets audit record``: an Algorithmic Transparency Recording Standard (ATRS) record for the
deployed configuration, and the inputs a data protection impact assessment (DPIA) needs.

The record follows the ATRS layout (v3): metadata; Tier 1, an overview for the public; Tier 2 in five
sections (owner and responsibility; description and rationale; decision-making process; data; risks,
mitigations and impact assessments). Everything the store can say is filled from it: the data loaded,
the deployed forecast (model, target, units), its accuracy against the published baselines from the
stored backtest, the latest fairness audit, and how people oversee it. What only the force can say
(owner, contact, senior responsible owner) comes from the options and is marked "to complete" when not
given. Written as JSON (for the ATRS repository) and Markdown (for people).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from safestreets import __version__

TO_COMPLETE = "to complete by the force"
STANDARD_VERSION = "3.0"


@dataclass
class RecordResult:
    record: dict[str, Any]
    files: list[Path]
    gaps: list[str]


def _data_section(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    events = con.execute(
        "SELECT source, count(*), min(month), max(month), count(DISTINCT crime_type) FROM events GROUP BY source "
        "ORDER BY source"
    ).fetchall()
    stops = con.execute(
        "SELECT count(*), min(month), max(month), count(*) FILTER (WHERE x IS NULL), "
        "count(*) FILTER (WHERE self_defined_ethnicity IS NULL OR self_defined_ethnicity = '') FROM stop_searches"
    ).fetchall()[0]
    areas = con.execute("SELECT kind, count(*) FROM areas GROUP BY kind ORDER BY kind").fetchall()
    return {
        "source_data": [
            {"source": s, "rows": int(n), "first_month": str(a), "last_month": str(b), "crime_types": int(t)}
            for s, n, a, b, t in events
        ],
        "stop_and_search": {
            "rows": int(stops[0]),
            "first_month": None if stops[1] is None else str(stops[1]),
            "last_month": None if stops[2] is None else str(stops[2]),
            "rows_without_location": int(stops[3]),
            "rows_without_self_defined_ethnicity": int(stops[4]),
        },
        "areas": {str(k): int(n) for k, n in areas},
        "personal_data": (
            "street-level crime is published anonymised (locations snapped to points with at least 8 "
            "addresses, month only); force records may hold times and exact places; stop and search rows hold "
            "age range, gender and ethnicity of the person searched. No names, no individual risk scores."
        ),
        "sensitive_attributes": "ethnicity (stop and search, census groups) is used only to audit fairness",
    }


def _model_section(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], list[str]]:
    gaps: list[str] = []
    run = con.execute(
        "SELECT run_id, target, police_found, model, horizon, units_kind, cell_size, rank_by, reason, window_start "
        "FROM forecast_runs ORDER BY run_id DESC LIMIT 1"
    ).fetchall()
    if not run:
        gaps.append("no forecast in the store: the model section is empty (run 'safestreets forecast')")
        return {"deployed": None}, gaps
    r = run[0]
    out: dict[str, Any] = {
        "deployed": {
            "forecast_run": int(r[0]),
            "target": r[1],
            "police_found_target": bool(r[2]),
            "model": r[3],
            "horizon": r[4],
            "units": r[5],
            "cell_size_m": r[6],
            "rank_by": r[7],
            "why_this_model": r[8],
            "window_start": str(r[9]),
        },
        "baselines": ["histavg (historical average, the reference)", "last-period (last period's count)",
                      "kde (kernel density)", "prospective (Bowers et al. 2004)"],
    }
    bt = con.execute(
        "SELECT run_id, summary, params FROM forecast_backtests ORDER BY (run_id = ?) DESC, run_id DESC LIMIT 1",
        [int(r[0])],
    ).fetchall()
    if not bt:
        gaps.append(
            "no stored backtest: accuracy against baselines is not measured (run 'forecast --model auto')"
        )
        out["accuracy"] = None
        return out, gaps
    summary = json.loads(bt[0][1]) if isinstance(bt[0][1], str) else bt[0][1]
    params = json.loads(bt[0][2]) if isinstance(bt[0][2], str) else bt[0][2]
    rows = []
    for row in summary or []:
        rows.append({k: row.get(k) for k in ("model", "coverage", "hit_rate", "hit_rate_lo", "hit_rate_hi", "pai",
                                              "pei", "harm_captured") if k in row})  # fmt: skip
    best_baseline: dict[str, Any] = {}
    for row in rows:
        # The strongest baseline other than the deployed model (which may itself be a baseline).
        if row.get("model") in ("histavg", "last-period", "naive", "kde", "prospective") and row.get("model") != r[3]:
            cov = row.get("coverage")
            if cov not in best_baseline or (row.get("hit_rate") or 0) > (
                best_baseline[cov].get("hit_rate") or 0
            ):
                best_baseline[cov] = row
    deployed = [row for row in rows if row.get("model") == r[3]]
    comparison = []
    for row in deployed:
        base = best_baseline.get(row.get("coverage"))
        if base and base.get("hit_rate"):
            comparison.append({
                "coverage": row.get("coverage"), "model_hit_rate": row.get("hit_rate"),
                "best_baseline": base.get("model"), "baseline_hit_rate": base.get("hit_rate"),
                "ratio": round((row.get("hit_rate") or 0) / base["hit_rate"], 3),
            })  # fmt: skip
    out["accuracy"] = {"backtest_of_run": int(bt[0][0]), "params": params, "summary": rows,
                       "against_strongest_baseline": comparison}  # fmt: skip
    return out, gaps


def build_record(
    con: duckdb.DuckDBPyConnection,
    *,
    organisation: str | None = None,
    team: str | None = None,
    contact_email: str | None = None,
    senior_owner: str | None = None,
    retention_months: int = 36,
    phase: str = "production",
    region: str = "England",
) -> tuple[dict[str, Any], list[str]]:
    from safestreets.store.impact import read_impact

    gaps: list[str] = []
    for name, value in (("organisation", organisation), ("contact email", contact_email),
                        ("senior responsible owner", senior_owner)):  # fmt: skip
        if not value:
            gaps.append(f"{name}: {TO_COMPLETE} (--{name.replace(' ', '-').replace('-responsible', '')})")
    data = _data_section(con)
    models, model_gaps = _model_section(con)
    gaps += model_gaps
    fair = read_impact(con, "fairness")
    if fair is None:
        gaps.append("no fairness audit stored: run 'safestreets audit fairness'")
    deployed = models.get("deployed") or {}
    record = {
        "metadata": {
            "standard_version": STANDARD_VERSION,
            "date_completion": datetime.now(UTC).strftime("%d/%m/%Y"),
            "tool_version": f"safestreets {__version__}",
            "generated_by": "safestreets audit record",
        },
        "tier_1": {
            "name": "safestreets hot spot forecasting and patrol planning",
            "description": (
                "Forecasts where crime harm is likely to concentrate next month from published police.uk data "
                "and the force's own records, and proposes a week of short, randomised hot spot patrols. "
                "Analysts review every output; it never scores people."
            ),
            "website": TO_COMPLETE,
            "contact_email": contact_email or TO_COMPLETE,
            "organisation": organisation or TO_COMPLETE,
            "function": "policing: crime prevention and patrol deployment",
            "phase": phase,
            "region": region,
        },
        "tier_2": {
            "owner_and_responsibility": {
                "organisation": organisation or TO_COMPLETE,
                "team": team or TO_COMPLETE,
                "senior_responsible_owner": senior_owner or TO_COMPLETE,
                "external_supplier": "none: open-source software run by the force",
            },
            "description_and_rationale": {
                "detailed_description": (
                    f"Place-based forecast (model {deployed.get('model', 'n/a')}, target "
                    f"{deployed.get('target', 'n/a')}, {deployed.get('units', 'n/a')} units) ranked by "
                    f"expected {deployed.get('rank_by', 'harm')} (Cambridge Crime Harm Index); a plan allocates "
                    "patrol visits of 10-16 minutes (Koper 1995) under caps that stop the same areas being "
                    "patrolled week after week."
                ),
                "scope": "places (grid cells or areas), never individuals",
                "benefit": "patrol time goes where harm is expected; evaluated with difference-in-differences, "
                "interrupted time series and displacement checks (safestreets evaluate impact)",
                "alternatives_considered": models.get("baselines"),
                "models": models,
            },
            "decision_making_process": {
                "process_integration": "advice to the tasking and coordination group; officers and supervisors decide",
                "provided_information": "risk maps, hot spot lists, patrol cards, a weekly briefing",
                "frequency_and_scale": "weekly or fortnightly, one force",
                "human_decisions_and_review": (
                    "analysts run and check each forecast; the plan is a proposal a supervisor accepts, edits or "
                    "rejects; every view, export and change is kept in a hash-chained audit trail"
                ),
                "required_training": "analysts: the model cards and docs/impact.md (what the figures can and cannot say)",
                "appeals_and_review": "public questions to the contact email; the fairness audit is re-run with each plan",
                "roles": {
                    "viewer": "reads",
                    "analyst": "reads and exports",
                    "admin": "manages users, reads the audit trail",
                },
            },
            "data": {**data, "retention": f"analytic store kept {retention_months} months; audit trail kept"},
            "risks_mitigations_and_impact_assessments": {
                "impact_assessments": [
                    "DPIA: inputs below (dpia_inputs); the force completes and signs it",
                    "fairness audit: "
                    + ("; ".join(fair["result"].get("summary", [])) if fair else "not run"),
                ],
                "risks": [
                    {
                        "risk": "feedback loop: patrols find more crime where they patrol (Ensign et al. 2018)",
                        "mitigation": "targets default to crime the public reports; police-found targets need an "
                        "explicit option and carry a warning; 'safestreets evaluate feedback-loop' shows the effect",
                    },
                    {
                        "risk": "over-policing of some communities (Lum and Isaac 2016)",
                        "mitigation": "fairness audit of each plan: exposure share against harm share per area and "
                        "per ethnic group, for patrols and stop and search",
                    },
                    {
                        "risk": "displacement of crime to nearby streets",
                        "mitigation": "Weighted Displacement Quotient with every impact evaluation",
                    },
                    {
                        "risk": "police-found crime in police.uk data reflects enforcement",
                        "mitigation": "police-found types are excluded from harm by default (Sherman 2016)",
                    },
                ],
            },
        },
        "fairness_audit": None if fair is None else fair["result"],
        "dpia_inputs": {
            "nature_of_processing": "aggregation of crime records and stop and search records to places and months",
            "scope": {
                "data": [d["source"] for d in data["source_data"]]
                + ["stop and search" if data["stop_and_search"]["rows"] else ""],
                "individuals_affected": "victims and suspects only as anonymised records; residents of areas patrolled",
                "special_category_data": "ethnicity in stop and search records (used only in the fairness audit)",
                "retention_months": retention_months,
                "geography": region,
            },
            "context": "operational policing; the public cannot see or opt out of place-based forecasts",
            "purposes": "reduce harm by placing patrols; evaluate operations; audit who is policed",
            "necessity_and_proportionality": "place-level only; no individual risk lists (the ICO's 2018 "
            "notice on the Gangs Matrix is the case to avoid)",
            "measures": [
                "role-based access",
                "audit trail of every access",
                "retention limit",
                "fairness audit",
                "human review of every plan",
            ],
        },
        "gaps": gaps,
    }
    record["dpia_inputs"]["scope"]["data"] = [d for d in record["dpia_inputs"]["scope"]["data"] if d]
    return record, gaps


def _markdown(record: dict[str, Any]) -> str:
    t1, t2 = record["tier_1"], record["tier_2"]
    lines = [f"# Algorithmic transparency record: {t1['name']}", "",
             f"ATRS v{record['metadata']['standard_version']}, completed {record['metadata']['date_completion']}, "
             f"{record['metadata']['tool_version']}", "", "## Tier 1: overview", ""]  # fmt: skip
    lines += [f"- **{k.replace('_', ' ')}**: {v}" for k, v in t1.items()]
    for section, body in t2.items():
        lines += ["", f"## Tier 2: {section.replace('_', ' ')}", ""]
        for k, v in body.items():
            if isinstance(v, dict | list):
                lines += [
                    f"- **{k.replace('_', ' ')}**:",
                    "",
                    "```json",
                    json.dumps(v, indent=2, default=str),
                    "```",
                    "",
                ]
            else:
                lines.append(f"- **{k.replace('_', ' ')}**: {v}")
    lines += ["", "## Inputs for the data protection impact assessment", "", "```json",
              json.dumps(record["dpia_inputs"], indent=2), "```", ""]  # fmt: skip
    if record["gaps"]:
        lines += ["## Still to complete", ""] + [f"- {g}" for g in record["gaps"]]
    return "\n".join(lines) + "\n"


def write_record(
    con: duckdb.DuckDBPyConnection, outputs: Path, *, out_dir: Path | None = None, **options: Any
) -> RecordResult:
    record, gaps = build_record(con, **options)
    folder = out_dir or outputs
    folder.mkdir(parents=True, exist_ok=True)
    js = folder / "atrs-record.json"
    md = folder / "atrs-record.md"
    js.write_text(json.dumps(record, indent=2, default=str) + "\n")
    md.write_text(_markdown(record))
    return RecordResult(record, [js, md], gaps)
