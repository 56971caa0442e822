"""The intel page's map: reports per LSOA as an inline SVG choropleth (no script, no tiles: the content
security policy allows neither, and an analyst's page should not call out)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

SHADES = ("#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#2b8cbe", "#045a8d")
HIDDEN = "#bdbdbd"  # counts under the threshold: shown as present, not as a number


def _rings(geom: dict[str, Any]) -> list[list[list[float]]]:
    if geom["type"] == "Polygon":
        return list(geom["coordinates"])
    if geom["type"] == "MultiPolygon":
        return [ring for poly in geom["coordinates"] for ring in poly]
    return []


def choropleth(layer: dict[str, Any], width: int = 640) -> str:
    """SVG markup for a FeatureCollection with ``reports`` and ``suppressed`` properties."""
    feats = [f for f in layer.get("features", []) if f.get("geometry")]
    if not feats or "bbox" not in layer:
        return ""
    x0, y0, x1, y1 = layer["bbox"]
    k = math.cos(math.radians((y0 + y1) / 2))  # metres per degree of longitude shrink with latitude
    span_x, span_y = max((x1 - x0) * k, 1e-9), max(y1 - y0, 1e-9)
    height = max(int(width * span_y / span_x), 80)
    scale = width / span_x
    top = max((f["properties"]["reports"] or 0) for f in feats) or 1
    paths = []
    for f in feats:
        p = f["properties"]
        n = p["reports"]
        fill = HIDDEN if p["suppressed"] else SHADES[0] if not n else SHADES[min(5, 1 + int(4 * n / top))]
        d = " ".join(
            "M" + " L".join(f"{(x - x0) * k * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in ring) + " Z"
            for ring in _rings(f["geometry"])
        )
        label = f"{f['properties']['area']}: " + ("fewer than 3" if p["suppressed"] else f"{n or 0} reports")
        paths.append(
            f'<path d="{d}" fill="{fill}" stroke="#666" stroke-width="0.3"><title>{escape(label)}</title></path>'
        )
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="Reports per LSOA">{"".join(paths)}</svg>')  # fmt: skip
