"""Forecasts shared between fits: the same model fitted on the same events forecasts the same.

A backtest fits every model at every origin, and an ensemble replays its members at the origins before
its own cut-off: without sharing, an ensemble in a backtest refits each member five times per origin,
work the backtest has mostly done already. :func:`forecast` memoises
``clone(model).fit(history, until).predict(units, start, end)`` under everything that determines it: the
model's class and parameters, the exact prefix of the data it sees (its cut-off and event counts), the
units and the window. The memo lives in the history's ``shared_cache``, so it serves every fit on a
prefix of one history in this process.

Inside a backtest with worker processes the memo is also kept in a directory (one per backtest, see
:func:`sharing_dir`), so workers share it too. A forecast another live worker is computing is waited for
rather than repeated, after everything not claimed by anyone else is done. Cached or not, the numbers are
the same: a forecast is a pure function of its key.

Timing: a forecast keeps what it cost to make (seconds to fit and to predict), and a shared one is
reported at that cost, not as free. A forecast that uses others (an ensemble's members, ``auto``'s
candidates) counts those it found shared at their cost too, so a model's time is what it would take on
its own, whichever task happened to make a forecast first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safestreets.forecast.base import Forecaster, clone, units_token
from safestreets.forecast.history import History, as_time
from safestreets.geo.units import Units

#: The directory shared by this process's backtest workers (``None``: memoise in memory only).
_DIR: Path | None = None
#: How often a worker looks again for a forecast another worker is computing.
_POLL_S = 0.05
#: Seconds of shared forecasts handed out in this process so far: a forecast being made adds what it
#: reused while fitting and predicting to its own time.
_REUSED = [0.0]


__all__ = ["Job", "Timed", "forecast", "forecast_many", "set_dir", "sharing_dir", "units_token"]


@dataclass(frozen=True)
class Job:
    """One forecast: ``model`` fitted at ``until``, predicting ``[start, end)``."""

    model: Forecaster
    until: np.datetime64
    start: np.datetime64
    end: np.datetime64


@dataclass(frozen=True)
class Timed:
    """A forecast and what it cost to make: fitting and predicting, forecasts it reused included. A
    ``cached`` one was found shared (made earlier, or by another worker) and reports that cost."""

    prediction: np.ndarray
    fit_seconds: float
    predict_seconds: float
    cached: bool

    def shared(self) -> Timed:
        """The same forecast handed out again: a copy (callers may write to it), at its cost."""
        _REUSED[0] += self.fit_seconds + self.predict_seconds
        return Timed(self.prediction.copy(), self.fit_seconds, self.predict_seconds, True)


def set_dir(path: str | os.PathLike[str] | None) -> None:
    """Share forecasts through ``path`` (a directory every worker of one backtest sees), or stop."""
    global _DIR
    _DIR = None if path is None else Path(path)


@contextlib.contextmanager
def sharing_dir(path: str | os.PathLike[str]) -> Iterator[None]:
    previous = _DIR
    set_dir(path)
    try:
        yield
    finally:
        set_dir(previous)


def _params_key(model: Forecaster) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in model.get_params(deep=False).items()))


def _key(job: Job, history: History, units: Units) -> tuple[Any, ...]:
    seen = history.before(job.until)
    return (
        "forecast",
        type(job.model).__module__,
        type(job.model).__qualname__,
        _params_key(job.model),
        seen.prefix_key,
        str(job.until),
        str(job.start),
        str(job.end),
        units_token(units),
    )


def _root_token(history: History) -> str:
    """Names the whole history the prefixes are cut from, for files shared between processes."""
    cache = history.shared_cache
    token = cache.get("forecast-root-token")
    if token is None:
        root = history.root if history.root is not None else history
        token = root.fingerprint + (f"-{root.context.fingerprint}" if root.context is not None else "")
        cache["forecast-root-token"] = token
    return token


def _path(key: tuple[Any, ...], history: History) -> Path:
    assert _DIR is not None
    digest = hashlib.sha256(repr((_root_token(history), key)).encode()).hexdigest()[:32]
    return _DIR / f"{digest}.npz"


def _read(path: Path) -> Timed | None:
    try:
        with np.load(path) as data:
            seconds = data["seconds"]
            return Timed(data["prediction"], float(seconds[0]), float(seconds[1]), True)
    except (FileNotFoundError, ValueError, EOFError, OSError, KeyError):
        return None  # absent, or caught half-written (files are renamed into place, but be safe)


def _write(path: Path, made: Timed) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, prediction=made.prediction, seconds=np.array([made.fit_seconds, made.predict_seconds]))
    os.replace(tmp, path)


def _claim(lock: Path) -> bool:
    """Take the lock on a forecast; ``False`` if a live process holds it (a dead holder's is broken)."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if _holder_alive(lock):
                return False
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _holder_alive(lock: Path) -> bool:
    try:
        text = lock.read_text().strip()
    except FileNotFoundError:
        return False
    if not text:
        return True  # just created, pid not written yet
    try:
        os.kill(int(text), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _compute(job: Job, history: History, units: Units) -> Timed:
    """Fit and predict, timed; forecasts the model reuses from the memo count at their cost."""
    model = clone(job.model)
    r0, t0 = _REUSED[0], time.perf_counter()
    model.fit(history, job.until)
    r1, t1 = _REUSED[0], time.perf_counter()
    prediction = model.predict(units, job.start, job.end)
    r2, t2 = _REUSED[0], time.perf_counter()
    return Timed(prediction, (t1 - t0) + (r1 - r0), (t2 - t1) + (r2 - r1), False)


def forecast_many(jobs: Sequence[Job], history: History, units: Units) -> list[Timed]:
    """Every job's forecast, from the memo where it is there. Jobs another worker is computing are left
    to the end and then waited for (or computed here, if that worker has died)."""
    memo = history.shared_cache.setdefault("forecasts", {})
    out: list[Timed | None] = [None] * len(jobs)
    keys = [_key(job, history, units) for job in jobs]
    pending = list(range(len(jobs)))
    while pending:
        deferred = []
        for i in pending:
            hit = memo.get(keys[i])
            if hit is not None:
                out[i] = hit.shared()
                continue
            if _DIR is None:
                made = out[i] = _compute(jobs[i], history, units)
                memo[keys[i]] = Timed(made.prediction.copy(), made.fit_seconds, made.predict_seconds, True)
                continue
            path = _path(keys[i], history)
            found = _read(path) if path.exists() else None
            if found is None:
                lock = path.with_suffix(".lock")
                if not _claim(lock):
                    deferred.append(i)
                    continue
                try:
                    found = _read(path) if path.exists() else None  # finished while we looked elsewhere
                    if found is None:
                        out[i] = _compute(jobs[i], history, units)
                        _write(path, out[i])
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        lock.unlink()
            made = out[i]
            if made is None:
                assert found is not None
                made = found
                out[i] = found.shared()
            memo[keys[i]] = Timed(made.prediction.copy(), made.fit_seconds, made.predict_seconds, True)
        if deferred and len(deferred) == len(pending):
            time.sleep(_POLL_S)  # everything left is being computed elsewhere
        pending = deferred
    return [t for t in out if t is not None]


def forecast(
    model: Forecaster, history: History, until: Any, units: Units, start: Any, end: Any
) -> np.ndarray:
    """``clone(model).fit(history, until).predict(units, start, end)``, memoised (see the module)."""
    job = Job(model, as_time(until), as_time(start), as_time(end))
    return forecast_many([job], history, units)[0].prediction
