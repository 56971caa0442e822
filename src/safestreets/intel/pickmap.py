"""The map a reporter can pick a place on without JavaScript: an SVG of area outlines drawn linearly in
longitude and latitude (x shrunk by the cosine of the mid latitude, so it does not look stretched), with a
JSON sidecar giving its bounds and its size in pixels. The staff side draws it from the store's
boundaries (``safestreets intel map``); the intake host serves the two files and turns the pixel a click
on ``<input type="image">`` sends into a latitude and longitude."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from safestreets.errors import InputError

WIDTH = 320  # CSS pixels: drawn at exactly this size, so a click's pixel maps back to a place


@dataclass(frozen=True)
class PickMap:
    svg: Path
    bounds: tuple[float, float, float, float]  # west, south, east, north (degrees)
    width: int
    height: int

    def place(self, x: float, y: float) -> tuple[float, float]:
        """Latitude and longitude of pixel (x, y), rounded to about 10 m (the place is coarsened later)."""
        w, s, e, n = self.bounds
        fx = min(max(x / self.width, 0.0), 1.0)
        fy = min(max(y / self.height, 0.0), 1.0)
        return round(n - fy * (n - s), 4), round(w + fx * (e - w), 4)

    @staticmethod
    def load(svg: Path) -> PickMap:
        side = svg.with_suffix(".json")
        try:
            meta = json.loads(side.read_text("utf-8"))
            w, s, e, n = (float(v) for v in meta["bounds"])
            return PickMap(svg, (w, s, e, n), int(meta["width"]), int(meta["height"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                side, "not a pick map's sidecar (bounds, width, height): run 'safestreets intel map'"
            ) from exc


def _rings(geom: dict[str, Any]) -> list[list[list[float]]]:
    if geom["type"] == "Polygon":
        return list(geom["coordinates"])
    if geom["type"] == "MultiPolygon":
        return [ring for poly in geom["coordinates"] for ring in poly]
    return []


def draw(geoms: Sequence[dict[str, Any]], labels: Sequence[tuple[float, float, str]], out: Path) -> PickMap:
    """Write ``out`` (SVG) and its sidecar from GeoJSON polygons in longitude and latitude."""
    xs = [p[0] for g in geoms for r in _rings(g) for p in r]
    ys = [p[1] for g in geoms for r in _rings(g) for p in r]
    if not xs:
        raise InputError(out, "no boundaries to draw: load areas first ('safestreets areas load')")
    w, e, s, n = min(xs), max(xs), min(ys), max(ys)
    k = math.cos(math.radians((s + n) / 2))
    scale = WIDTH / max((e - w) * k, 1e-9)
    height = max(round((n - s) * scale), 40)
    e = w + WIDTH / scale / k  # the bounds of the picture, exactly
    s = n - height / scale

    def pt(x: float, y: float) -> str:
        return f"{(x - w) * k * scale:.1f},{(n - y) * scale:.1f}"

    paths = "".join(
        '<path d="'
        + " ".join("M" + " L".join(pt(x, y) for x, y in r) + " Z" for r in _rings(g))
        + '" fill="#eef3f8" stroke="#34495e" stroke-width="0.6"/>'
        for g in geoms
    )
    text = "".join(
        f'<text x="{pt(x, y).split(",")[0]}" y="{pt(x, y).split(",")[1]}" font-size="9" text-anchor="middle" '
        f'fill="#223">{escape(label)}</text>'
        for x, y, label in labels
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
                   f'viewBox="0 0 {WIDTH} {height}"><rect width="100%" height="100%" fill="#fff"/>{paths}{text}</svg>',
                   "utf-8")  # fmt: skip
    bounds = (round(w, 6), round(s, 6), round(e, 6), round(n, 6))
    out.with_suffix(".json").write_text(
        json.dumps({"bounds": bounds, "width": WIDTH, "height": height}), "utf-8"
    )
    return PickMap(out, bounds, WIDTH, height)
