"""A printable map of emerging hot spot categories: units filled by category, a legend with counts, the
study area outline and a scale bar. No basemap, so it works offline and prints cleanly in grey."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import shapely

from safestreets.errors import ParameterError
from safestreets.evaluate.charts import tight_layout
from safestreets.geo.units import Units
from safestreets.report.maps import frame, outline, polygon_path
from safestreets.trends.emerging import CATEGORIES, NO_PATTERN


class Classified(Protocol):
    """A classification to draw: a live ``EmergingResult`` or a ``StoredEmerging`` read back."""

    @property
    def category(self) -> np.ndarray: ...

    params: dict[str, Any]

    def window(self) -> str: ...


# Reds for hot, blues for cold, darker for the stronger or more lasting patterns, so the order survives
# greyscale printing; the emerging ones (new, consecutive) are warm but light, and hatched.
COLOURS: dict[str, str] = {
    "new": "#fdae61",
    "consecutive": "#fee08b",
    "intensifying": "#67001f",
    "persistent": "#d6604d",
    "diminishing": "#f4a582",
    "sporadic": "#c51b7d",
    "oscillating": "#8c510a",
    "historical": "#bababa",
    "new cold": "#abd9e9",
    "consecutive cold": "#e0f3f8",
    "intensifying cold": "#053061",
    "persistent cold": "#4393c3",
    "diminishing cold": "#92c5de",
    "sporadic cold": "#35978f",
    "oscillating cold": "#01665e",
    "historical cold": "#d9d9d9",
    NO_PATTERN: "#ffffff",
}
HATCHES: dict[str, str] = {
    "new": "////",
    "consecutive": "\\\\\\\\",
    "new cold": "////",
    "consecutive cold": "\\\\\\\\",
}


def emerging_map(
    result: Classified,
    units: Units,
    out_png: str | Path,
    *,
    boundaries: Any = None,
    title: str = "",
) -> Path:
    """Draw ``units`` filled by ``result``'s category and save a PNG; returns its path.

    ``boundaries``: a shapely geometry, or an array of them, outlined on top (the study area, BCUs).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Patch

    category = result.category
    if len(units) != len(category):
        raise ParameterError(f"the result has {len(category)} units but {len(units)} were given")
    fig, ax = plt.subplots(figsize=(8.27, 8.27), dpi=150)  # A4 width
    edge = "#bdbdbd" if units.grid is None else "none"
    handles = []
    for cat in CATEGORIES:
        idx = np.flatnonzero(category == cat)
        if not len(idx):
            continue
        paths = [p for p in (polygon_path(g) for g in units.geometry[idx]) if p is not None]
        if not paths:
            continue
        coll = PathCollection(
            paths,
            facecolor=COLOURS[cat],
            edgecolor=edge,
            linewidth=0.3,
            hatch=HATCHES.get(cat),
            zorder=1 if cat == NO_PATTERN else 2,
        )
        ax.add_collection(coll)
        handles.append(
            Patch(
                facecolor=COLOURS[cat],
                edgecolor="#525252",
                hatch=HATCHES.get(cat),
                label=f"{cat} ({len(idx):,})",
            )
        )
    if boundaries is not None:
        geoms = np.atleast_1d(np.asarray(boundaries, dtype=object))
        outline(ax, geoms)
        bounds = shapely.total_bounds(np.concatenate([geoms, units.geometry]))
    else:
        bounds = shapely.total_bounds(units.geometry)
    frame(ax, tuple(bounds), metres=not str(units.crs).upper().endswith(("4326", "CRS84")))
    p = result.params
    ax.set_title(
        title or f"Emerging hot spots, {result.window()} ({p.get('periods')} periods of {p.get('period')})",
        fontsize=12,
    )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title="category (units)",
        title_fontsize=8,
    )
    note = (
        f"Getis-Ord Gi* at alpha {p.get('alpha')}"
        + (" (FDR-corrected)" if p.get("fdr") else "")
        + f", {p.get('neighbours', '')}; trend: Mann-Kendall on Gi* z; {p.get('measure', 'count')}"
        + f"; data {p.get('data_fingerprint', '')}, safestreets {p.get('safestreets_version', '')}"
    )
    fig.text(0.01, 0.01, note, fontsize=7, color="#404040")
    tight_layout(fig, rect=(0, 0.03, 1, 1))
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, facecolor="white", bbox_inches="tight")
    plt.close(fig)
    return out
