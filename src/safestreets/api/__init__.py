"""The public Python API: one :class:`Workspace` object with a method per job, and typed results.

The CLI, the web app and notebooks all call it; see ``docs/python.md`` for runnable examples.
"""

from safestreets.api.demo import DemoResult, run_demo
from safestreets.api.results import (
    BacktestReport,
    BriefResult,
    ExportResult,
    ForecastResult,
    HotspotsResult,
    HubsResult,
    IngestReport,
    Listing,
    LoadReport,
    PlanResult,
    StatusReport,
)
from safestreets.api.workspace import Workspace

__all__ = [
    "BacktestReport",
    "BriefResult",
    "DemoResult",
    "ExportResult",
    "ForecastResult",
    "HotspotsResult",
    "HubsResult",
    "IngestReport",
    "Listing",
    "LoadReport",
    "PlanResult",
    "StatusReport",
    "Workspace",
    "run_demo",
]
