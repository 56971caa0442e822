"""DiD, ITS and the synthetic control recover a planted effect, find none where there is none, keep their
interval coverage near nominal over many draws, and say "cannot say" when the data cannot answer."""

from __future__ import annotations

import numpy as np
import pytest

from safestreets.impact.did import did, match_comparisons
from safestreets.impact.its import its
from safestreets.impact.panel import Intervention, Panel
from safestreets.impact.synth import synth_weights, synthetic_control

MONTHS = np.arange(np.datetime64("2019-01"), np.datetime64("2019-01") + 48)


def panel(rng, effect: float, *, units=30, periods=48, start=36, treated=4, scale=2.5, shape=20.0):
    base = rng.gamma(shape, scale, units)
    season = 1 + 0.25 * np.sin(2 * np.pi * np.arange(periods) / 12)
    trend = 1 + 0.004 * np.arange(periods)
    mu = base[:, None] * (season * trend)[None, :]
    target = np.zeros(units, bool)
    target[:treated] = True
    mu[target, start:] *= effect
    values = rng.poisson(mu).astype("float64")
    p = Panel(values, MONTHS[:periods], np.array([f"u{i:02d}" for i in range(units)]))
    return p, Intervention(target, start, periods)


def coverage(method, effect, draws, **kw):
    rng = np.random.default_rng(20240601)
    inside = significant = 0
    ratios = []
    for _ in range(draws):
        p, iv = panel(rng, effect, **kw)
        e = method(p, iv)
        assert e.answerable, e.reason
        inside += e.ratio_low <= effect <= e.ratio_high
        significant += e.significant
        ratios.append(e.ratio)
    return inside / draws, significant / draws, float(np.mean(ratios))


@pytest.mark.slow
@pytest.mark.parametrize("effect", [1.0, 0.7])
def test_did_recovers_effect_with_coverage(effect):
    cov, sig, mean = coverage(did, effect, 120)
    assert abs(mean - effect) < 0.03
    assert cov >= 0.89
    if effect == 1.0:
        assert sig <= 0.11  # false positives near 5%
    else:
        assert sig >= 0.95


@pytest.mark.parametrize("effect", [1.0, 0.7])
def test_its_recovers_effect_with_coverage(effect):
    cov, sig, mean = coverage(its, effect, 120, treated=1)
    assert abs(mean - effect) < 0.03
    assert cov >= 0.88
    if effect == 1.0:
        assert sig <= 0.12
    else:
        assert sig >= 0.95


@pytest.mark.parametrize("effect", [1.0, 0.7])
def test_synthetic_control_recovers_effect(effect):
    cov, sig, mean = coverage(synthetic_control, effect, 40, treated=1)
    assert abs(mean - effect) < 0.04
    assert cov >= 0.85
    if effect == 1.0:
        assert sig <= 0.15
    else:
        assert sig >= 0.8


def test_matching_shows_comparisons_and_excludes_buffer():
    p, iv = panel(np.random.default_rng(1), 1.0)
    exclude = np.zeros(len(p.ids), bool)
    exclude[4:8] = True
    iv = Intervention(iv.target, iv.start, iv.end, exclude=exclude)
    m = match_comparisons(p, iv, k=2)
    assert m.comparison_ids
    assert not set(m.comparison_ids) & {f"u{i:02d}" for i in range(8)}
    assert abs(m.weights.sum() - 4.0) < 1e-9  # each of 4 target units shares one unit of weight
    e = did(p, iv)
    assert e.detail["comparison_ids"]


def test_synth_weights_are_convex_and_exact_when_possible():
    rng = np.random.default_rng(0)
    donors = rng.uniform(0.5, 1.5, (8, 30))
    true = np.array([0.5, 0.3, 0.2, 0, 0, 0, 0, 0])
    w = synth_weights(true @ donors, donors)
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-9
    assert np.allclose(w, true, atol=1e-3)


def test_cannot_say_cases():
    rng = np.random.default_rng(2)
    p, iv = panel(rng, 1.0)
    short = Intervention(iv.target, 4, 10)
    for method in (did, its, synthetic_control):
        e = method(p, short)
        assert not e.answerable and "periods before the start" in e.reason
        assert "cannot say" in e.verdict()
    zero = Panel(np.where(iv.target[:, None], 0.0, p.values), p.periods, p.ids)
    for method in (did, its, synthetic_control):
        e = method(zero, iv)
        assert not e.answerable, method
        assert e.ratio is None
    few = Panel(p.values[:6], p.periods, p.ids[:6])
    e = synthetic_control(few, Intervention(iv.target[:6], iv.start, iv.end))
    assert not e.answerable and "donor" in e.reason


def test_after_period_reported_separately():
    rng = np.random.default_rng(3)
    p, iv = panel(rng, 1.0)
    iv = Intervention(iv.target, 30, 36)
    for method in (did, its):
        e = method(p, iv)
        assert e.answerable
        assert e.detail["after"]["periods"] == 12
    d = e.to_dict()
    assert d["verdict"] and isinstance(d["assumptions"], list)
