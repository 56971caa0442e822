"""The feedback-loop simulation: reported targets track crime, police-found targets run away."""

from __future__ import annotations

import numpy as np
import pytest

from safestreets.errors import ParameterError
from safestreets.impact.feedback import feedback_loop


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reported_targets_do_not_run_away(seed):
    r = feedback_loop(targets="reported", seed=seed)
    assert not r.runaway
    assert r.distance < 0.05
    assert np.allclose(r.patrol_share[-1], r.true_share, atol=0.03)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_found_targets_run_away(seed):
    r = feedback_loop(targets="found", seed=seed)
    assert r.runaway
    assert r.patrol_share[-1].max() > 0.9  # one area takes almost all patrols ...
    assert r.true_share.max() < 0.3  # ... with under 30% of the crime
    assert "ran away" in r.summary()


def test_reported_targets_correct_an_initial_bias():
    start = (0.55, 0.15, 0.15, 0.15)
    reported = feedback_loop((1, 1, 1, 1), targets="reported", initial_share=start)
    found = feedback_loop((1, 1, 1, 1), targets="found", initial_share=start)
    assert reported.distance < 0.05
    assert found.distance > reported.distance
    assert found.to_dict()["targets"] == "found"


def test_bad_parameters():
    with pytest.raises(ParameterError):
        feedback_loop((1,))
    with pytest.raises(ParameterError):
        feedback_loop(targets="drugs")  # type: ignore[arg-type]
