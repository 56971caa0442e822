"""The oracle and the noise ceiling beside every backtest row."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from safestreets.evaluate.backtest import backtest, summarise
from safestreets.evaluate.ceiling import share_text
from safestreets.forecast import make_model
from safestreets.forecast.history import History
from safestreets.geo.units import make_grid

SIDE = 6000.0
PER_ROW = int(SIDE // 250)


def stationary(months: int = 48, seed: int = 1) -> History:
    """Each 250 m cell has its own constant Poisson rate (a few hot cells, many quiet ones; 0.2 events a
    month on average, as at 250 m in a city), from January 2020."""
    rng = np.random.default_rng(seed)
    n_cells = int(SIDE // 250) ** 2
    rates = rng.gamma(0.5, 0.4, n_cells)
    cx = (np.arange(n_cells) % PER_ROW) * 250 + 125
    cy = (np.arange(n_cells) // PER_ROW) * 250 + 125
    xs, ys, ts = [], [], []
    for m in range(months):
        k = rng.poisson(rates)
        cell = np.repeat(np.arange(n_cells), k)
        xs.append(cx[cell] + rng.uniform(-120, 120, len(cell)))
        ys.append(cy[cell] + rng.uniform(-120, 120, len(cell)))
        ts.append(np.full(len(cell), (np.datetime64("2020-01", "M") + m).astype("datetime64[s]")))
    return History.from_arrays(np.concatenate(xs), np.concatenate(ys), np.concatenate(ts), resolution="month")


def test_ceiling_is_never_below_the_historical_average_on_stationary_data() -> None:
    history = stationary()
    units = make_grid(shapely.box(0, 0, SIDE, SIDE), 250.0)
    models = {"histavg": make_model("histavg"), "last-period": make_model("last-period")}
    # Origins early in the span: the historical average knows 6-17 months, the ceiling all 47 others.
    origins = [(np.datetime64("2020-07", "M") + k).astype("datetime64[s]") for k in range(12)]
    result = backtest(models, history, units, origins=origins, coverages=(0.01, 0.05, 0.10), by_bcu=False)
    m = result.metrics.to_pydict()
    for i in range(len(m["model"])):
        # Per origin and coverage the oracle bounds the ceiling (a single period's noise can put the
        # historical average above the ceiling now and then; over origins it cannot, below).
        assert m["oracle_hit_rate"][i] >= m["ceiling_hit_rate"][i] - 1e-12
        assert m["ceiling_share"][i] == pytest.approx(m["hit_rate"][i] / m["ceiling_hit_rate"][i])
    summary = summarise(result.metrics).to_pydict()
    for i, model in enumerate(summary["model"]):
        share = summary["ceiling_share"][i]
        assert share == pytest.approx(summary["hit_rate"][i] / summary["ceiling_hit_rate"][i])
        if model == "histavg":  # mean over origins at each coverage
            assert 0.5 < share < 1.0
            assert share_text(share).endswith("of what is achievable here (noise ceiling)")
    # Last period's count is far from the ceiling on a stationary process: one period is mostly noise.
    by = {(mo, c): s for mo, c, s in zip(summary["model"], summary["coverage"], summary["ceiling_share"],
                                           strict=True)}  # fmt: skip
    assert by[("last-period", 0.05)] < by[("histavg", 0.05)]


def test_ceiling_is_shared_by_every_model_at_an_origin_and_ranked_by_harm_when_asked() -> None:
    history = stationary(months=12)
    units = make_grid(shapely.box(0, 0, SIDE, SIDE), 250.0)
    models = {"histavg": make_model("histavg"), "kde": make_model("kde")}
    result = backtest(models, history, units, origins=2, rank_by="harm", by_bcu=False)
    m = result.metrics.to_pydict()
    seen: dict[tuple, float] = {}
    for o, c, ceil in zip(m["origin"], m["coverage"], m["ceiling_hit_rate"], strict=True):
        assert seen.setdefault((o, c), ceil) == ceil
    assert all(np.isfinite(m["ceiling_harm_captured"]))
