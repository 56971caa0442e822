"""Small charts drawn server-side as inline SVG: no chart library in the browser, and nothing the
dashboard's content security policy forbids (colours are presentation attributes, not style)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

#: Line colours (colour-blind safe, Okabe-Ito), in the order series are given.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def sparkline(
    values: Sequence[float | None], *, width: int = 160, height: int = 36, label: str = ""
) -> Markup:
    """A line of values with its last point marked (None values leave a gap)."""
    nums = [v for v in values if v is not None]
    if len(values) < 2 or not nums:
        return Markup("")
    top = max(nums) or 1.0
    step = (width - 6) / (len(values) - 1)
    pts = [
        (3 + i * step, height - 3 - (v / top) * (height - 6)) for i, v in enumerate(values) if v is not None
    ]
    path = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts)
    lx, ly = pts[-1]
    return Markup(
        f'<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(label)}</title>"
        f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{_fmt(lx)}" cy="{_fmt(ly)}" r="2.5" fill="{COLOURS[1]}"/></svg>'
    )


def line_chart(
    x: Sequence[float],
    series: Sequence[tuple[str, Sequence[tuple[float, float | None]], bool]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    percent: bool = True,
    diagonal: bool = False,
    width: int = 560,
    height: int = 320,
) -> Markup:
    """Lines through (x, y) points, one per ``(name, points, dashed)``, with axes, ticks at ``x`` and a
    legend; ``percent`` labels shares as percentages; ``diagonal`` draws y = x (a random ranking)."""
    left, right, top, bottom = 48, 175, 24, 40
    pw, ph = width - left - right, height - top - bottom
    xmax = max([*x, 1e-9])
    ys = [y for _, pts, _ in series for _, y in pts if y is not None]
    ymax = max([*ys, xmax if diagonal else 0.0, 1e-9])

    def sx(v: float) -> float:
        return left + v / xmax * pw

    def sy(v: float) -> float:
        return top + ph - v / ymax * ph

    def label(v: float) -> str:
        return f"{v:.0%}" if percent else f"{v:g}"

    out = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#555"/>',
    ]
    for v in x:
        out.append(
            f'<text x="{_fmt(sx(v))}" y="{top + ph + 14}" font-size="11" text-anchor="middle">{label(v)}</text>'
        )
    for k in range(5):
        v = ymax * k / 4
        out.append(
            f'<text x="{left - 4}" y="{_fmt(sy(v) + 4)}" font-size="11" text-anchor="end">{label(v)}</text>'
        )
        out.append(
            f'<line x1="{left}" y1="{_fmt(sy(v))}" x2="{left + pw}" y2="{_fmt(sy(v))}" stroke="#ddd"/>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 6}" font-size="12" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(f'<text x="12" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 12 {top + ph / 2})">{escape(y_label)}</text>')  # fmt: skip
    if diagonal:
        end = min(xmax, ymax)
        out.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{_fmt(sx(end))}" y2="{_fmt(sy(end))}" stroke="#999" '
                   'stroke-dasharray="2 3"/>')  # fmt: skip
    for i, (name, pts, dashed) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{_fmt(sx(px))},{_fmt(sy(py))}" for px, py in pts if py is not None)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>')
        ly = top + 14 * i + 6
        out.append(f'<line x1="{left + pw + 10}" y1="{ly}" x2="{left + pw + 30}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')  # fmt: skip
        out.append(f'<text x="{left + pw + 34}" y="{ly + 4}" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
