"""ETAS: a self-exciting point process on a grid (Mohler et al. 2015).

Each cell ``n`` of the model's own grid has intensity

    lambda_n(t) = mu_n + sum over earlier events i in cell n of  theta * k(t - t_i)

a constant background rate ``mu_n`` plus triggering: every event raises the rate in its own cell for a
while (near repeats). ``theta`` is the branching ratio (the expected number of direct offspring per
event, ``0 <= theta < 1``) and ``k`` a lag density with decay rate ``omega``.

Two versions, chosen by the data:

* timestamped events, in days: ``k(s) = omega * exp(-omega * s)``, the model of Mohler et al. (2015),
  "Randomized controlled field trials of predictive policing", JASA 110(512).
* month-only events (police.uk, every event at its month start, so no order within a month): a
  discrete-time version over monthly counts. Events in month ``m`` can only be triggered by events in
  earlier months, with a geometric lag ``k(l) = (1 - q) q^(l - 1)`` for ``l = 1, 2, ...`` months,
  ``q = exp(-omega)``. Triggering within a month cannot be told apart from background there, so it is
  absorbed into ``mu``; ``theta`` is the branching ratio across months.

Both are fitted by expectation-maximisation. The E-step gives each event its probability of being
background or triggered by each earlier event in its cell; the M-step updates ``mu``, ``theta`` and
``omega`` in closed form. The pair sums are never formed: with an exponential (or geometric) kernel they
follow linear recurrences over each cell's events in time order, which :class:`LinearScan` evaluates for
all cells at once, and SQUAREM extrapolation cuts the number of EM steps. Events are first merged into (cell, time) pairs with a count, so ties (same second, or
same month) are exact: tied events are never each other's parents.

The raw per-cell maximum likelihood of ``mu`` (Mohler's) puts a rate of one event per window on a cell
that saw one event and zero on its empty neighbour, which forecasts badly where data are sparse. With
``background_smoothing`` > 0 the M-step for ``mu`` is instead the posterior mean under a Gamma prior worth
one event, centred on the neighbourhood's rate (the per-cell rates smoothed by a Gaussian of that many
cells): busy cells keep their own rate, sparse ones borrow from their neighbours. Unlike smoothing ``mu``
itself, this leaves hot spots intact, so ``theta`` keeps its meaning.

The forecast over ``[start, end)`` is exact in expectation for the fitted process: the background, the
decaying triggered intensity of past events, and the offspring (of all generations) of the events expected
in the gap and the window themselves. Model cells are mapped to units directly when the units are a grid
of the same cell size (same alignment); otherwise each cell's expectation is spread over the units by a
5 x 5 lattice of points inside the cell (an area-weighted share).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History
from safestreets.geo.units import GridSpec, Units

SECONDS_PER_DAY = 86400.0
DAYS_PER_MONTH = 365.25 / 12
#: Model cell side for polygon units (and for the fit made before the units are known), in metres.
DEFAULT_CELL = 250.0
#: Largest model grid (cells over the events' bounding box), as for unit grids.
MAX_CELLS = 5_000_000
#: Points per side of the lattice that spreads a model cell over units of another shape.
SPREAD_POINTS = 5
#: Weight, in events, of the neighbourhood's rate in each cell's smoothed background.
PRIOR_EVENTS = 1.0
#: Block length of the vectorised recurrence.
_BLOCK = 64
#: Bounds that keep the estimates finite on degenerate data (a branching ratio of one never settles).
_THETA_MAX = 0.98
_OMEGA_RANGE = (1e-4, 1e3)
#: A decay rate beyond which the kernel's shape no longer matters: 99% of offspring within one time unit.
_OMEGA_SEEN = 5.0
#: Starting values: a third of events triggered, a mean lag of a week (or a month).
_THETA0 = 0.3
_OMEGA0 = {"day": 1.0 / 7.0, "month": 1.0}


class LinearScan:
    """Solves ``x_i = a_i * x_{i-1} + b_i`` (``x_{-1} = 0``, ``a, b >= 0``) for one ``a`` and any ``b``,
    without a Python loop per element.

    Blocks of ``_BLOCK`` elements are scanned in parallel (one vectorised step per position in a block),
    the carries between blocks come from the same recurrence on the block ends (recursively), and are
    added back scaled by the running product of ``a``. Only products and sums of non-negative numbers
    occur, so nothing cancels and nothing overflows; a zero ``a`` starts a new segment. The layout and the
    running products depend on ``a`` only, so they are built once and shared by every ``b``.
    """

    def __init__(self, a: np.ndarray) -> None:
        self.n = n = len(a)
        if n <= _BLOCK:
            self.a = np.asarray(a, dtype="float64")
            return
        self.m = -(-n // _BLOCK)
        # Row j holds position j of every block, so each step reads contiguous memory; the padding
        # (a = b = 0) sits at the end and changes nothing before it.
        self.at = self._layout(a)
        self.prod = np.cumprod(self.at, axis=0)
        self.carry = LinearScan(self.prod[-1])

    def _layout(self, v: np.ndarray) -> np.ndarray:
        full = self.n // _BLOCK
        out = np.zeros((_BLOCK, self.m))
        out[:, :full] = v[: full * _BLOCK].reshape(full, _BLOCK).T
        out[: self.n - full * _BLOCK, full:] = v[full * _BLOCK :, None]
        return out

    def __call__(self, b: np.ndarray) -> np.ndarray:
        n = self.n
        out = np.empty(n)
        if n <= _BLOCK:
            acc = 0.0
            for i in range(n):
                acc = self.a[i] * acc + b[i]
                out[i] = acc
            return out
        at, x = self.at, self._layout(b)
        tmp = np.empty(self.m)
        for j in range(1, _BLOCK):
            np.multiply(at[j], x[j - 1], out=tmp)
            x[j] += tmp
        carry = self.carry(x[-1])
        x[:, 1:] += self.prod[:, 1:] * carry[:-1]
        full = n // _BLOCK
        out[: full * _BLOCK].reshape(full, _BLOCK)[...] = x[:, :full].T
        if n > full * _BLOCK:  # a partial last block (none when n is a multiple of the block)
            out[full * _BLOCK :] = x[: n - full * _BLOCK, full]
        return out


def linear_scan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x_i = a_i * x_{i-1} + b_i`` with ``x_{-1} = 0``, for ``a, b >= 0`` (see :class:`LinearScan`)."""
    return LinearScan(a)(b)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` without BLAS: a threaded ``np.dot`` on mid-sized vectors stalls on a busy machine."""
    return float(np.add.reduce(a * b))


@dataclass(frozen=True)
class _Pairs:
    """Events merged into (cell, time) pairs, sorted by cell then time; times relative to the cut-off."""

    cell: np.ndarray  # flat index on the model grid
    t: np.ndarray  # days (or months) before the cut-off, negative
    count: np.ndarray  # events at this cell and time
    prev_count: np.ndarray  # count of the previous pair in the same cell (0 for a cell's first)
    gap: np.ndarray  # time since that previous pair (0 for a cell's first)
    first: np.ndarray  # bool: a cell's first pair
    inside: np.ndarray  # bool: in the fitting window; earlier pairs only trigger
    start: float  # window start (negative); the window ends at the cut-off, 0

    @property
    def within(self) -> slice | np.ndarray:
        """Selects the pairs in the window: a view of everything when nothing is earlier."""
        return slice(None) if self.inside.all() else self.inside

    @property
    def length(self) -> float:
        return -self.start


class _State(NamedTuple):
    mu: np.ndarray  # background rate per model cell, per day (or month)
    theta: float
    omega: float


def _change(a: _State, b: _State) -> float:
    """The largest relative change between two EM states. The decay rate's change is weighed by the
    branching ratio, and rates above ``_OMEGA_SEEN`` per time unit count as that: with next to no
    triggering, or with all of it inside one time unit, ``omega`` barely moves the likelihood or the
    forecast, and EM can wander along it for hundreds of steps (it did, for all 500, at ``theta`` 1e-6 on
    the 1M-event synthetic city and at ``omega`` 20 per month on Met burglary)."""
    wa, wb = min(a.omega, _OMEGA_SEEN), min(b.omega, _OMEGA_SEEN)
    return max(
        abs(b.theta - a.theta),
        max(a.theta, b.theta) * abs(wb - wa) / wa,
        float(np.add.reduce(np.abs(b.mu - a.mu)) / max(float(np.add.reduce(a.mu)), 1e-300)),
    )


@dataclass(frozen=True)
class _Fit:
    mu: np.ndarray
    theta: float
    omega: float
    n_iter: int
    converged: bool
    log_likelihood: float


class ETAS(Forecaster):
    """Self-exciting point process (Mohler et al. 2015): a background rate per cell plus near-repeat
    triggering that decays exponentially, fitted by EM; see the module docstring."""

    name = "etas"
    summary = (
        "self-exciting point process: background rate plus decaying near-repeat triggering (Mohler 2015)"
    )

    def __init__(
        self,
        cell_size: float | None = None,
        background_smoothing: float = 1.0,
        lookback: int | None = 60,
        max_iter: int = 500,
        tol: float = 1e-5,
    ) -> None:
        """
        Parameters
        ----------
        cell_size:
            Side of the model's grid cells in metres; cells are aligned to multiples of it, like unit grids.
            ``None`` (the default): the side of the grid units' cells, so each unit is one model cell, or
            250 m for polygon units.
        background_smoothing:
            Gaussian sigma, in cells, of the neighbourhood each cell's background is shrunk toward (by a
            prior worth one event); 0 is the raw per-cell maximum likelihood of Mohler et al.
        lookback:
            Months of history the rates are fitted on (``None``: all). Events up to another lookback
            before that still trigger; older ones are left out. Five years: on Met burglary (145 months)
            it forecast as well as the whole archive (hit rate at 1% 8.7% against 8.6%, at 5% 28.1%
            against 27.6%, 6 origins) at a sixth of the cost, since EM crawls on long windows.
        max_iter:
            Most EM steps (an accelerated cycle takes three).
        tol:
            Convergence: the largest relative change of ``theta``, ``omega`` and the background over one
            cycle.
        """
        self.cell_size = cell_size
        self.background_smoothing = background_smoothing
        self.lookback = lookback
        self.max_iter = max_iter
        self.tol = tol

    # --- fit -----------------------------------------------------------------------------------------

    def _fit(self, history: History) -> None:
        """Grid the events, merge them into (cell, time) pairs and run EM on the fitting window."""
        if self.cell_size is not None and not self.cell_size > 0:
            raise ParameterError(f"cell_size must be positive, not {self.cell_size}")
        if not self.background_smoothing >= 0:
            raise ParameterError(f"background_smoothing must be >= 0, not {self.background_smoothing}")
        if self.lookback is not None and self.lookback < 1:
            raise ParameterError(f"lookback must be at least one month (or None), not {self.lookback}")
        if self.max_iter < 1 or not self.tol > 0:
            raise ParameterError(f"need max_iter >= 1 and tol > 0, not {self.max_iter} and {self.tol}")
        self.__dict__.pop("memo_", None)  # unit mappings belong to the previous fit's grid
        self.time_unit_ = "month" if history.resolution == "month" else "day"
        self.cutoff_ = self._cutoff()
        self.fits_: dict[float, dict[str, object]] = {}
        self._use_cell(DEFAULT_CELL if self.cell_size is None else float(self.cell_size))

    def _cell_for(self, units: Units) -> float:
        if self.cell_size is not None:
            return float(self.cell_size)
        return float(units.grid.cell) if units.grid is not None else DEFAULT_CELL

    def _use_cell(self, cell: float) -> None:
        """Make the fit on a grid of ``cell`` metres the current one (the fitted attributes), fitting it on
        first use: units on a finer grid get a model of their own cells."""
        if cell not in self.fits_:
            self.fits_[cell] = self._fit_grid(cell)
        self.__dict__.update(self.fits_[cell])

    def _fit_grid(self, cell: float) -> dict[str, object]:
        """Grid the events, merge them into (cell, time) pairs and run EM on the fitting window."""
        history = self.history_
        ok = np.isfinite(history.x) & np.isfinite(history.y)
        x, y, t = history.x[ok], history.y[ok], history.t[ok]
        pad = max(1, math.ceil(4 * self.background_smoothing))  # room for the smoothing kernel's tails
        if len(x):
            bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
            self.grid_ = GridSpec.covering(bounds, cell, pad=pad)
        else:
            self.grid_ = GridSpec(0.0, 0.0, cell, 1, 1)
        if self.grid_.size > MAX_CELLS:
            raise ParameterError(
                f"a {cell:g} m ETAS grid over these events has {self.grid_.size:,} cells: use a larger cell_size"
            )
        pairs = self._pairs(x, y, t)
        if not pairs.inside.any():
            fit = _Fit(np.zeros(self.grid_.size), 0.0, _OMEGA0[self.time_unit_], 0, True, 0.0)
        else:
            fit = self._em(pairs)
        # The triggering state at the cut-off: sum over past events of count * exp(-omega * age), with age
        # in days, or in months counted from the end of the event's month.
        age = -pairs.t if self.time_unit_ == "day" else -pairs.t - 1.0
        return {
            "grid_": self.grid_,
            "mu_": fit.mu,
            "theta_": fit.theta,
            "omega_": fit.omega,
            "n_iter_": fit.n_iter,
            "converged_": fit.converged,
            "log_likelihood_": fit.log_likelihood,
            "window_days_": pairs.length if self.time_unit_ == "day" else None,
            "window_months_": round(pairs.length) if self.time_unit_ == "month" else None,
            "n_events_": int(pairs.count[pairs.inside].sum()),
            "excitation_": np.bincount(
                pairs.cell, weights=pairs.count * np.exp(-fit.omega * age), minlength=self.grid_.size
            ),
        }

    def _cutoff(self) -> np.datetime64:
        """Where the fitting window ends: the cut-off, or for months the start of the first month after it."""
        until = self.until_
        if self.time_unit_ == "day":
            return until
        month = until.astype("datetime64[M]")
        if month.astype("datetime64[s]") == until:
            return until
        return (month + 1).astype("datetime64[s]")

    def _window_start(self, t: np.ndarray) -> float:
        """The window start in model time units before the cut-off (negative)."""
        # The data start with the first event's month (or day: extracts start on a day boundary); a
        # lookback reaching further back would count months the data do not cover as empty.
        if self.time_unit_ == "month":
            first = float((t[0].astype("datetime64[M]") - self.cutoff_.astype("datetime64[M]")).astype(int))
            return first if self.lookback is None else max(first, -float(self.lookback))
        begin = t[0].astype("datetime64[D]").astype("datetime64[s]")
        if self.lookback is not None:
            cut = self.cutoff_
            month = cut.astype("datetime64[M]")
            since = (month - int(self.lookback)).astype("datetime64[s]") + (
                cut - month.astype("datetime64[s]")
            )
            begin = max(begin, since)
        return float((begin - self.cutoff_).astype("int64")) / SECONDS_PER_DAY

    def _pairs(self, x: np.ndarray, y: np.ndarray, t: np.ndarray) -> _Pairs:
        cell = self.grid_.index(x, y)
        if self.time_unit_ == "month":
            tick = (t.astype("datetime64[M]") - self.cutoff_.astype("datetime64[M]")).astype("int64")
        else:
            tick = (t - self.cutoff_).astype("int64")  # seconds, so ties are exact
        start = self._window_start(t) if len(t) else -1.0
        if self.lookback is not None and len(t):
            # Events before the window only trigger, with weight exp(-omega * age): those more than another
            # lookback before it add next to nothing and would only slow every EM step.
            span = float(self.lookback) * (1.0 if self.time_unit_ == "month" else DAYS_PER_MONTH)
            early = start - span
            keep = tick >= (early if self.time_unit_ == "month" else early * SECONDS_PER_DAY)
            cell, tick = cell[keep], tick[keep]
        # History is sorted by time, so a stable sort by cell gives cell-then-time order.
        order = np.argsort(cell, kind="stable")
        cell, tick = cell[order], tick[order]
        new = np.ones(len(cell), dtype=bool)
        new[1:] = (cell[1:] != cell[:-1]) | (tick[1:] != tick[:-1])
        idx = np.flatnonzero(new)
        count = np.diff(np.r_[idx, len(cell)]).astype("float64")
        cell, tick = cell[idx], tick[idx]
        tt = tick.astype("float64") if self.time_unit_ == "month" else tick / SECONDS_PER_DAY
        first = np.ones(len(cell), dtype=bool)
        first[1:] = cell[1:] != cell[:-1]
        gap = np.zeros(len(cell))
        gap[1:] = np.diff(tt)
        gap[first] = 0.0
        prev = np.zeros(len(cell))
        prev[1:] = count[:-1]
        prev[first] = 0.0
        return _Pairs(cell, tt, count, prev, gap, first, tt >= start - 1e-9, start)

    # --- EM ------------------------------------------------------------------------------------------

    def _kernel_sums(self, p: _Pairs, omega: float) -> tuple[np.ndarray, np.ndarray]:
        """For each pair: sum over earlier pairs j in its cell of ``count_j * k(lag)`` and of
        ``count_j * k(lag) * lag'`` (lag in days, or months minus one: the geometric kernel's exponent)."""
        decay = np.exp(-omega * p.gap)
        decay[p.first] = 0.0
        if self.time_unit_ == "day":
            # A_i = e^{-w gap}(A_{i-1} + c_{i-1});  B_i = e^{-w gap} B_{i-1} + gap * A_i
            scan = LinearScan(decay)
            a = scan(decay * p.prev_count)
            b = scan(p.gap * a)
            return omega * a, omega * b
        # S_i = q^gap S_{i-1} + c_{i-1} q^(gap-1);  U_i = q^gap (U_{i-1} + gap S_{i-1}) + c_{i-1}(gap-1) q^(gap-1)
        q = math.exp(-omega)
        step = np.where(p.first, 0.0, decay / q)  # q^(gap - 1)
        scan = LinearScan(decay)
        s = scan(p.prev_count * step)
        s_prev = np.zeros(len(s))
        s_prev[1:] = s[:-1]
        u = scan(decay * p.gap * s_prev + p.prev_count * (p.gap - 1.0) * step)
        return (1.0 - q) * s, (1.0 - q) * u

    def _compensator(self, p: _Pairs, omega: float) -> tuple[float, float]:
        """Sum of count * (expected share of an event's offspring inside the window) and of its derivative
        term: each pair's offspring fall at lags in ``[lo, hi]`` of the kernel's exponent."""
        hi = -p.t if self.time_unit_ == "day" else -p.t - 1.0
        e_hi = np.exp(-omega * hi)
        share = float(np.add.reduce(p.count)) - _dot(p.count, e_hi)
        slope = _dot(p.count, hi * e_hi)
        if not isinstance(p.within, slice):  # pairs before the window: only their offspring after its start
            early = ~p.inside
            lo = p.start - p.t[early] - (0.0 if self.time_unit_ == "day" else 1.0)
            e_lo = np.exp(-omega * np.maximum(lo, 0.0))
            share -= _dot(p.count[early], 1.0 - e_lo)
            slope -= _dot(p.count[early], lo * e_lo)
        return share, slope

    def _background(self, expected: np.ndarray, length: float) -> np.ndarray:
        """The M-step for the background: from the expected number of background events in each cell.

        Without smoothing, Mohler's per-cell rate ``expected / length``. With it, the posterior mean under
        a Gamma prior worth ``PRIOR_EVENTS`` events centred on the neighbourhood's rate (the per-cell rates
        smoothed by a Gaussian of ``background_smoothing`` cells): a cell with many events keeps its own
        rate, one with a few is pulled toward its neighbours', an empty one near events gets a share.
        """
        rate = expected / length
        if self.background_smoothing <= 0:
            return rate
        grid = rate.reshape(self.grid_.nrows, self.grid_.ncols)
        # mode="constant" on a grid padded by four sigma: the neighbourhood rate loses no mass.
        prior = gaussian_filter(grid, self.background_smoothing, mode="constant", truncate=4.0).ravel()
        out = np.zeros_like(rate)
        ok = prior > 0
        out[ok] = (expected[ok] + PRIOR_EVENTS) / (length + PRIOR_EVENTS / prior[ok])
        return out

    def _step(self, p: _Pairs, state: _State) -> tuple[_State, float]:
        """One EM iteration from ``state``; also returns the log-likelihood at ``state``."""
        mu, theta, omega = state
        inside = p.within
        cell_in, count_in = p.cell[inside], p.count[inside]
        kern, lagw = self._kernel_sums(p, omega)
        trig = theta * kern[inside]
        lam = np.maximum(mu[cell_in] + trig, 1e-300)
        w = count_in / lam
        triggered = _dot(w, trig)  # expected number of triggered events
        lag_sum = _dot(w, theta * lagw[inside])  # expected sum of their lags
        share, slope = self._compensator(p, omega)
        ll = _dot(count_in, np.log(lam)) - p.length * float(mu.sum()) - theta * share
        expected = np.bincount(cell_in, weights=w * mu[cell_in], minlength=len(mu))
        new_mu = self._background(expected, p.length)
        if triggered <= 1e-9 or share <= 0:
            return _State(new_mu, 0.0, omega), ll
        new_theta = min(triggered / share, _THETA_MAX)
        # Mean lag (days), or mean of the geometric's failures (months), of the triggered events, with the
        # offspring beyond the window end accounted for.
        mean = (lag_sum + new_theta * slope) / triggered
        if self.time_unit_ == "day":
            new_omega = 1.0 / max(mean, 1e-12)
        else:
            new_omega = -math.log(min(max(mean / (1.0 + mean), 1e-12), 1.0 - 1e-12))
        return _State(new_mu, new_theta, float(np.clip(new_omega, *_OMEGA_RANGE))), ll

    def _em(self, p: _Pairs) -> _Fit:
        """EM accelerated by SQUAREM (Varadhan and Roland 2008): plain EM creeps along the ridge where
        background and triggering trade off, taking hundreds of iterations. Each cycle takes two EM steps,
        extrapolates along them (in log rates, so rates stay positive) and takes one more step from there,
        keeping the extrapolation only when the likelihood there beats the last plain step's."""
        inside = p.inside
        theta, omega = _THETA0, _OMEGA0[self.time_unit_]
        counts = np.bincount(p.cell[inside], weights=p.count[inside], minlength=self.grid_.size)
        state = _State(self._background(counts * (1.0 - theta), p.length), theta, omega)
        support = np.flatnonzero(state.mu > 0)  # the same cells every step: those near in-window events

        def pack(s: _State) -> np.ndarray:
            return np.r_[np.log(np.maximum(s.mu[support], 1e-300)), s.theta, math.log(s.omega)]

        def unpack(z: np.ndarray) -> _State:
            mu = np.zeros(self.grid_.size)
            mu[support] = np.exp(np.minimum(z[:-2], 700.0))
            log_omega = float(np.clip(z[-1], *np.log(_OMEGA_RANGE)))
            return _State(mu, float(np.clip(z[-2], 0.0, _THETA_MAX)), math.exp(log_omega))

        n_iter, converged = 0, False
        while n_iter < self.max_iter and not converged:
            one, _ = self._step(p, state)
            two, ll_one = self._step(p, one)
            n_iter += 2
            nxt = two
            z0, z1, z2 = pack(state), pack(one), pack(two)
            r, v = z1 - z0, z2 - 2 * z1 + z0
            rr, vv = _dot(r, r), _dot(v, v)
            if vv > 0 and n_iter < self.max_iter:
                alpha = min(-math.sqrt(rr / vv), -1.0)
                far, ll_far = self._step(p, unpack(z0 - 2 * alpha * r + alpha * alpha * v))
                n_iter += 1
                if np.isfinite(ll_far) and ll_far >= ll_one:
                    nxt = far
            converged = _change(state, nxt) < self.tol
            state = nxt
        mu, theta, omega = state
        return _Fit(mu, theta, omega, n_iter, converged, self._log_likelihood(p, mu, theta, omega))

    def _log_likelihood(self, p: _Pairs, mu: np.ndarray, theta: float, omega: float) -> float:
        """Point-process log-likelihood (timestamped) or Poisson log-likelihood of the monthly counts
        without the ``log(count!)`` term, over the fitting window."""
        kern, _ = self._kernel_sums(p, omega)
        lam = mu[p.cell[p.inside]] + theta * kern[p.inside]
        share, _ = self._compensator(p, omega)
        with np.errstate(divide="ignore"):
            fit = _dot(p.count[p.inside], np.log(lam))
        return fit - p.length * float(mu.sum()) - theta * share

    # --- predict -------------------------------------------------------------------------------------

    def expected_cells(self, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        """Expected events in each model cell (flat ``grid_`` order) over ``[start, end)``."""
        mu, theta, omega = self.mu_, self.theta_, self.omega_
        if self.time_unit_ == "month":
            period_of(self.history_, start, end)  # month-only data: whole months only
            cut = self.cutoff_.astype("datetime64[M]")
            first = int((start.astype("datetime64[M]") - cut).astype(int))
            last = int((end.astype("datetime64[M]") - cut).astype(int))
            q = math.exp(-omega)
            # Expected counts month by month: the state s (sum of count * q^(age)) evolves as
            # s' = q s + E[count] with E[count] = mu + theta (1 - q) s.
            s = self.excitation_.copy()
            out = np.zeros_like(s)
            for m in range(last):
                expected = mu + theta * (1.0 - q) * s
                if m >= first:
                    out += expected
                s = q * s + expected
            return out
        a = float((start - self.cutoff_).astype("int64")) / SECONDS_PER_DAY
        b = float((end - self.cutoff_).astype("int64")) / SECONDS_PER_DAY
        # The expected triggered intensity y(t) obeys y' = -omega (1 - theta) y + theta omega mu: it relaxes
        # from its value at the cut-off to the stationary theta mu / (1 - theta), offspring of events in the
        # gap and the window included.
        kappa = omega * (1.0 - theta)
        y0 = theta * omega * self.excitation_
        y_inf = theta * mu / (1.0 - theta)
        transient = (y0 - y_inf) * ((math.exp(-kappa * a) - math.exp(-kappa * b)) / kappa)
        return (mu + y_inf) * (b - a) + transient

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        """The model cells' expected counts, carried to the units."""
        cell = self._cell_for(units)
        self._use_cell(cell)
        cells, owner, weight = self._memo(units, ("etas-cells", cell), lambda: self._unit_map(units))
        expected = self.expected_cells(start, end)
        return np.bincount(owner, weights=expected[cells] * weight, minlength=len(units))

    def _unit_map(self, units: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(model cell, unit, share) triples that carry the model's cells to the units."""
        spec = self.grid_
        ug = units.grid
        if ug is not None and units.cell_of_unit is not None and math.isclose(ug.cell, spec.cell):
            dc = (ug.x0 - spec.x0) / spec.cell
            dr = (ug.y0 - spec.y0) / spec.cell
            if abs(dc - round(dc)) < 1e-6 and abs(dr - round(dr)) < 1e-6:
                # The same lattice: each grid unit is one model cell.
                row, col = np.divmod(units.cell_of_unit, ug.ncols)
                row, col = row + round(dr), col + round(dc)
                ok = (row >= 0) & (row < spec.nrows) & (col >= 0) & (col < spec.ncols)
                return row[ok] * spec.ncols + col[ok], np.flatnonzero(ok), np.ones(int(ok.sum()))
        # Otherwise spread each cell that can carry any mass over a k x k lattice of points inside it.
        support = np.flatnonzero((self.mu_ > 0) | (self.excitation_ > 0))
        k = SPREAD_POINTS
        row, col = np.divmod(support, spec.ncols)
        offset = (np.arange(k) + 0.5) / k
        ox, oy = np.meshgrid(offset, offset)
        px = spec.x0 + (col[:, None] + ox.ravel()[None, :]) * spec.cell
        py = spec.y0 + (row[:, None] + oy.ravel()[None, :]) * spec.cell
        owner = units.locate(px.ravel(), py.ravel())
        cell = np.repeat(support, k * k)
        ok = owner >= 0
        key = cell[ok] * len(units) + owner[ok]
        uniq, hits = np.unique(key, return_counts=True)
        return uniq // len(units), uniq % len(units), hits / float(k * k)
