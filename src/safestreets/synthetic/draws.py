"""Random draws: an independent stream per (force, stage, month), and vectorised sampling from weights."""

from __future__ import annotations

import numpy as np


def random_stream(seed: int, *key: int) -> np.random.Generator:
    """An independent stream per (force, stage, month): order of generation never changes the output."""
    return np.random.default_rng(np.random.SeedSequence(abs(seed), spawn_key=(int(seed < 0), *key)))


def sample_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling from an unnormalised cumulative weight array."""
    idx = np.searchsorted(cdf, u * cdf[-1], side="right")
    return np.minimum(idx, len(cdf) - 1)


def sample_many(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """n draws from a long CDF: sorted uniforms make the binary searches cache-friendly (3x faster)."""
    idx = sample_cdf(cdf, np.sort(rng.random(n)))
    return idx[rng.permutation(n)]


def choice(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    """``size`` indices drawn with probabilities ``probs`` (inverse CDF, one uniform each)."""
    cdf = np.cumsum(np.asarray(probs, dtype=float))
    return sample_cdf(cdf, rng.random(size))


def weighted_sample_without_replacement(
    rng: np.random.Generator, weights: np.ndarray, k: int, exclude: np.ndarray
) -> np.ndarray:
    """Efraimidis-Spirakis: top-k of log(U)/w, O(n) and vectorised."""
    w = np.where(exclude, 0.0, weights)
    k = min(k, int((w > 0).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore"):
        keys = np.log(rng.random(len(w))) / w
    keys[w <= 0] = -np.inf
    return np.sort(np.argpartition(-keys, k - 1)[:k])


def mix_arrays(mix: dict[str, float], order: tuple[str, ...]) -> np.ndarray:
    """A named mix as probabilities in ``order``; names the mix leaves out get 0."""
    p = np.array([mix.get(name, 0.0) for name in order], dtype=float)
    return p / p.sum() if p.sum() > 0 else p
