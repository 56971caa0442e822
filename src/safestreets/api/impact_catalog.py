"""What the dashboard reads of the impact work: stored evaluations, Knox tables and fairness audits (the
web app reads a snapshot, so it shows what the CLI or a notebook computed and stored), and the
feedback-loop simulation, which is cheap enough to run per request."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from safestreets.api.workspace import Workspace

MAX_ROUNDS = 1000


class ImpactSummary(BaseModel):
    result_id: int
    kind: str = Field(description="evaluation, near-repeat or fairness")
    label: str | None
    created_at: str


class ImpactOverview(BaseModel):
    results: list[ImpactSummary]
    advice: dict[str, Any] | None = Field(description="the latest near-repeat advice")
    fairness: list[str] | None = Field(description="the latest fairness audit's summary lines")
    evaluation: list[str] | None = Field(description="the latest evaluation's summary lines")
    notes: list[str] = Field(default_factory=list)


class ImpactDetail(BaseModel):
    result_id: int
    kind: str
    label: str | None
    created_at: str
    stale: bool = Field(description="data were loaded after it was computed")
    params: dict[str, Any]
    result: dict[str, Any]


class FeedbackRun(BaseModel):
    targets: str
    true_share: list[float]
    final_patrol_share: list[float]
    distance: float
    runaway: bool
    summary: str


def overview(ws: Workspace) -> ImpactOverview:
    from safestreets.store.impact import read_impact

    rows = [ImpactSummary(**r) for r in ws.impact_results()]
    fair = read_impact(ws.con, "fairness")
    ev = read_impact(ws.con, "evaluation")
    notes = []
    if not rows:
        notes.append(
            "nothing stored yet: run 'safestreets evaluate impact', 'evaluate near-repeat' or 'audit fairness'"
        )
    return ImpactOverview(
        results=rows,
        advice=ws.near_repeat_advice(),
        fairness=None if fair is None else list(fair["result"].get("summary", [])),
        evaluation=None if ev is None else list(ev["result"].get("summary", [])),
        notes=notes,
    )


def detail(ws: Workspace, result_id: int) -> ImpactDetail:
    found = ws.impact_result(None, result_id)
    assert found is not None  # read_impact raises NotFoundError for a missing id
    return ImpactDetail(**found)


def feedback(rounds: int = 300, seed: int = 0) -> list[FeedbackRun]:
    from safestreets.api.fairness import feedback_simulation

    return [FeedbackRun(**r) for r in feedback_simulation(rounds=min(rounds, MAX_ROUNDS), seed=seed)]
