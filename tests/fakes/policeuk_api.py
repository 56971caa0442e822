"""A fake data.police.uk API on 127.0.0.1, behaving like the real one where a client can tell.

It serves a deterministic, seeded set of crimes and stops around central London and reproduces the
API's habits: 503 for an area holding more than ``max_records`` records, 400 for a GET URL over
4,094 characters (POST forms accepted), a leaky bucket of 15 requests/s with bursts of 30 answering 429,
and injectable transient failures. Every request is logged so tests can count and time them.

    with FakePoliceAPI(max_records=200) as api:
        client = PoliceUKClient(api.base_url)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import numpy as np
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from safestreets.vocab import CRIME_TYPES, FORCES

MAX_GET_URL = 4094

# Weights loosely like a central London month: lots of theft and violence, little bicycle theft.
_CATEGORY_WEIGHTS: dict[str, float] = {
    "anti-social-behaviour": 14,
    "bicycle-theft": 2,
    "burglary": 4,
    "criminal-damage-arson": 4,
    "drugs": 3,
    "other-theft": 16,
    "possession-of-weapons": 1,
    "public-order": 6,
    "robbery": 4,
    "shoplifting": 8,
    "theft-from-the-person": 10,
    "vehicle-crime": 5,
    "violent-crime": 20,
    "other-crime": 3,
}
_OUTCOMES = (
    "Under investigation",
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Awaiting court outcome",
    "Local resolution",
)
_STOP_OUTCOMES = (
    ("bu-no-further-action", "A no further action disposal"),
    ("bu-arrest", "Arrest"),
    ("bu-community-resolution", "Community resolution"),
    ("bu-khat-or-cannabis-warning", "Khat or Cannabis warning"),
)
_OBJECTS = ("Controlled drugs", "Offensive weapons", "Stolen goods", "Article for use in theft")
_LEGISLATION = (
    "Misuse of Drugs Act 1971 (section 23)",
    "Police and Criminal Evidence Act 1984 (section 1)",
    "Criminal Justice and Public Order Act 1994 (section 60)",
)
_ETHNICITIES = (
    ("White - English/Welsh/Scottish/Northern Irish/British", "White"),
    ("Black - African", "Black"),
)


@dataclass(frozen=True)
class FakeRequest:
    """One request the fake received."""

    t: float  # time.monotonic() on arrival
    method: str
    path: str  # below the API root, no query: "crimes-street/all-crime"
    url_length: int
    status: int


class FakePoliceAPI:
    """A threaded HTTP server on an ephemeral loopback port; a context manager.

    ``area`` is (min_lon, min_lat, max_lon, max_lat) of the generated snap points. ``rate_limit=False``
    turns off the 429 bucket for tests that only care about data.
    """

    def __init__(
        self,
        *,
        seed: int = 20230101,
        months: tuple[str, ...] = ("2023-01", "2023-02", "2023-03"),
        crimes_per_month: int = 1500,
        stops_per_month: int = 300,
        max_records: int = 200,
        snap_points: int = 500,
        area: tuple[float, float, float, float] = (-0.16, 51.49, -0.06, 51.53),
        rate: float = 15.0,
        burst: int = 30,
        rate_limit: bool = True,
        retry_after: str | None = None,
    ) -> None:
        self.months = months
        self.max_records = max_records
        self.area = area
        self.rate = rate
        self.burst = burst
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.requests: list[FakeRequest] = []
        self._lock = threading.Lock()
        self._level = 0.0
        self._level_at = time.monotonic()
        self._failures: list[tuple[int, str | None]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._generate(np.random.default_rng(seed), crimes_per_month, stops_per_month, snap_points)

    # -- data

    def _generate(self, rng: np.random.Generator, n_crimes: int, n_stops: int, n_snaps: int) -> None:
        min_lon, min_lat, max_lon, max_lat = self.area
        # Snap points, as on the real site: many crimes share one, and 5% of points hold about a quarter.
        snap_lon = np.round(rng.uniform(min_lon, max_lon, n_snaps), 6)
        snap_lat = np.round(rng.uniform(min_lat, max_lat, n_snaps), 6)
        weight = rng.gamma(0.5, size=n_snaps) + 0.02
        weight /= weight.sum()
        slugs = list(_CATEGORY_WEIGHTS)
        cat_p = np.array(list(_CATEGORY_WEIGHTS.values()), dtype=float)
        cat_p /= cat_p.sum()
        next_id = 100_000_000
        self.crimes: dict[str, list[dict[str, Any]]] = {}
        self.no_location: dict[str, list[dict[str, Any]]] = {}
        self.stops: dict[str, list[dict[str, Any]]] = {}
        for month in self.months:
            crimes = []
            snaps = rng.choice(n_snaps, size=n_crimes, p=weight)
            cats = rng.choice(len(slugs), size=n_crimes, p=cat_p)
            for snap, cat in zip(snaps, cats, strict=True):
                next_id += 1
                slug = slugs[cat]
                btp = rng.random() < 0.03
                crimes.append(
                    {
                        "category": slug,
                        "location_type": "BTP" if btp else "Force",
                        "location": {
                            "latitude": f"{snap_lat[snap]:.6f}",
                            "street": {"id": 1_000_000 + int(snap), "name": f"On or near Street {int(snap)}"},
                            "longitude": f"{snap_lon[snap]:.6f}",
                        },
                        "context": "",
                        "outcome_status": None
                        if slug == "anti-social-behaviour"
                        else {"category": _OUTCOMES[int(rng.integers(len(_OUTCOMES)))], "date": month},
                        "persistent_id": "" if slug == "anti-social-behaviour" else rng.bytes(32).hex(),
                        "id": next_id,
                        "location_subtype": "STATION" if btp else "",
                        "month": month,
                    }
                )
            self.crimes[month] = crimes
            unlocated = []
            for _ in range(12):
                next_id += 1
                unlocated.append(
                    {
                        "category": slugs[int(rng.integers(1, len(slugs)))],
                        "location_type": "Force",
                        "location": None,
                        "context": "",
                        "outcome_status": {"category": _OUTCOMES[0], "date": month},
                        "persistent_id": rng.bytes(32).hex(),
                        "id": next_id,
                        "location_subtype": "",
                        "month": month,
                    }
                )
            self.no_location[month] = unlocated
            self.stops[month] = self._generate_stops(rng, month, n_stops, snap_lon, snap_lat, weight)
        self._points = {m: shapely.points([_point(c) for c in self.crimes[m]]) for m in self.months}
        self._stop_located = {m: [s for s in self.stops[m] if s["location"]] for m in self.months}
        self._stop_points = {
            m: shapely.points([_point(s) for s in self._stop_located[m]]) for m in self.months
        }
        self._neighbourhoods = self._make_neighbourhoods(rng)

    def _generate_stops(
        self,
        rng: np.random.Generator,
        month: str,
        n: int,
        snap_lon: np.ndarray,
        snap_lat: np.ndarray,
        weight: np.ndarray,
    ) -> list[dict[str, Any]]:
        stops = []
        for _ in range(n):
            snap = int(rng.choice(len(snap_lon), p=weight))
            # About a quarter of Met stops have no location.
            located = rng.random() > 0.25
            outcome_id, outcome = _STOP_OUTCOMES[int(rng.integers(len(_STOP_OUTCOMES)))]
            self_defined, officer_defined = _ETHNICITIES[int(rng.integers(len(_ETHNICITIES)))]
            operation = [None, False, True][int(rng.integers(3))]
            stops.append(
                {
                    "type": "Person search" if rng.random() < 0.9 else "Person and Vehicle search",
                    "involved_person": True,
                    "datetime": f"{month}-{int(rng.integers(1, 29)):02d}T{int(rng.integers(24)):02d}:"
                    f"{int(rng.integers(60)):02d}:00+00:00",
                    "operation": operation,
                    "operation_name": "Operation Fake" if operation else None,
                    "location": {
                        "latitude": f"{snap_lat[snap]:.6f}",
                        "street": {"id": 1_000_000 + snap, "name": f"On or near Street {snap}"},
                        "longitude": f"{snap_lon[snap]:.6f}",
                    }
                    if located
                    else None,
                    "gender": "Male" if rng.random() < 0.85 else "Female",
                    "age_range": ["10-17", "18-24", "25-34", "over 34"][int(rng.integers(4))],
                    "self_defined_ethnicity": self_defined,
                    "officer_defined_ethnicity": officer_defined,
                    "legislation": _LEGISLATION[int(rng.integers(len(_LEGISLATION)))],
                    "object_of_search": _OBJECTS[int(rng.integers(len(_OBJECTS)))],
                    "outcome": outcome if rng.random() < 0.95 else False,
                    "outcome_linked_to_object_of_search": [None, False, True][int(rng.integers(3))],
                    "removal_of_more_than_outer_clothing": [None, False][int(rng.integers(2))],
                    "outcome_object": {"id": outcome_id, "name": outcome},
                }
            )
        # Group searches: identical records are real, and must survive de-duplication after a split.
        located_stops = [s for s in stops if s["location"]]
        stops.extend(json.loads(json.dumps(s)) for s in located_stops[:5])
        return stops

    def _make_neighbourhoods(self, rng: np.random.Generator) -> dict[str, dict[str, tuple[str, Polygon]]]:
        """Met neighbourhoods as a 3 x 2 grid over the area; City of London as one box beside it.

        Edges are densified and jittered by ~1 m, like real ward boundaries, so an outline keeps its
        hundreds of points and a boundary query is long enough to need POST.
        """
        min_lon, min_lat, max_lon, max_lat = self.area
        step = (max_lon - min_lon) / 300

        def ragged(cell: Polygon) -> Polygon:
            ring = np.array(shapely.segmentize(cell, step).exterior.coords[:-1])
            ring = np.round(ring + rng.uniform(-1e-5, 1e-5, ring.shape), 6)
            return Polygon(ring)

        met: dict[str, tuple[str, Polygon]] = {}
        dx, dy = (max_lon - min_lon) / 3, (max_lat - min_lat) / 2
        for i in range(3):
            for j in range(2):
                cell = box(min_lon + i * dx, min_lat + j * dy, min_lon + (i + 1) * dx, min_lat + (j + 1) * dy)
                met[f"E0500{i}{j}"] = (f"Fake ward {i}-{j}", ragged(cell))
        city = {"cripplegate": ("Cripplegate", ragged(box(max_lon, min_lat, max_lon + 0.02, min_lat + 0.02)))}
        return {"metropolitan": met, "city-of-london": city}

    # -- ground truth

    def crimes_in(self, area: BaseGeometry, month: str) -> list[dict[str, Any]]:
        """The located crimes an exact client must return for ``area`` (edges included)."""
        inside = shapely.covers(area, self._points[month])
        return [c for c, ok in zip(self.crimes[month], inside, strict=True) if ok]

    def stops_in(self, area: BaseGeometry, month: str) -> list[dict[str, Any]]:
        inside = shapely.covers(area, self._stop_points[month])
        return [s for s, ok in zip(self._stop_located[month], inside, strict=True) if ok]

    def neighbourhood_polygon(self, force: str, nid: str) -> Polygon:
        return self._neighbourhoods[force][nid][1]

    # -- control

    def fail_next(self, n: int, status: int = 500, retry_after: str | None = None) -> None:
        """Answer the next ``n`` requests that pass the rate limit with ``status``."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * n)

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def count(self, status: int | None = None, path: str | None = None, method: str | None = None) -> int:
        return sum(
            1
            for r in list(self.requests)
            if (status is None or r.status == status)
            and (path is None or r.path == path)
            and (method is None or r.method == method)
        )

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not running: use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-policeuk",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving

    def _admit(self) -> tuple[bool, tuple[int, str | None] | None]:
        """Leaky bucket, then injected failures: (allowed, failure to answer with)."""
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._level_at) * self.rate)
            self._level_at = now
            if self.rate_limit and self._level + 1 > self.burst + 1e-9:
                return False, None
            self._level += 1
            return True, self._failures.pop(0) if self._failures else None

    def _log(self, arrived: float, method: str, path: str, url_length: int, status: int) -> None:
        with self._lock:
            self.requests.append(FakeRequest(arrived, method, path, url_length, status))

    def handle(self, method: str, raw_path: str, body: bytes, host: str) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON-able body or None, extra headers)."""
        url_length = len(f"http://{host}{raw_path}")
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/api/").strip("/")
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if method == "POST":
            params.update(
                {k: v[0] for k, v in parse_qs(body.decode("ascii"), keep_blank_values=True).items()}
            )
        arrived = time.monotonic()
        allowed, failure = self._admit()
        if not allowed:
            status, payload, headers = (
                429,
                None,
                ({"Retry-After": self.retry_after} if self.retry_after else {}),
            )
        elif failure is not None:
            status, payload = failure[0], None
            headers = {"Retry-After": failure[1]} if failure[1] else {}
        elif method == "GET" and url_length > MAX_GET_URL:
            status, payload, headers = 400, None, {}
        else:
            status, payload = self._route(path, params)
            headers = {}
        self._log(arrived, method, path, url_length, status)
        return status, payload, headers

    def _month(self, params: dict[str, str]) -> str | None:
        month = params.get("date") or self.months[-1]
        return month if month in self.months else None

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        segments = path.split("/")
        if path == "forces":
            return 200, [{"id": fid, "name": name} for fid, name in FORCES.items()]
        if segments[0] == "forces" and len(segments) == 2:
            fid = segments[1]
            if fid not in FORCES:
                return 404, None
            return 200, {
                "id": fid,
                "name": FORCES[fid],
                "url": f"https://example.invalid/{fid}",
                "telephone": "101",
                "description": None,
                "engagement_methods": [],
            }
        if path == "crimes-street-dates":
            return 200, [
                {"date": m, "stop-and-search": ["metropolitan", "city-of-london"]}
                for m in reversed(self.months)
            ]
        if path == "crime-categories":
            if self._month(params) is None:
                return 404, None
            return 200, [{"url": "all-crime", "name": "All crime"}] + [
                {"url": slug, "name": name} for name, slug in CRIME_TYPES.items()
            ]
        if path == "locate-neighbourhood":
            try:
                lat, lon = (float(v) for v in params["q"].split(","))
            except (KeyError, ValueError):
                return 400, None
            point = shapely.Point(lon, lat)
            for force, hoods in self._neighbourhoods.items():
                for nid, (_, poly) in hoods.items():
                    if poly.covers(point):
                        return 200, {"force": force, "neighbourhood": nid}
            return 404, None
        if segments[0] in ("crimes-street", "stops-street"):
            return self._area(segments, params)
        if path in ("crimes-no-location", "stops-force", "stops-no-location"):
            month = self._month(params)
            if params.get("force") not in FORCES or month is None:
                return 404, None
            if params["force"] != "metropolitan":
                return 200, []
            if path == "crimes-no-location":
                return 200, self.no_location[month]
            if path == "stops-force":
                return 200, self.stops[month]
            return 200, [s for s in self.stops[month] if not s["location"]]
        if len(segments) == 2 and segments[1] == "neighbourhoods":
            if segments[0] not in FORCES:
                return 404, None
            hoods = self._neighbourhoods.get(segments[0], {})
            return 200, [{"id": nid, "name": name} for nid, (name, _) in hoods.items()]
        if len(segments) == 3 and segments[2] == "boundary":
            found = self._neighbourhoods.get(segments[0], {}).get(segments[1])
            if found is None:
                return 404, None
            ring = found[1].exterior.coords[:-1]
            return 200, [{"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}"} for lon, lat in ring]
        return 404, None

    def _area(self, segments: list[str], params: dict[str, str]) -> tuple[int, Any]:
        month = self._month(params)
        if month is None:
            return 404, None
        try:
            pairs = [p.split(",") for p in params["poly"].split(":") if p]
            ring = [(float(lng), float(lat)) for lat, lng in pairs]
            polygon = shapely.make_valid(Polygon(ring))
        except (KeyError, ValueError):
            return 400, None
        if len(ring) < 3:
            return 400, None
        if segments[0] == "stops-street":
            found = self.stops_in(polygon, month)
        else:
            found = self.crimes_in(polygon, month)
            category = segments[1] if len(segments) > 1 else "all-crime"
            if category != "all-crime":
                found = [c for c in found if c["category"] == category]
        if len(found) > self.max_records:
            return 503, None
        return 200, found


def _point(record: dict[str, Any]) -> tuple[float, float]:
    loc = record["location"]
    return float(loc["longitude"]), float(loc["latitude"])


def _handler_for(fake: FakePoliceAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections open between requests, as the real API does.
        protocol_version = "HTTP/1.1"
        # Headers and body go in separate writes: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
        disable_nagle_algorithm = True

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload, headers = fake.handle(method, self.path, body, self.headers.get("Host", ""))
            data = b"" if payload is None else json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
