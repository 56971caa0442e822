"""Trend charts for the briefing: counts per period, citywide and per BCU, with the latest period marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from safestreets.report.maps import save


def trend_chart(
    out_png: str | Path,
    periods: list[str],
    series: dict[str, np.ndarray],
    *,
    title: str,
    ylabel: str = "crimes",
    size: tuple[float, float] = (7.0, 2.6),
) -> Path:
    """One line per series over ``periods``; a dashed line at the mean of the periods before the last."""
    fig, ax = plt.subplots(figsize=size, dpi=130)
    x = np.arange(len(periods))
    for i, (name, values) in enumerate(series.items()):
        ax.plot(x, values, marker="o", markersize=2.5, linewidth=1.4 if i == 0 else 1.0, label=name)
    first = next(iter(series.values()), np.zeros(0))
    if len(first) > 1:
        ax.axhline(float(np.mean(first[:-1])), color="#737373", linestyle="--", linewidth=0.8)
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
    out_png: str | Path, periods: list[str], series: dict[str, np.ndarray], *, title: str, cols: int = 4
) -> Path:
    """One small panel per series (per BCU), same x axis, own y axis: shape of each trend at a glance."""
    n = max(1, len(series))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(7.0, 1.5 * rows + 0.4), dpi=130, squeeze=False)
    x = np.arange(len(periods))
    for ax, (name, values) in zip(axes.ravel(), series.items(), strict=False):
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
