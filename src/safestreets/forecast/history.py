"""The events a forecaster learns from, as columns, and the time arithmetic of horizons.

``History`` is deliberately small: projected points, a time per event, the crime type and its harm
weight. Month-only data (police.uk) carries the first instant of the month as its time and says so in
``resolution``; timestamped data (a force's own records) carries local wall-clock times. Both are
``datetime64[s]`` without a zone, in the workspace's time zone, so a month boundary is midnight local time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from safestreets.errors import NoDataError, ParameterError

Resolution = Literal["month", "timestamp"]
_HORIZON = re.compile(r"^\s*(\d+)\s*(m|mo|month|months|w|wk|week|weeks|d|day|days)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Horizon:
    """A forecast period length: whole months, or a number of days (a week is seven)."""

    n: int
    unit: Literal["M", "D"]

    @classmethod
    def parse(cls, text: str | Horizon) -> Horizon:
        if isinstance(text, Horizon):
            return text
        m = _HORIZON.match(str(text))
        if not m or int(m.group(1)) < 1:
            raise ParameterError(f"bad horizon {text!r}: use e.g. 1m (a month), 3m, 1w (a week), 7d or 1d")
        n, unit = int(m.group(1)), m.group(2)[0].lower()
        if unit == "m":
            return cls(n, "M")
        return cls(n * 7 if unit == "w" else n, "D")

    def __str__(self) -> str:
        if self.unit == "M":
            return f"{self.n}m"
        return f"{self.n // 7}w" if self.n % 7 == 0 else f"{self.n}d"

    def add(self, t: np.datetime64, k: int = 1) -> np.datetime64:
        """``t`` moved by ``k`` horizons (negative goes back)."""
        t = np.datetime64(t, "s")
        if self.unit == "M":
            # Whole calendar months, keeping the day and time (clamped to the end of a shorter month).
            day = t.astype("datetime64[D]")
            month = t.astype("datetime64[M]")
            target = month + k * self.n
            last_day = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(int) - 1
            day_offset = min(int((day - month.astype("datetime64[D]")).astype(int)), int(last_day))
            return (target.astype("datetime64[D]") + day_offset).astype("datetime64[s]") + (
                t - day.astype("datetime64[s]")
            )
        return t + np.timedelta64(k * self.n, "D").astype("timedelta64[s]")

    def edges_before(self, until: np.datetime64, count: int) -> np.ndarray:
        """``count + 1`` period edges ending at ``until`` (oldest first)."""
        return np.array([self.add(until, -k) for k in range(count, -1, -1)], dtype="datetime64[s]")


def as_time(value: Any) -> np.datetime64:
    """A ``datetime64[s]`` from a string (``2024-05`` is the first of May), date, datetime or datetime64."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[s]")
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}", text):
                return np.datetime64(text, "M").astype("datetime64[s]")
            return np.datetime64(text).astype("datetime64[s]")
        except ValueError:
            raise ParameterError(
                f"{value!r} is not a time: write it as 2024-06, 2024-06-01 or 2024-06-01T22:30"
            ) from None
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        value = value.replace(tzinfo=None)
    return np.datetime64(value).astype("datetime64[s]")


@dataclass(frozen=True, eq=False)
class History:
    """Located events for one target, sorted by time.

    ``meta`` records what made it (store, target, types, sources, months, harm scheme) and travels into
    every output. ``cache`` lets models and units memoise work keyed on this exact object;
    ``shared_cache`` is shared with the prefixes cut from it.
    """

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray  # datetime64[s], local wall-clock; the month start for month-only rows
    crime_type: np.ndarray  # str
    harm: np.ndarray  # float64 harm weight of each event
    resolution: Resolution = "month"
    meta: dict[str, Any] = field(default_factory=dict)
    #: Other crime in the same place and time (every type outside the target), for models that use it
    #: as a feature; ``None`` when not loaded. Cut with the history, so it never leaks the future either.
    context: History | None = None
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    #: The history this one was cut from with :meth:`before` (``None`` for a whole history): its prefixes
    #: share one memo, :attr:`shared_cache`. Not pickled, so a prefix sent to a worker carries no events
    #: after its cut.
    root: History | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.x)
        for name in ("y", "t", "crime_type", "harm"):
            if len(getattr(self, name)) != n:
                raise ParameterError(f"History.{name} has {len(getattr(self, name))} values, x has {n}")

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        t: Any,
        crime_type: Any = None,
        harm: Any = None,
        *,
        resolution: Resolution | None = None,
        meta: dict[str, Any] | None = None,
        context: History | None = None,
    ) -> History:
        """Build a history (sorted by time); ``resolution`` is guessed from the times when not given."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        t = np.asarray(t).astype("datetime64[s]")
        n = len(x)
        crime_type = (
            np.full(n, "", dtype=object) if crime_type is None else np.asarray(crime_type, dtype=object)
        )
        harm = np.ones(n) if harm is None else np.asarray(harm, dtype="float64")
        if resolution is None:
            on_month = t.astype("datetime64[M]").astype("datetime64[s]") == t
            resolution = "month" if bool(np.all(on_month)) else "timestamp"
        order = np.argsort(t, kind="stable")
        return cls(
            x[order],
            y[order],
            t[order],
            crime_type[order],
            harm[order],
            resolution,
            dict(meta or {}),
            context,
        )

    def __len__(self) -> int:
        return len(self.x)

    @property
    def start(self) -> np.datetime64 | None:
        return self.t[0] if len(self.t) else None

    @property
    def end(self) -> np.datetime64 | None:
        """The instant after the last event's period (the month after it for month-only data)."""
        if not len(self.t):
            return None
        last = self.t[-1]
        if self.resolution == "month":
            return (last.astype("datetime64[M]") + 1).astype("datetime64[s]")
        return last + np.timedelta64(1, "s")

    def __getstate__(self) -> dict[str, Any]:
        # Memos stay behind: they can be large (forecasts, feature blocks) and are rebuilt on demand.
        state = dict(self.__dict__)
        state["root"] = None
        state["cache"] = {}
        return state

    def _slice(self, lo: int, hi: int, context: History | None, root: History | None = None) -> History:
        return History(
            self.x[lo:hi],
            self.y[lo:hi],
            self.t[lo:hi],
            self.crime_type[lo:hi],
            self.harm[lo:hi],
            self.resolution,
            self.meta,
            context,
            root=root,
        )

    @property
    def shared_cache(self) -> dict[Any, Any]:
        """A memo shared by a history and every prefix :meth:`before` cuts from it (the whole history's
        ``cache``), so work done for one cut-off can serve fits at later ones. Every entry must be keyed
        by the prefix it was computed from (its cut-off and event counts), so that a fit only ever finds
        work on data it may see."""
        return (self.root if self.root is not None else self).cache

    @property
    def prefix_key(self) -> tuple[int, int]:
        """Which prefix of its root history this is: its event count and its context's."""
        return len(self), -1 if self.context is None else len(self.context)

    def before(self, until: Any) -> History:
        """Events strictly before ``until``: what a forecast made at ``until`` may know."""
        until = as_time(until)
        cut = int(np.searchsorted(self.t, until, side="left"))
        context = None if self.context is None else self.context.before(until)
        if cut == len(self.t) and context is self.context:
            return self
        return self._slice(0, cut, context, self.root if self.root is not None else self)

    def between(self, start: Any, end: Any) -> History:
        lo = int(np.searchsorted(self.t, as_time(start), side="left"))
        hi = int(np.searchsorted(self.t, as_time(end), side="left"))
        context = None if self.context is None else self.context.between(start, end)
        return self._slice(lo, hi, context)

    @property
    def fingerprint(self) -> str:
        """A digest of the events, for caches and provenance."""
        h = hashlib.sha256()
        for arr in (self.x, self.y, self.t.astype("int64"), self.harm):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    def check_origin(self, start: np.datetime64, horizon: Horizon) -> dict[str, Any]:
        """How stale a forecast from ``start`` would be: refuse one that begins more than one horizon after
        the data end (it would forecast from nothing and rank units arbitrarily); else say how far apart."""
        end = self.end
        if end is None:
            raise NoDataError("no events of the target in the store: nothing to forecast from")
        if start > horizon.add(end):
            raise NoDataError(
                f"the data end {str(end)[:10]} but the forecast would start {str(start)[:10]}, more than one "
                f"{horizon} horizon later: load more recent data or forecast from an earlier --until"
            )
        days = float((start - end) / np.timedelta64(1, "D"))
        return {"data_end": str(end)[:10], "days_after_data": round(max(days, 0.0), 1)}

    def check_horizon(self, horizon: Horizon) -> None:
        if self.resolution == "month" and horizon.unit != "M":
            raise NoDataError(
                f"a {horizon} horizon needs timestamped events, but this history is month-only "
                "(police.uk street files): use a monthly horizon such as 1m, or load a force's own records"
            )
