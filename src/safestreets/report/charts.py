"""Trend charts for the briefing: counts per period, citywide and per BCU, with the latest period marked.

Periods with no data at all (``missing``) are shaded and left blank: a line through them would draw a gap
in the published data as a drop to zero crimes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from safestreets.report.maps import save


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The (first, last) indices of each run of True in ``mask``."""
    out: list[tuple[int, int]] = []
    for i in np.flatnonzero(mask):
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], int(i))
        else:
            out.append((int(i), int(i)))
    return out


def _shade(ax: Any, missing: np.ndarray | None, *, label: bool) -> None:
    """Grey bands over the periods with no data, each labelled (when ``label``) "no data"."""
    if missing is None:
        return
    for a, b in runs(np.asarray(missing, dtype=bool)):
        ax.axvspan(a - 0.5, b + 0.5, color="#d9d9d9", alpha=0.6, linewidth=0, zorder=0)
        if label:
            ax.text((a + b) / 2, 0.5, "no data", transform=ax.get_xaxis_transform(), ha="center", va="center",
                    fontsize=7, color="#525252", rotation=90 if b - a < 2 else 0)  # fmt: skip


def _blank(values: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    out = np.asarray(values, dtype="float64").copy()
    if missing is not None:
        out[np.asarray(missing, dtype=bool)] = np.nan  # matplotlib breaks the line at NaN
    return out


def trend_chart(
    out_png: str | Path,
    periods: list[str],
    series: dict[str, np.ndarray],
    *,
    title: str,
    ylabel: str = "crimes",
    size: tuple[float, float] = (7.0, 2.6),
    missing: np.ndarray | None = None,
) -> Path:
    """One line per series over ``periods``; a dashed line at the mean of the periods before the last;
    periods ``missing`` (no data at all) shaded and left blank."""
    fig, ax = plt.subplots(figsize=size, dpi=130)
    x = np.arange(len(periods))
    _shade(ax, missing, label=True)
    for i, (name, values) in enumerate(series.items()):
        ax.plot(x, _blank(values, missing), marker="o", markersize=2.5, linewidth=1.4 if i == 0 else 1.0,
                label=name)  # fmt: skip
    first = _blank(next(iter(series.values()), np.zeros(0)), missing)
    if len(first) > 1 and np.isfinite(first[:-1]).any():
        ax.axhline(float(np.nanmean(first[:-1])), color="#737373", linestyle="--", linewidth=0.8)
    step = max(1, len(periods) // 8)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([periods[i] for i in range(0, len(periods), step)], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylim(bottom=0)
    if len(series) > 1:
        ax.legend(fontsize=6, ncol=min(4, len(series)), frameon=False, loc="lower left")
    return save(fig, out_png)


def small_multiples(
    out_png: str | Path,
    periods: list[str],
    series: dict[str, np.ndarray],
    *,
    title: str,
    cols: int = 4,
    missing: np.ndarray | None = None,
) -> Path:
    """One small panel per series (per BCU), same x axis, own y axis: shape of each trend at a glance;
    periods ``missing`` (no data at all) shaded and left blank."""
    n = max(1, len(series))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(7.0, 1.5 * rows + 0.4), dpi=130, squeeze=False)
    x = np.arange(len(periods))
    for ax, (name, raw) in zip(axes.ravel(), series.items(), strict=False):
        values = _blank(raw, missing)
        _shade(ax, missing, label=False)
        ax.plot(x, values, linewidth=1.0, color="#b2182b")
        ax.plot(x[-1:], values[-1:], marker="o", markersize=3, color="#b2182b")
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=5)
        ax.set_xticks([])
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.ravel()[len(series) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return save(fig, out_png)
