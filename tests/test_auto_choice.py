"""``auto``'s reason: the baselines it is measured against, the criterion that chose, skipped candidates."""

from __future__ import annotations

import numpy as np
import pytest

from forecast_helpers import toy_history, toy_units
from safestreets.errors import ParameterError
from safestreets.evaluate.auto import choose, ratio_text
from safestreets.evaluate.backtest import backtest
from safestreets.forecast import make_model
from safestreets.forecast.history import History
from safestreets.forecast.kde import KDE
from safestreets.forecast.prospective import Prospective


@pytest.fixture(scope="module")
def history() -> History:
    return toy_history(months=24, per_month=300, seed=3)


def test_reason_names_the_strongest_baseline_and_the_historical_average(history: History) -> None:
    choice = choose(history, toy_units(), "1m", candidates=("histavg", "last-period", "kde", "ewma"), origins=3)
    assert "chosen by hit rate" in choice.reason
    assert "strongest baseline" in choice.reason and "noise ceiling" in choice.reason
    if choice.name not in ("histavg",) and "strongest baseline histavg" not in choice.reason:
        assert "against the historical average" in choice.reason
    assert set(choice.scores) == {"histavg", "last-period", "kde", "ewma"}


def test_parity_is_said_plainly() -> None:
    assert ratio_text(0.301, 0.300).startswith("parity")
    assert ratio_text(0.36, 0.30) == "1.20x"
    assert ratio_text(0.2, 0.0).startswith("no ratio")


def test_auto_skips_a_candidate_that_cannot_run_and_says_so(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_big(self: Prospective, history: History, units: object) -> None:
        raise ParameterError("prospective hotspotting on 50 m cells needs 66,502,800 cells here")

    def broken(self: KDE, units: object, start: object, end: object) -> np.ndarray:
        raise ParameterError("kde failed on this data")

    monkeypatch.setattr(Prospective, "feasible", too_big)
    monkeypatch.setattr(KDE, "_predict", broken)
    choice = choose(history, toy_units(), "1m", candidates=("histavg", "kde", "prospective", "ewma"), origins=2)
    assert choice.name in ("histavg", "ewma")
    assert "prospective skipped, it cannot run on this data (prospective hotspotting on 50 m" in choice.reason
    assert "kde skipped, it cannot run on this data (kde failed" in choice.reason
    assert set(choice.scores) == {"histavg", "ewma"}
    assert choice.result.params["skipped"].keys() == {"kde", "prospective"}
    # A backtest not told to skip fails at once, before any model has run, naming the model.
    with pytest.raises(ParameterError, match="prospective cannot run here"):
        backtest({"kde": make_model("kde"), "prospective": make_model("prospective")}, history, toy_units(),
                 origins=2)  # fmt: skip


def test_harm_captured_chooses_when_the_target_is_harm_weighted(history: History) -> None:
    units = toy_units()
    assert np.ptp(history.harm) > 0  # the toy history mixes burglary, robbery and violence
    choice = choose(history, units, "1m", candidates=("histavg", "kde"), origins=2, rank_by="harm")
    assert "chosen by harm captured (the target is harm-weighted)" in choice.reason
    assert "hit rate by count" in choice.reason
    harm = {m: np.mean([h for mo, h in zip(choice.summary["model"].to_pylist(),
                                           choice.summary["harm_captured"].to_pylist(), strict=True) if mo == m])
            for m in ("histavg", "kde")}  # fmt: skip
    assert choice.scores == pytest.approx(harm)
    # Every event equally harmful: harm ranks as count does, and the hit rate chooses.
    flat = History.from_arrays(history.x, history.y, history.t, resolution="month")
    assert "chosen by hit rate" in choose(flat, units, "1m", candidates=("histavg", "kde"), origins=2,
                                          rank_by="harm").reason  # fmt: skip
