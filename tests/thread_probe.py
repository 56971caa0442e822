"""A composite model that records the native threads it may use, for tests run in worker processes.

Kept apart from the other test helpers: importing it must not load scikit-learn (and OpenMP with it), so
that a fresh worker first loads them inside the task, as an ensemble's first gbm member does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History
from safestreets.geo.units import Units


class ThreadProbe(Forecaster):
    name = "thread-probe"
    composite = True

    def __init__(self, folder: str = "") -> None:
        self.folder = folder

    def _fit(self, history: History) -> None:
        pass

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        from threadpoolctl import threadpool_info

        from safestreets.forecast import make_model

        make_model("gbm")  # loads scikit-learn and its OpenMP here, inside the task
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        seen = {
            "openmp": [lib["num_threads"] for lib in threadpool_info() if lib["internal_api"] == "openmp"],
            "sklearn": _openmp_effective_n_threads(),
        }
        Path(self.folder, f"{str(start)[:10]}.json").write_text(json.dumps(seen))
        return np.ones(len(units))
