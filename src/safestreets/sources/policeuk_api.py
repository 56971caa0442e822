"""Client for the data.police.uk API, and conversion of its answers to the published CSV schemas.

The API has three habits a client must respect (https://data.police.uk/docs/):

* a leaky bucket of 15 requests/s with bursts of 30, beyond which it answers 429;
* a custom area holding more than 10,000 crimes answers 503, so the area is split and asked again;
* a GET URL over 4,094 characters answers 400, so long polygons go as a POST form.

Answers are turned into the 12-column street and 15-column stop-and-search tables of the monthly CSV files,
so that fetched data goes through the same validation and load path as downloaded files.

Why one module of some 800 lines: the retrying client, the area splitting and the conversions share the
API's record shapes and its quirks; each half alone would have to restate them.
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self, TypeAlias

import httpx
import pyarrow as pa
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from safestreets import __version__
from safestreets.errors import FetchError, ParameterError
from safestreets.sources import policeuk as _policeuk
from safestreets.vocab import SLUG_TO_TYPE

# The published headers, kept in one place (sources/policeuk.py).
STREET_COLUMNS: tuple[str, ...] = tuple(_policeuk.STREET_COLUMNS)
STOP_COLUMNS: tuple[str, ...] = tuple(_policeuk.STOP_COLUMNS)

DEFAULT_BASE_URL = "https://data.police.uk/api/"
# The API answers 400 to GET URLs longer than this; such queries go as a POST form instead.
MAX_GET_URL = 4094
# Coordinates go to the API with 6 decimals (about 0.1 m), which keeps URLs short and split lines exact.
COORD_DECIMALS = 6
# Outlines sent are grown by this many degrees (~0.2 m), well over the rounding above; see _area_query.
QUERY_MARGIN = 2e-6

NO_LOCATION = "No location"
BTP_NAME = "British Transport Police"

Record: TypeAlias = dict[str, Any]
# An area: a shapely (Multi)Polygon in lon/lat, or a bbox (min_lon, min_lat, max_lon, max_lat).
Area: TypeAlias = BaseGeometry | tuple[float, float, float, float]
# on_progress(month, done, total) after each month is fetched.
ProgressCallback: TypeAlias = Callable[[str, int, int], None]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# --------------------------------------------------------------------------------------------- limiter


class RateLimiter:
    """A token bucket: ``burst`` requests at once, then ``rate`` per second on average.

    Seen from the server this is the same constraint as its leaky bucket. ``acquire`` reserves a slot
    under a lock and sleeps outside it, so threads sharing one limiter queue up fairly. ``clock`` and
    ``sleep`` are injectable so tests can run on simulated time.
    """

    def __init__(
        self,
        rate: float = 15.0,
        burst: int = 30,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ParameterError(f"rate must be > 0 and burst >= 1 (got rate={rate}, burst={burst})")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; return the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            # Tokens may go negative: each caller reserves its own future slot.
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def drain(self) -> None:
        """Forget any saved burst: after a 429 the server's bucket is full, so send at the steady rate."""
        with self._lock:
            self._tokens = min(self._tokens, 0.0)


# --------------------------------------------------------------------------------------------- errors


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, or the network."""

    def __init__(self, status: int | None, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class _AreaTooBig(Exception):
    """503 on an area query: more than 10,000 records, so split rather than retry."""


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _WaitRetryAfter:
    """Exponential backoff with jitter, or the server's Retry-After when it gives one (capped)."""

    def __init__(self, initial: float, maximum: float, retry_after_cap: float) -> None:
        self._backoff = wait_exponential(multiplier=initial, max=maximum) + wait_random(0, initial)
        self._cap = retry_after_cap

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._cap)
        return float(self._backoff(state))


# --------------------------------------------------------------------------------------------- geometry


def _polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    """The polygons with area in a geometry; lines and points left by an intersection carry nothing."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom] if geom.area > 0 else []
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygon_parts(g)]
    return []


def as_geometry(area: Area) -> BaseGeometry:
    """A shapely geometry in lon/lat for an area; raises FetchError for anything unusable."""
    if isinstance(area, tuple):
        if len(area) != 4:
            raise FetchError(f"a bbox is (min_lon, min_lat, max_lon, max_lat), got {area!r}")
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in area)
        if not (min_lon < max_lon and min_lat < max_lat):
            raise FetchError(f"bbox has no area: {area!r} (expected min_lon < max_lon and min_lat < max_lat)")
        geom: BaseGeometry = box(min_lon, min_lat, max_lon, max_lat)
    elif isinstance(area, BaseGeometry):
        geom = area if area.is_valid else shapely.make_valid(area)
    else:
        raise FetchError(
            f"area must be a shapely Polygon/MultiPolygon or a bbox tuple, got {type(area).__name__}"
        )
    if not _polygon_parts(geom):
        raise FetchError("area has no polygon with area in it")
    min_x, min_y, max_x, max_y = geom.bounds
    # A common slip is passing British National Grid metres; the API wants WGS84 degrees.
    if min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        raise FetchError(
            f"area bounds {geom.bounds} are not longitude/latitude: reproject it to EPSG:4326 first"
        )
    return geom


def area_hash(area: Area) -> str:
    """sha256 of the area as normalised WKT at API precision, to record which area was fetched."""
    geom = shapely.normalize(as_geometry(area))
    wkt = shapely.to_wkt(geom, rounding_precision=COORD_DECIMALS, trim=True)
    return hashlib.sha256(wkt.encode("ascii")).hexdigest()


def records_sha256(records: Iterable[Record]) -> str:
    """sha256 of records as canonical JSON, independent of the order and splitting that fetched them."""
    lines = sorted(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for r in records)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _fmt(value: float) -> str:
    text = f"{value:.{COORD_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def poly_param(polygon: Polygon) -> str:
    """The API's ``poly`` value for a polygon's outer ring: ``lat,lng:lat,lng:...`` (ring left open)."""
    coords = list(polygon.exterior.coords)[:-1]
    return ":".join(f"{_fmt(lat)},{_fmt(lon)}" for lon, lat in coords)


def _record_point(record: Record) -> tuple[float, float] | None:
    loc = record.get("location")
    if not isinstance(loc, dict):
        return None
    try:
        return float(loc["longitude"]), float(loc["latitude"])
    except (KeyError, TypeError, ValueError):
        return None


def _keep_covered(records: list[Record], polygon: Polygon) -> list[Record]:
    """Records whose point lies in ``polygon`` (edges included); records without a point are kept."""
    points = [_record_point(r) for r in records]
    located = [i for i, p in enumerate(points) if p is not None]
    if not located:
        return records
    xy = [points[i] for i in located]
    inside = shapely.covers(polygon, shapely.points(xy))
    dropped = {i for i, ok in zip(located, inside, strict=True) if not ok}
    return [r for i, r in enumerate(records) if i not in dropped]


# --------------------------------------------------------------------------------------------- client


@dataclass
class FetchStats:
    """What a client did, for the CLI to print."""

    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    throttled: int = 0  # 429 answers
    splits: int = 0  # areas split after a 503
    posts: int = 0  # area queries sent as POST because the GET URL was too long
    simplified: int = 0  # polygons simplified before asking
    bytes: int = 0
    limiter_wait: float = 0.0  # seconds spent waiting for the rate limiter

    def summary(self) -> str:
        return (
            f"{self.requests} requests ({self.retries} retries, {self.throttled} rate-limited), "
            f"{self.splits} area splits, {self.bytes / 1e6:.1f} MB"
        )


@dataclass
class _Merger:
    """Union of overlapping answers: a record on a shared edge comes back from both sides.

    Crimes are keyed by ``id``. Stops have no id, and two real stops can be identical, so they are
    counted: identical records sit on the same point and so come back from the same pieces, each
    time all of them; the true count is the largest count any one piece returned.
    """

    key: Callable[[Record], str]
    found: dict[str, tuple[Record, int]] = field(default_factory=dict)

    def add(self, batch: list[Record]) -> None:
        counts = Counter(self.key(r) for r in batch)
        first: dict[str, Record] = {}
        for r in batch:
            first.setdefault(self.key(r), r)
        for k, n in counts.items():
            seen = self.found.get(k)
            if seen is None or n > seen[1]:
                self.found[k] = (seen[0] if seen else first[k], n)

    def result(self) -> list[Record]:
        return [rec for rec, n in self.found.values() for _ in range(n)]


def _crime_key(record: Record) -> str:
    return str(record.get("id"))


def _stop_key(record: Record) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def _check_month(month: str) -> str:
    if not isinstance(month, str) or not _MONTH.match(month):
        raise FetchError(f"month must be YYYY-MM, got {month!r}")
    return month


class PoliceUKClient:
    """A data.police.uk API client: rate-limited, retrying, splitting large areas.

    Use as a context manager (or call :meth:`close`). ``transport`` lets tests swap the network;
    ``sleep`` is used for backoff between retries. All requests of one client share one limiter.

    ``rate`` and ``burst`` are the server's limits. The limiter runs ``headroom`` (10%) below them:
    network jitter bunches requests up on arrival, and a client sending exactly at the limit keeps the
    server's bucket full and draws a 429 every few dozen requests.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        rate: float = 15.0,
        burst: int = 30,
        headroom: float = 0.1,
        max_attempts: int = 6,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_cap: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        max_split_depth: int = 10,
        min_split_degrees: float = 0.0005,
        max_poly_points: int = 500,
    ) -> None:
        if max_attempts < 1:
            raise ParameterError(f"max_attempts must be at least 1, not {max_attempts}")
        self.base_url = base_url.rstrip("/") + "/"
        if not 0 <= headroom < 1:
            raise ParameterError(f"headroom must be in [0, 1), got {headroom}")
        self.limiter = limiter or RateLimiter(
            rate * (1 - headroom), max(1, math.floor(burst * (1 - headroom)))
        )
        self.max_attempts = max_attempts
        self.max_split_depth = max_split_depth
        self.min_split_degrees = min_split_degrees
        self.max_poly_points = max(4, max_poly_points)
        self.stats = FetchStats()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"safestreets/{__version__}", "Accept": "application/json"},
            follow_redirects=True,
        )
        self._retrying = Retrying(
            stop=stop_after_attempt(max_attempts),
            wait=_WaitRetryAfter(backoff_initial, backoff_max, retry_after_cap),
            retry=retry_if_exception_type(_Transient),
            sleep=sleep,
            before_sleep=self._count_retry,
            reraise=True,
        )
        self._dates: list[Record] | None = None

    # -- lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1

    def _send_once(self, method: str, path: str, query: str, area: bool) -> httpx.Response:
        self.stats.limiter_wait += self.limiter.acquire()
        self.stats.requests += 1
        try:
            if method == "POST":
                resp = self._http.post(
                    path,
                    content=query.encode("ascii"),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            else:
                resp = self._http.get(f"{path}?{query}" if query else path)
        except httpx.TransportError as exc:
            raise _Transient(None, f"{type(exc).__name__}: {exc}") from exc
        self.stats.bytes += len(resp.content)
        status = resp.status_code
        if status == 429:
            self.stats.throttled += 1
            self.limiter.drain()
            raise _Transient(
                status, "HTTP 429 Too Many Requests", _parse_retry_after(resp.headers.get("Retry-After"))
            )
        if status == 503 and area:
            raise _AreaTooBig
        if status >= 500:
            raise _Transient(status, f"HTTP {status}", _parse_retry_after(resp.headers.get("Retry-After")))
        return resp

    def _call(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        what: str,
        area: bool = False,
        none_on_404: bool = False,
    ) -> Any:
        """One API call: retried on 429/5xx/network, POSTed when the GET URL is too long; parsed JSON."""
        # ',' and ':' are legal in a query and the API documents them raw; encoding them would
        # triple the length of a polygon URL.
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        method = "GET"
        if len(self.base_url) + len(path) + 1 + len(query) > MAX_GET_URL:
            method = "POST"
            self.stats.posts += 1
        try:
            resp = self._retrying(self._send_once, method, path, query, area)
        except _Transient as exc:
            raise self._exhausted(exc, what) from None
        if resp.status_code == 404:
            if none_on_404:
                return None
            raise FetchError(
                f"data.police.uk has nothing for {what} (HTTP 404): check the force, neighbourhood and "
                "month (only about the last 36 months are served; see `available_months`)"
            )
        if resp.status_code >= 400:
            reason = _one_line(resp.text) or "no reason given"
            raise FetchError(f"data.police.uk refused {what} (HTTP {resp.status_code}): {reason}")
        try:
            return resp.json()
        except ValueError:
            raise FetchError(
                f"data.police.uk sent something that is not JSON for {what}: {_one_line(resp.text, 80)!r}; "
                "check --base-url points at the API"
            ) from None

    def _exhausted(self, exc: _Transient, what: str) -> FetchError:
        n = self.max_attempts
        if exc.status is None:
            return FetchError(
                f"cannot reach data.police.uk: {_one_line(exc.detail)} ({n} attempts at {self.base_url}); "
                "check the network or --base-url"
            )
        if exc.status == 429:
            return FetchError(
                f"data.police.uk kept rate-limiting {what} (HTTP 429, {n} attempts); "
                "wait a minute and run again, and do not run several fetches at once"
            )
        return FetchError(
            f"data.police.uk answered HTTP {exc.status} to {what} {n} times; "
            "the service may be down or busy, try again later"
        )

    # -- simple endpoints

    def forces(self) -> dict[str, str]:
        """Force id -> name."""
        return {f["id"]: f["name"] for f in self._call("forces", what="the list of forces")}

    def force(self, force: str) -> Record:
        """One force's details (name, url, telephone, engagement methods...)."""
        return dict(self._call(f"forces/{force}", what=f"force {force!r}"))

    def neighbourhoods(self, force: str) -> dict[str, str]:
        """Neighbourhood id -> name for a force."""
        rows = self._call(f"{force}/neighbourhoods", what=f"neighbourhoods of {force!r}")
        return {str(n["id"]): n["name"] for n in rows}

    def neighbourhood_boundary(self, force: str, neighbourhood: str) -> list[tuple[float, float]]:
        """A neighbourhood's boundary as (lon, lat) pairs; the API sends latitude/longitude strings."""
        rows = self._call(
            f"{force}/{neighbourhood}/boundary", what=f"the boundary of {force}/{neighbourhood}"
        )
        try:
            return [(float(p["longitude"]), float(p["latitude"])) for p in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise FetchError(f"boundary of {force}/{neighbourhood} has a malformed point: {exc}") from None

    def neighbourhood_polygon(self, force: str, neighbourhood: str) -> Polygon:
        """A neighbourhood's boundary as a shapely Polygon in lon/lat, ready for :meth:`street_crimes`."""
        geom = Polygon(self.neighbourhood_boundary(force, neighbourhood))
        return geom if geom.is_valid else shapely.make_valid(geom)

    def locate_neighbourhood(self, lat: float, lon: float) -> tuple[str, str] | None:
        """(force id, neighbourhood id) holding a point, or None when no neighbourhood does."""
        found = self._call(
            "locate-neighbourhood",
            {"q": f"{_fmt(lat)},{_fmt(lon)}"},
            what=f"the point {lat},{lon}",
            none_on_404=True,
        )
        if found is None:
            return None
        return str(found["force"]), str(found["neighbourhood"])

    def _street_dates(self) -> list[Record]:
        if self._dates is None:
            self._dates = list(self._call("crimes-street-dates", what="the list of available months"))
        return self._dates

    def available_months(self) -> list[str]:
        """Months with street-level crime, oldest first."""
        return sorted(d["date"] for d in self._street_dates())

    def stop_search_forces(self) -> dict[str, list[str]]:
        """Month -> ids of the forces that published stop and search for it."""
        return {d["date"]: list(d.get("stop-and-search") or []) for d in self._street_dates()}

    def crime_categories(self, month: str) -> dict[str, str]:
        """API slug -> crime type name valid for a month."""
        rows = self._call("crime-categories", {"date": _check_month(month)}, what=f"crime categories {month}")
        return {c["url"]: c["name"] for c in rows}

    def crimes_no_location(self, force: str, month: str) -> list[Record]:
        """A force's crimes that could not be mapped to a location."""
        params = {"category": "all-crime", "force": force, "date": _check_month(month)}
        return list(
            self._call("crimes-no-location", params, what=f"crimes without location, {force} {month}")
        )

    def stops_force(self, force: str, month: str) -> list[Record]:
        """All stops and searches a force reported for a month."""
        params = {"force": force, "date": _check_month(month)}
        return list(self._call("stops-force", params, what=f"stops for {force} {month}"))

    def stops_no_location(self, force: str, month: str) -> list[Record]:
        """A force's stops and searches with no location."""
        params = {"force": force, "date": _check_month(month)}
        return list(self._call("stops-no-location", params, what=f"stops without location, {force} {month}"))

    # -- area queries

    def street_crimes(self, area: Area, month: str) -> list[Record]:
        """Every street-level crime in an area for a month, splitting the area as often as the API needs."""
        return self._area_query("crimes-street/all-crime", area, _check_month(month), _crime_key, "crimes")

    def stops_street(self, area: Area, month: str) -> list[Record]:
        """Every located stop and search in an area for a month."""
        return self._area_query("stops-street", area, _check_month(month), _stop_key, "stops")

    def _area_query(
        self, path: str, area: Area, month: str, key: Callable[[Record], str], noun: str
    ) -> list[Record]:
        """Ask for a slightly larger outline, then keep what the exact area covers.

        Sending coordinates at 6 decimals moves edges by up to ~5e-7 degrees, and the API's rule for
        points on an edge is its own. Asking for an outline grown by :data:`QUERY_MARGIN` and filtering
        with shapely makes the answer exact (edges included), the same however the area was split,
        simplified or holed.
        """
        merger = _Merger(key)
        # The API takes one outer ring per request: MultiPolygons go part by part.
        for part in _polygon_parts(as_geometry(area)):
            outline = Polygon(self._simplified(part).exterior).buffer(QUERY_MARGIN, join_style="mitre")
            for batch in self._fetch_area(path, outline, month, 0, noun):
                merger.add(_keep_covered(batch, part))
        return merger.result()

    def _simplified(self, polygon: Polygon) -> Polygon:
        """An outline with at most ``max_poly_points`` points that still covers the polygon.

        Buffering out by twice the simplification tolerance keeps every point of the original inside
        the simplified ring; the surplus is filtered out afterwards.
        """
        if len(polygon.exterior.coords) <= self.max_poly_points:
            return polygon
        self.stats.simplified += 1
        min_x, min_y, max_x, max_y = polygon.bounds
        tol = math.hypot(max_x - min_x, max_y - min_y) * 1e-4
        outline = Polygon(polygon.exterior)
        for _ in range(30):
            candidate = outline.buffer(2 * tol).simplify(tol, preserve_topology=True)
            parts = _polygon_parts(candidate)
            if len(parts) == 1 and parts[0].covers(outline):
                simple = Polygon(parts[0].exterior)
                if len(simple.exterior.coords) <= self.max_poly_points:
                    return simple
            tol *= 2
        return box(min_x, min_y, max_x, max_y)

    def _fetch_area(
        self, path: str, polygon: Polygon, month: str, depth: int, noun: str
    ) -> list[list[Record]]:
        """The answers for a polygon, one batch per piece asked; recursive over 503 splits.

        Depth first, so a server answering 503 to everything fails after ``max_split_depth`` requests
        rather than 4 ** depth.
        """
        what = f"{path} {month}"
        try:
            return [
                list(self._call(path, {"poly": poly_param(polygon), "date": month}, what=what, area=True))
            ]
        except _AreaTooBig:
            pass
        min_x, min_y, max_x, max_y = polygon.bounds
        width, height = max_x - min_x, max_y - min_y
        if depth >= self.max_split_depth or max(width, height) < self.min_split_degrees:
            raise FetchError(
                f"data.police.uk still answers 503 (too many {noun}) for a {width:.4f} x {height:.4f} degree "
                f"piece of the area in {month} after {depth} splits; the service may be failing, try again "
                "later or ask for a smaller area"
            )
        self.stats.splits += 1
        # Rounded split lines are exact at API precision, so neighbouring pieces share their edge.
        xs = [min_x, max_x]
        ys = [min_y, max_y]
        if width >= height / 2:
            xs.insert(1, round((min_x + max_x) / 2, COORD_DECIMALS))
        if height >= width / 2:
            ys.insert(1, round((min_y + max_y) / 2, COORD_DECIMALS))
        batches: list[list[Record]] = []
        for x0, x1 in itertools.pairwise(xs):
            for y0, y1 in itertools.pairwise(ys):
                for piece in _polygon_parts(polygon.intersection(box(x0, y0, x1, y1))):
                    batches.extend(self._fetch_area(path, piece, month, depth + 1, noun))
        return batches


# --------------------------------------------------------------------------------------------- month by month


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as YYYY-MM."""
    y0, m0 = map(int, _check_month(first).split("-"))
    y1, m1 = map(int, _check_month(last).split("-"))
    start, end = y0 * 12 + m0 - 1, y1 * 12 + m1 - 1
    if end < start:
        raise FetchError(f"month range is backwards: {first} .. {last}")
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(start, end + 1)]


def _by_month(
    fetch: Callable[[str], list[Record]], months: Iterable[str], on_progress: ProgressCallback | None
) -> Iterator[tuple[str, list[Record]]]:
    wanted = [_check_month(m) for m in months]
    for done, month in enumerate(wanted, start=1):
        records = fetch(month)
        if on_progress is not None:
            on_progress(month, done, len(wanted))
        yield month, records


def fetch_street_crimes(
    client: PoliceUKClient, area: Area, months: Iterable[str], *, on_progress: ProgressCallback | None = None
) -> Iterator[tuple[str, list[Record]]]:
    """(month, crimes) for each month in turn, so a caller can load and report progress as it goes."""
    geom = as_geometry(area)  # check the area once, before the first request
    return _by_month(lambda m: client.street_crimes(geom, m), months, on_progress)


def fetch_stops_street(
    client: PoliceUKClient, area: Area, months: Iterable[str], *, on_progress: ProgressCallback | None = None
) -> Iterator[tuple[str, list[Record]]]:
    """(month, stops) for each month in turn."""
    geom = as_geometry(area)
    return _by_month(lambda m: client.stops_street(geom, m), months, on_progress)


def fetch_stops_force(
    client: PoliceUKClient, force: str, months: Iterable[str], *, on_progress: ProgressCallback | None = None
) -> Iterator[tuple[str, list[Record]]]:
    """(month, stops) for a whole force, month by month."""
    return _by_month(lambda m: client.stops_force(force, m), months, on_progress)


# --------------------------------------------------------------------------------------------- conversion


def _text(value: Any) -> str:
    return "" if value is None or value is False else str(value)


def _flag(value: Any) -> str:
    if value is True:
        return "True"
    if value is False:
        return "False"
    return ""


def _string_table(columns: tuple[str, ...], rows: list[list[str]]) -> pa.Table:
    data = {name: pa.array([row[i] for row in rows], type=pa.string()) for i, name in enumerate(columns)}
    return pa.table(data)


def crime_row(crime: Record, force_name: str) -> list[str]:
    """One API crime as a street-file row (see :data:`STREET_COLUMNS`)."""
    loc = crime.get("location") if isinstance(crime.get("location"), dict) else None
    street = (loc or {}).get("street") or {}
    outcome = crime.get("outcome_status") or {}
    slug = _text(crime.get("category"))
    # The API tags crimes recorded by British Transport Police with location_type "BTP"; the files
    # name BTP in "Reported by" and the territorial force in "Falls within".
    reported_by = BTP_NAME if crime.get("location_type") == "BTP" else force_name
    return [
        _text(crime.get("persistent_id")),
        _text(crime.get("month")),
        reported_by,
        force_name,
        _text(loc.get("longitude")) if loc else "",
        _text(loc.get("latitude")) if loc else "",
        _text(street.get("name")) if loc else NO_LOCATION,
        "",  # the API gives no LSOA: left blank for the loader to fill from boundaries
        "",
        # Unknown slugs pass through unchanged so validation names them.
        SLUG_TO_TYPE.get(slug, slug),
        _text(outcome.get("category")) if isinstance(outcome, dict) else "",
        _text(crime.get("context")),
    ]


def crimes_to_table(crimes: list[Record], force_name: str) -> pa.Table:
    """API crimes as a table with exactly the 12 street-file columns, all strings."""
    return _string_table(STREET_COLUMNS, [crime_row(c, force_name) for c in crimes])


def stop_row(stop: Record) -> list[str]:
    """One API stop and search as a stop-and-search-file row (see :data:`STOP_COLUMNS`)."""
    loc = stop.get("location") if isinstance(stop.get("location"), dict) else None
    outcome = _text(stop.get("outcome"))
    if not outcome and isinstance(stop.get("outcome_object"), dict):
        # Some records carry the outcome only in outcome_object.
        outcome = _text(stop["outcome_object"].get("name"))
    return [
        _text(stop.get("type")),
        _text(stop.get("datetime")),
        _flag(stop.get("operation")),
        _text(stop.get("operation_name")),
        _text(loc.get("latitude")) if loc else "",
        _text(loc.get("longitude")) if loc else "",
        _text(stop.get("gender")),
        _text(stop.get("age_range")),
        _text(stop.get("self_defined_ethnicity")),
        _text(stop.get("officer_defined_ethnicity")),
        _text(stop.get("legislation")),
        _text(stop.get("object_of_search")),
        outcome,
        _flag(stop.get("outcome_linked_to_object_of_search")),
        _flag(stop.get("removal_of_more_than_outer_clothing")),
    ]


def stops_to_table(stops: list[Record], force_name: str) -> pa.Table:
    """API stops as a table with exactly the 15 stop-and-search columns, all strings.

    ``force_name`` is accepted for symmetry with :func:`crimes_to_table`; the stop-and-search files
    have no force column, so the caller records the force alongside the table.
    """
    del force_name
    return _string_table(STOP_COLUMNS, [stop_row(s) for s in stops])
