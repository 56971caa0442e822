"""How hot spots change over time: emerging, persistent and diminishing hot spots (Gi* + Mann-Kendall)."""

from safestreets.trends.emerging import (
    CATEGORIES,
    COLD_CATEGORIES,
    HOT_CATEGORIES,
    NO_PATTERN,
    NOTABLE,
    Change,
    Classification,
    EmergingResult,
    classify,
    emerging_hotspots,
    getis_ord_gi_star,
    mann_kendall,
    neighbours,
    period_edges,
    significant,
)

__all__ = [
    "CATEGORIES",
    "COLD_CATEGORIES",
    "HOT_CATEGORIES",
    "NOTABLE",
    "NO_PATTERN",
    "Change",
    "Classification",
    "EmergingResult",
    "classify",
    "emerging_hotspots",
    "getis_ord_gi_star",
    "mann_kendall",
    "neighbours",
    "period_edges",
    "significant",
]
