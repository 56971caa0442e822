"""Maps drawn from our own boundaries with matplotlib: no tile server, prints cleanly on paper.

Small pieces that every map shares (polygon paths, outlines, a frame with a scale bar) plus the risk
surface map used by the briefing and the patrol cards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.collections import PathCollection
from matplotlib.path import Path as MplPath

from safestreets.evaluate.charts import tight_layout


def polygon_path(geom: shapely.Geometry) -> MplPath | None:
    """A matplotlib Path of a (multi)polygon, holes included; None for anything without area."""
    parts = []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in [poly.exterior, *poly.interiors]:
            coords = np.asarray(ring.coords)
            if len(coords) >= 3:
                codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
                codes[0], codes[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
                parts.append(MplPath(coords, codes))
    return MplPath.make_compound_path(*parts) if parts else None


def paths(geoms: Any) -> list[MplPath]:
    return [p for p in (polygon_path(g) for g in np.atleast_1d(np.asarray(geoms, dtype=object)) if g is not None)
            if p is not None]  # fmt: skip


def nice_length(span: float) -> float:
    """A round scale-bar length near a fifth of the map's width."""
    target = span / 5
    if target <= 0:
        return 0.0
    power = 10 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def outline(ax: Any, geoms: Any, *, colour: str = "black", width: float = 0.9, zorder: int = 3) -> None:
    ax.add_collection(PathCollection(paths(geoms), facecolor="none", edgecolor=colour, linewidth=width,
                                     zorder=zorder))  # fmt: skip


def frame(ax: Any, bounds: tuple[float, float, float, float], *, metres: bool = True) -> None:
    """Fit the view to ``bounds``, drop the axes and add a scale bar when coordinates are metres."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    pad = 0.02 * max(maxx - minx, maxy - miny, 1.0)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if metres:
        length = nice_length(maxx - minx)
        if length > 0:
            x0, y0 = minx, miny - pad * 0.6
            ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=2.5, solid_capstyle="butt", zorder=4,
                    clip_on=False)  # fmt: skip
            label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
            ax.text(x0 + length + pad * 0.3, y0, label, ha="left", va="center", fontsize=7, zorder=4,
                    clip_on=False)  # fmt: skip


def surface_map(
    out_png: str | Path,
    geometry: np.ndarray,
    values: np.ndarray,
    *,
    boundaries: Any = None,
    labels: list[tuple[float, float, str]] | None = None,
    highlight: np.ndarray | None = None,
    markers: list[tuple[float, float, str]] | None = None,
    title: str = "",
    legend: str = "expected harm per km²",
    bounds: tuple[float, float, float, float] | None = None,
    size: tuple[float, float] = (7.0, 6.0),
    note: str = "",
) -> Path:
    """Units filled by ``values`` (zero left white), ``highlight`` units outlined in black, boundaries on
    top, optional text labels and numbered markers; saved as a PNG."""
    fig, ax = plt.subplots(figsize=size, dpi=130)
    values = np.asarray(values, dtype="float64")
    pos = values > 0
    cmap = plt.get_cmap("YlOrRd")
    if pos.any():
        hi = float(np.quantile(values[pos], 0.995)) or float(values.max())
        norm = matplotlib.colors.Normalize(vmin=0.0, vmax=hi)
        idx = np.flatnonzero(pos)
        coll = PathCollection(paths(geometry[idx]), facecolor=cmap(norm(np.minimum(values[idx], hi))),
                              edgecolor="none", zorder=1)  # fmt: skip
        ax.add_collection(coll)
        sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(sm, ax=ax, fraction=0.035, pad=0.01)
        bar.set_label(legend, fontsize=7)
        bar.ax.tick_params(labelsize=6)
    if highlight is not None and np.any(highlight):
        ax.add_collection(PathCollection(paths(geometry[np.asarray(highlight)]), facecolor="none",
                                         edgecolor="#08306b", linewidth=0.8, zorder=2))  # fmt: skip
    if boundaries is not None:
        outline(ax, boundaries)
    for x, y, text in labels or []:
        ax.text(
            x,
            y,
            text,
            fontsize=7,
            ha="center",
            va="center",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
    for x, y, text in markers or []:
        # Wide enough for the label: plan-wide hot spot numbers run to three digits in a large force.
        ax.plot([x], [y], marker="o", markersize=11 + 3.5 * max(0, len(text) - 2), markerfacecolor="white",
                markeredgecolor="#08306b", zorder=6)  # fmt: skip
        ax.text(x, y, text, fontsize=6.5, ha="center", va="center", zorder=7, color="#08306b", weight="bold")
    if bounds is None:
        geoms = (
            geometry
            if boundaries is None
            else np.concatenate(
                [np.asarray(geometry, dtype=object), np.atleast_1d(np.asarray(boundaries, dtype=object))]
            )
        )
        bounds = tuple(shapely.total_bounds(geoms))
    frame(ax, bounds)
    if title:
        ax.set_title(title, fontsize=10)
    if note:
        fig.text(0.01, 0.01, note, fontsize=6, color="#404040")
    return save(fig, out_png)


def save(fig: Any, out_png: str | Path) -> Path:
    """Lay out, write as PNG on white and free the figure."""
    tight_layout(fig)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, facecolor="white")
    plt.close(fig)
    return out
