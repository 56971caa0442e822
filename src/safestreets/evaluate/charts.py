"""Charts for backtests: the coverage curve (share of next-period crime captured against share of the
area flagged, 0-20%), one line per model, the mean over origins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from safestreets.forecast import BASELINES


def tight_layout(fig: Any, **kwargs: Any) -> None:
    """``fig.tight_layout`` without its warning when a figure's parts (a legend beside the axes, a long
    note) leave it nothing to do: the figure is kept as laid out, which is what the reader gets anyway."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied", category=UserWarning)
        fig.tight_layout(**kwargs)


def coverage_chart(curves: pa.Table, out: str | Path, *, title: str = "", horizon: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = curves.to_pydict()
    horizons = sorted(set(data["horizon"]))
    h = horizon or horizons[0]
    lines: dict[str, dict[float, list[float]]] = {}
    for model, hz, cov, hr in zip(
        data["model"], data["horizon"], data["coverage"], data["hit_rate"], strict=True
    ):
        if hz == h:
            lines.setdefault(model, {}).setdefault(cov, []).append(hr)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for model in sorted(lines, key=lambda m: (m in BASELINES, m)):
        covs = np.array(sorted(lines[model]))
        mean = np.array([np.nanmean(lines[model][c]) for c in covs])
        style = "--" if model in BASELINES else "-"
        ax.plot(covs * 100, mean * 100, style, label=model + (" (baseline)" if model in BASELINES else ""))
    ax.plot([0, 20], [0, 20], ":", color="grey", label="random (PAI 1)")
    ax.set_xlabel("area flagged (% of study area)")
    ax.set_ylabel(f"next-{h} crime captured (%)")
    ax.set_xlim(0, 20)
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"Coverage curve, mean over origins ({h} horizon)")
    ax.legend(fontsize=8, loc="lower right")
    tight_layout(fig)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
