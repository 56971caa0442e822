"""The shapes :mod:`safestreets.api.catalog` answers in: pydantic models, so the dashboard's JSON API
documents them (OpenAPI) and a notebook gets typed objects (``.model_dump()`` for plain dicts).

Numbers that can be undefined (a stability over one origin, a change against a zero mean) are ``None``
rather than NaN: JSON has no NaN.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: A float that is None where it is undefined (NaN or infinite).
Num = Annotated[float | None, BeforeValidator(_finite)]


# --- forecasts -----------------------------------------------------------------------------------------


class ForecastRunSummary(BaseModel):
    run_id: int
    created_at: datetime
    target: str
    police_found: bool
    model: str
    horizon: str
    window_start: datetime
    window_end: datetime
    units_kind: str
    cell_size: Num = None
    units: int = Field(description="units (grid cells or areas) the surface covers")
    rank_by: str
    reason: str | None = Field(None, description="why this model: auto's reason, or 'chosen by the user'")
    plans: int = Field(0, description="patrol plans made from this run")


class HotSpot(BaseModel):
    bcu: str
    rank: int = Field(description="1 = riskiest unit of the whole surface (by the run's rank_by, per km²)")
    unit_id: str
    expected_count: Num
    expected_harm: Num
    lat: Num
    lon: Num
    lower: Num = Field(None, description="the predictive interval of the count, lower end (whole counts; the "
                       "level is the run's intervals.level, 80% by default; null for a run without)")
    upper: Num = Field(None, description="the predictive interval of the count, upper end")
    place: str | None = Field(None, description="the nearest named place within 500 m, where one is loaded")
    place_kind: str | None = None
    place_distance_m: Num = None
    area: str | None = Field(
        None, description="the name of the neighbourhood (LSOA) holding the unit's centre"
    )


class BacktestRow(BaseModel):
    model: str
    horizon: str | None = None
    coverage: Num
    origins: int | None = None
    hit_rate: Num = None
    hit_rate_lo: Num = None
    hit_rate_hi: Num = None
    pai: Num = None
    pei: Num = None
    harm_captured: Num = None
    stability: Num = None
    fit_seconds: Num = None
    ceiling_hit_rate: Num = Field(None, description="hit rate of a clairvoyant stationary forecast (each unit's "
                                  "mean over all the data but the scored period): the noise ceiling")
    ceiling_share: Num = Field(None, description="hit rate / ceiling: the share of what is achievable here")
    oracle_hit_rate: Num = Field(None, description="hit rate ranking by the scored period's own counts")


class CoverageCurve(BaseModel):
    model: str
    baseline: bool
    points: list[tuple[float, Num]] = Field(
        description="(share of the area flagged, share of crime captured)"
    )


class BacktestSummary(BaseModel):
    source: str = Field(
        description="where the numbers come from: the run's own model choice, or a stored backtest"
    )
    origins: int | None = None
    rows: list[BacktestRow]
    curves: list[CoverageCurve]


class Staleness(BaseModel):
    data_end: str | None = None
    days_after_data: Num = None


class AutoChoice(BaseModel):
    reason: str
    scores: dict[str, Num]


class ForecastRunDetail(BaseModel):
    run: ForecastRunSummary
    study_area: str | None = None
    area_km2: Num = None
    source: str | None = None
    data_months: list[str | None] = Field(
        default_factory=list, description="first and last month of the data"
    )
    events: int | None = None
    staleness: Staleness | None = None
    harm_weights: dict[str, Num] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict, description="the model's parameters")
    auto: AutoChoice | None = None
    backtest: BacktestSummary | None = None
    top_per_bcu: int
    top: list[HotSpot]
    intervals: dict[str, Any] | None = Field(
        None, description="the run's predictive intervals: level, dispersions (k_unit, k_total), calibration "
        "periods, and totals per BCU and for the city (expected, lower, upper); null for a run without"
    )
    files: list[str] = Field(
        default_factory=list, description="files in the outputs folder made from this run"
    )
    notes: list[str] = Field(default_factory=list)


class RunScores(BaseModel):
    run_id: int
    target: str
    window_start: datetime
    chosen: str
    scores: dict[str, Num]


class StoredBacktest(BaseModel):
    name: str
    made_at: str | None = None
    origins: int | None = None
    horizons: list[str] = Field(default_factory=list)
    summary: BacktestSummary


class ModelComparison(BaseModel):
    models: list[str]
    runs: list[RunScores] = Field(
        description="auto's mean hit rate per model at each run that chose by backtest"
    )
    backtests: list[StoredBacktest] = Field(description="backtests stored in the outputs folder")
    notes: list[str] = Field(default_factory=list, description="stored backtests that cannot be read")


# --- plans ---------------------------------------------------------------------------------------------


class PlanSummary(BaseModel):
    plan_id: int
    created_at: datetime
    week_start: date
    forecast_run_id: int | None = None
    solver: str
    status: str
    objective: Num = Field(description="expected harm prevented per week (the dosage model)")
    bound: Num = None
    gap: Num = None
    seconds: Num = None
    teams: int = Field(description="team-shifts")
    hotspots: int
    visits_per_day: int


class BcuPlan(BaseModel):
    bcu: str
    teams: int
    hotspots: int
    visits_per_day: int
    harm_week: Num = Field(None, description="expected harm a week in the BCU's planned hot spots")
    harm_prevented_week: Num


class PlanTeam(BaseModel):
    team_id: str
    home: str
    bcu: str
    shift: str
    stops: list[int] = Field(description="hot spot numbers in walking order")
    visits_per_day: int


class PlanHotSpot(BaseModel):
    hotspot: int = Field(description="the hot spot's one number in the plan (cards, visits, briefing)")
    unit_id: str
    bcu: str
    neighbourhood: str | None = None
    visits_per_day: int
    harm_week: Num
    lat: Num
    lon: Num
    teams: list[str]


class PlanDetail(BaseModel):
    plan: PlanSummary
    by_bcu: list[BcuPlan]
    teams: list[PlanTeam]
    hotspots: list[PlanHotSpot]
    shift_share: dict[str, Num] = Field(default_factory=dict)
    rules: dict[str, Any] = Field(default_factory=dict)
    cards: str | None = Field(
        None, description="the patrol cards PDF in the outputs folder, if it is this plan's"
    )
    cards_note: str | None = None


class Visit(BaseModel):
    team_id: str
    day: date
    seq: int
    hotspot: int | None = None
    unit_id: str
    starts_at: datetime
    ends_at: datetime


class PlanVisits(BaseModel):
    plan_id: int
    team: str | None = None
    day: date | None = None
    visits: list[Visit]


# --- overview ------------------------------------------------------------------------------------------


class TrendSeries(BaseModel):
    name: str = Field(description="a BCU's code, or 'citywide'")
    label: str = Field("", description="what people call it: the BCU's name, or 'citywide'")
    events: list[int]
    harm: list[Num]
    last: int
    mean_before: Num = Field(None, description="mean of the 4 months before the last")
    change: Num = Field(None, description="last month against that mean (0.1 = 10% more)")


class Trend(BaseModel):
    target: str
    types: list[str]
    source: str
    months: list[str]
    series: list[TrendSeries]
    left_out: dict[str, int] = Field(
        default_factory=dict, description="BCUs with under 2% of the crimes (records over the area's edge): "
        "counted citywide only; name -> crimes"
    )  # fmt: skip


class ChangeRow(BaseModel):
    unit_id: str
    bcu: str
    category: str
    last_count: Num
    mean_before: Num
    trend_z: Num


class Changes(BaseModel):
    computed: bool
    run_id: int | None = None
    latest_run: bool = Field(False, description="whether it was computed on the latest forecast run's units")
    window: str | None = None
    file: str | None = None
    summary: dict[str, int] = Field(default_factory=dict)
    rows: list[ChangeRow] = Field(default_factory=list)
    note: str | None = None


class PlanGlance(BaseModel):
    plan: PlanSummary
    by_bcu: list[BcuPlan]


# --- hubs ----------------------------------------------------------------------------------------------


class HubDeployment(BaseModel):
    deployment: int
    place_id: str
    name: str | None = None
    kind: str | None = None
    day: str | None = None
    start: str | None = None
    end: str | None = None
    hub_rank: int | None = None
    hub_score: Num = None
    slot_share: Num = None
    lat: Num = None
    lon: Num = None
    reasons: str | None = None


class Hub(BaseModel):
    rank: int
    place_id: str
    name: str | None = None
    kind: str | None = None
    lat: Num = None
    lon: Num = None
    forecast_harm: Num = None
    recent_violence: int | None = None
    weapon_searches: int | None = None
    weapon_search_hits: int | None = None
    possession_of_weapons_police_found: int | None = None
    score: Num = None
    busiest: str | None = None
    reasons: str | None = None


class HubRanking(BaseModel):
    params: dict[str, Any]
    deployments: list[HubDeployment]
    hubs: list[Hub]
    notes: list[str]
    lines: list[str]
    provenance: dict[str, Any]


# --- briefings -----------------------------------------------------------------------------------------


class Briefing(BaseModel):
    week: date
    html: bool
    pdf: bool
    html_bytes: int | None = None
    pdf_bytes: int | None = None
    made_at: str | None = None
    target: str | None = None
    model: str | None = Field(None, description="the forecast's model")


# --- loads ---------------------------------------------------------------------------------------------


class Load(BaseModel):
    batch_id: int
    kind: str
    source: str
    force: str | None = None
    months: list[str] = Field(default_factory=list)
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_filtered: int
    rows_no_location: int
    rows_replaced: int
    loaded_at: datetime


class LoadsPage(BaseModel):
    total: int
    limit: int
    offset: int
    kind: str | None = None
    kinds: list[str]
    loads: list[Load]


class RejectReason(BaseModel):
    column_name: str
    reason: str
    rows: int


class LoadDetail(BaseModel):
    load: Load
    sha256: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    software_version: str
    reasons: list[RejectReason]


class RejectedRow(BaseModel):
    row_number: int | None = None
    column_name: str | None = None
    value: str | None = None
    reason: str


class RejectsPage(BaseModel):
    batch_id: int
    total: int
    limit: int
    offset: int
    rows: list[RejectedRow]


# --- data status ---------------------------------------------------------------------------------------


class TableStatus(BaseModel):
    rows: int
    no_location: int
    first_month: str | None = None
    last_month: str | None = None


class Gap(BaseModel):
    what: str
    first: str
    last: str
    months: int


class RejectedSummary(BaseModel):
    column: str
    reason: str
    rows: int


class StoreStatus(BaseModel):
    crs: str
    timezone: str
    loads: int
    tables: dict[str, TableStatus]
    forces: list[str]
    gaps: list[Gap] = Field(description="runs of months with no rows: missing data, not zero crime")
    areas: dict[str, int]
    places: dict[str, int]
    unassigned: int = Field(description="located events outside every loaded borough")
    rejected: int
    rejected_reasons: list[RejectedSummary]


class Overview(BaseModel):
    status: StoreStatus
    trend: Trend | None = None
    trend_note: str | None = None
    changes: Changes
    plan: PlanGlance | None = None


# --- accounts and the audit trail ----------------------------------------------------------------------


class User(BaseModel):
    username: str
    role: str
    disabled: bool
    locked_until: datetime | None = None
    created_at: datetime


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: str = Field("viewer", description="viewer, analyst or admin")


class OneTimePassword(BaseModel):
    username: str
    role: str
    password: str = Field(description="shown this once: it is stored only as a hash")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    params: str = Field(description="canonical JSON")
    outcome: str
    hash: str


class AuditPage(BaseModel):
    limit: int
    offset: int
    before: int | None = Field(None, description="only entries older than this id")
    more: bool = Field(description="whether older entries follow")
    next_before: int | None = Field(None, description="the 'before' of the next (older) page")
    entries: list[AuditEntry]


class AuditVerdict(BaseModel):
    ok: bool
    entries: int
    problem: str | None = None
    at_id: int | None = None
    message: str
