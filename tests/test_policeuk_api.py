"""The data.police.uk client against a loopback fake of the API (no internet)."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from fakes.policeuk_api import FakePoliceAPI
from safestreets.errors import FetchError
from safestreets.sources.policeuk_api import (
    STOP_COLUMNS,
    STREET_COLUMNS,
    PoliceUKClient,
    RateLimiter,
    _parse_retry_after,
    _stop_key,
    area_hash,
    crimes_to_table,
    fetch_street_crimes,
    months_between,
    poly_param,
    records_sha256,
    stops_to_table,
)

MONTH = "2023-01"


def fast_client(api: FakePoliceAPI, **kwargs: Any) -> PoliceUKClient:
    """A client without client-side rate limiting and with millisecond backoff."""
    options: dict[str, Any] = {"rate": 1e6, "burst": 10**6, "backoff_initial": 0.01, "backoff_max": 0.1}
    options.update(kwargs)
    return PoliceUKClient(api.base_url, **options)


@pytest.fixture(scope="module")
def api() -> Iterator[FakePoliceAPI]:
    """A shared fake without its rate limit, for tests about data; never told to fail."""
    with FakePoliceAPI(rate_limit=False) as fake:
        yield fake


@pytest.fixture
def client(api: FakePoliceAPI) -> Iterator[PoliceUKClient]:
    with fast_client(api) as c:
        yield c


def ids(records: list[dict[str, Any]]) -> list[int]:
    return sorted(r["id"] for r in records)


def assert_exact(got: list[dict[str, Any]], truth: list[dict[str, Any]]) -> None:
    got_ids = [r["id"] for r in got]
    assert len(got_ids) == len(set(got_ids)), "duplicates after splitting"
    assert sorted(got_ids) == ids(truth)


# ------------------------------------------------------------ limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_allows_a_burst_then_the_steady_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(15, 30, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(45)]
    assert waits[:30] == [0.0] * 30
    assert waits[30:] == pytest.approx([1 / 15] * 15)
    assert clock.now - 1000.0 == pytest.approx(1.0)


def test_limiter_drain_forgets_the_saved_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(15, 30, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.drain()
    assert limiter.acquire() == pytest.approx(1 / 15)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    rate=st.floats(1, 50),
    burst=st.integers(1, 40),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=120),
)
def test_limiter_never_exceeds_the_bucket(rate: float, burst: int, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, burst, clock=clock, sleep=clock.sleep)
    times = []
    waits = []
    for gap in gaps:
        clock.now += gap  # the caller's own work between requests
        waits.append(limiter.acquire())
        times.append(clock.now)
    # A token bucket: any run of requests i..j fits in burst + rate * elapsed.
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate * (times[j] - times[i]) + 1e-6
    # And it never waits when a token is there: the first `burst` requests go at once.
    assert sum(waits[: min(burst, len(gaps))]) == 0


def test_client_keeps_within_15_per_second_burst_30() -> None:
    with FakePoliceAPI(crimes_per_month=10, stops_per_month=5) as api, PoliceUKClient(api.base_url) as client:
        for _ in range(45):
            client.forces()
        times = sorted(r.t for r in api.requests)
        assert len(times) == 45 + client.stats.retries
        for i in range(len(times)):
            for j in range(i, len(times)):
                assert j - i + 1 <= 30 + 15 * (times[j] - times[i])
        assert api.count(status=429) == 0  # the client's headroom absorbs network jitter
        assert times[-1] - times[0] >= 0.9  # the requests past the burst go at the steady rate


# ------------------------------------------------------------ area queries


def test_street_crimes_split_on_503_and_equal_the_truth(api: FakePoliceAPI, client: PoliceUKClient) -> None:
    area = box(*api.area)
    truth = api.crimes_in(area, MONTH)
    assert len(truth) > 5 * api.max_records  # the whole area must need splitting
    got = client.street_crimes(api.area, MONTH)  # a bbox tuple
    assert_exact(got, truth)
    assert client.stats.splits > 0
    assert api.count(status=503) == client.stats.splits


def test_polygon_with_hole_and_multipolygon(api: FakePoliceAPI, client: PoliceUKClient) -> None:
    holed = Polygon(
        [(-0.15, 51.495), (-0.07, 51.495), (-0.07, 51.525), (-0.15, 51.525)],
        holes=[[(-0.13, 51.50), (-0.09, 51.50), (-0.09, 51.52), (-0.13, 51.52)]],
    )
    assert_exact(client.street_crimes(holed, "2023-02"), api.crimes_in(holed, "2023-02"))
    # Two touching parts: a crime on the shared edge must come back once.
    multi = MultiPolygon([box(-0.14, 51.50, -0.11, 51.52), box(-0.11, 51.50, -0.08, 51.52)])
    assert_exact(client.street_crimes(multi, "2023-03"), api.crimes_in(multi, "2023-03"))


@st.composite
def polygons(draw: st.DrawFn) -> Polygon:
    """Convex hulls of a few points over the fake's area, some reaching past it."""
    lon = st.floats(-0.17, -0.05)
    lat = st.floats(51.485, 51.535)
    points = draw(st.lists(st.tuples(lon, lat), min_size=3, max_size=9))
    hull = shapely.convex_hull(shapely.multipoints(points))
    return hull if isinstance(hull, Polygon) and hull.area > 1e-7 else box(-0.12, 51.50, -0.10, 51.51)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(polygon=polygons(), month=st.sampled_from(["2023-01", "2023-02", "2023-03"]))
def test_any_polygon_returns_exactly_its_crimes(
    api: FakePoliceAPI, client: PoliceUKClient, polygon: Polygon, month: str
) -> None:
    assert_exact(client.street_crimes(polygon, month), api.crimes_in(polygon, month))


def test_stops_street_keeps_identical_stops_after_splitting(
    api: FakePoliceAPI, client: PoliceUKClient
) -> None:
    truth = api.stops_in(box(*api.area), MONTH)
    counts = Counter(_stop_key(s) for s in truth)
    assert max(counts.values()) > 1  # the fake holds identical group searches
    got = client.stops_street(api.area, MONTH)
    assert client.stats.splits > 0
    assert Counter(_stop_key(s) for s in got) == counts


def test_long_polygon_goes_by_post(api: FakePoliceAPI, client: PoliceUKClient) -> None:
    polygon = client.neighbourhood_polygon("metropolitan", "E050011")
    assert len(f"{client.base_url}crimes-street/all-crime?poly={poly_param(polygon)}&date={MONTH}") > 4094
    before_posts, before_400 = api.count(method="POST"), api.count(status=400)
    got = client.street_crimes(polygon, MONTH)
    assert_exact(got, api.crimes_in(api.neighbourhood_polygon("metropolitan", "E050011"), MONTH))
    assert api.count(method="POST") > before_posts
    assert api.count(status=400) == before_400
    assert client.stats.posts >= 1


def test_absurdly_detailed_polygon_is_simplified_but_exact(
    api: FakePoliceAPI, client: PoliceUKClient
) -> None:
    circle = Point(-0.11, 51.51).buffer(0.012, quad_segs=1500)  # 6,000 points
    got = client.street_crimes(circle, MONTH)
    assert client.stats.simplified == 1
    assert_exact(got, api.crimes_in(circle, MONTH))


def test_split_gives_up_with_a_clear_error() -> None:
    with FakePoliceAPI(max_records=0, rate_limit=False) as api, fast_client(api, max_split_depth=3) as client:
        with pytest.raises(FetchError) as err:
            client.street_crimes(api.area, MONTH)
        message = str(err.value)
        assert "\n" not in message
        assert "503" in message and "after 3 splits" in message
        # Depth first: a failing server costs a handful of requests, not 4 ** depth.
        assert api.request_count < 20


def test_fetch_street_crimes_month_by_month(api: FakePoliceAPI, client: PoliceUKClient) -> None:
    area = box(-0.12, 51.50, -0.10, 51.51)
    seen: list[tuple[str, int, int]] = []
    months = months_between("2023-01", "2023-03")
    got = dict(fetch_street_crimes(client, area, months, on_progress=lambda m, d, t: seen.append((m, d, t))))
    assert list(got) == months
    assert seen == [("2023-01", 1, 3), ("2023-02", 2, 3), ("2023-03", 3, 3)]
    for month in months:
        assert_exact(got[month], api.crimes_in(area, month))


# ------------------------------------------------------------ retries and errors


def test_429_is_retried_until_it_succeeds() -> None:
    with FakePoliceAPI(crimes_per_month=10, stops_per_month=5) as api:
        with fast_client(api, backoff_initial=0.05, backoff_max=0.3, max_attempts=12) as client:
            for _ in range(40):  # no client-side limit: the fake's bucket must push back
                assert "metropolitan" in client.forces()
        assert api.count(status=429) > 0
        assert client.stats.throttled == api.count(status=429)
        assert api.count(status=200) == 40


def test_injected_5xx_are_retried() -> None:
    with FakePoliceAPI(crimes_per_month=10, stops_per_month=5, rate_limit=False) as api:
        api.fail_next(2, 500)
        api.fail_next(1, 502)
        with fast_client(api) as client:
            assert client.neighbourhoods("metropolitan")
            assert client.stats.retries == 3
        assert [r.status for r in api.requests] == [500, 500, 502, 200]


def test_retry_after_is_honoured() -> None:
    slept: list[float] = []
    with FakePoliceAPI(crimes_per_month=10, stops_per_month=5, rate_limit=False) as api:
        api.fail_next(1, 429, retry_after="7")
        with fast_client(api, sleep=slept.append) as client:
            client.forces()
    assert slept == [7.0]
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
    assert _parse_retry_after("soon") is None


def test_persistent_5xx_raises_a_helpful_one_line_error() -> None:
    with FakePoliceAPI(crimes_per_month=10, stops_per_month=5, rate_limit=False) as api:
        api.fail_next(100, 500)
        with fast_client(api, max_attempts=3) as client, pytest.raises(FetchError) as err:
            client.forces()
        assert api.request_count == 3
    message = str(err.value)
    assert "\n" not in message
    assert "HTTP 500" in message and "3 times" in message and "try again later" in message


def test_persistent_429_says_what_to_do() -> None:
    with FakePoliceAPI(crimes_per_month=10, stops_per_month=5, rate_limit=False) as api:
        api.fail_next(100, 429)
        with (
            fast_client(api, max_attempts=2) as client,
            pytest.raises(FetchError, match=r"429.*wait a minute"),
        ):
            client.forces()


def test_unreachable_server() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and now refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = PoliceUKClient(f"http://127.0.0.1:{port}/api", max_attempts=2, backoff_initial=0.01, timeout=2)
    with client, pytest.raises(FetchError) as err:
        client.forces()
    message = str(err.value)
    assert message.startswith("cannot reach data.police.uk:")
    assert "check the network or --base-url" in message and "\n" not in message
    assert client.stats.requests == 2


def test_unknown_force_is_a_404_message(client: PoliceUKClient) -> None:
    with pytest.raises(FetchError, match=r"HTTP 404.*check the force"):
        client.neighbourhoods("no-such-force")


def test_bad_inputs_fail_before_any_request(client: PoliceUKClient) -> None:
    before = client.stats.requests
    with pytest.raises(FetchError, match="EPSG:4326"):
        client.street_crimes(box(530000, 180000, 531000, 181000), MONTH)  # British National Grid metres
    with pytest.raises(FetchError, match="YYYY-MM"):
        client.street_crimes(box(-0.12, 51.50, -0.10, 51.51), "2023-1")
    with pytest.raises(FetchError, match="no area"):
        client.street_crimes((-0.1, 51.5, -0.2, 51.6), MONTH)
    assert client.stats.requests == before


# ------------------------------------------------------------ simple endpoints


def test_neighbourhoods_boundaries_and_locate(api: FakePoliceAPI, client: PoliceUKClient) -> None:
    assert client.forces()["metropolitan"] == "Metropolitan Police Service"
    assert client.force("city-of-london")["name"] == "City of London Police"
    hoods = client.neighbourhoods("metropolitan")
    assert len(hoods) == 6 and hoods["E050000"] == "Fake ward 0-0"
    boundary = client.neighbourhood_boundary("metropolitan", "E050000")
    expected = list(api.neighbourhood_polygon("metropolitan", "E050000").exterior.coords)[:-1]
    # (lon, lat) floats parsed from the API's latitude/longitude strings
    assert len(boundary) == len(expected)
    assert all(got == pytest.approx(want) for got, want in zip(boundary, expected, strict=True))
    lon, lat = boundary[0]
    assert -0.2 < lon < 0 and 51 < lat < 52
    assert client.neighbourhood_polygon("metropolitan", "E050000").is_valid
    assert client.locate_neighbourhood(51.52, -0.14) == ("metropolitan", "E050001")
    assert client.locate_neighbourhood(53.8, -1.5) is None


def test_months_categories_and_no_location(api: FakePoliceAPI, client: PoliceUKClient) -> None:
    assert client.available_months() == ["2023-01", "2023-02", "2023-03"]
    assert client.stop_search_forces()["2023-02"] == ["metropolitan", "city-of-london"]
    assert client.crime_categories(MONTH)["violent-crime"] == "Violence and sexual offences"
    unlocated = client.crimes_no_location("metropolitan", MONTH)
    assert unlocated == api.no_location[MONTH]
    table = crimes_to_table(unlocated, "Metropolitan Police Service")
    assert set(table.column("Location").to_pylist()) == {"No location"}
    assert set(table.column("Longitude").to_pylist()) == {""}
    assert client.stops_force("metropolitan", MONTH) == api.stops[MONTH]
    no_loc = client.stops_no_location("metropolitan", MONTH)
    assert no_loc and all(s["location"] is None for s in no_loc)
    with pytest.raises(FetchError, match="36 months"):
        client.crimes_no_location("metropolitan", "2019-01")


# ------------------------------------------------------------ conversion

CRIME = {
    "category": "violent-crime",
    "location_type": "Force",
    "location": {
        "latitude": "51.513",
        "street": {"id": 1, "name": "On or near Fleet Street"},
        "longitude": "-0.108",
    },
    "context": "",
    "outcome_status": {"category": "Under investigation", "date": "2023-01"},
    "persistent_id": "a" * 64,
    "id": 123,
    "location_subtype": "",
    "month": "2023-01",
}


def test_crimes_to_table_columns_and_values() -> None:
    asb = {
        **CRIME,
        "category": "anti-social-behaviour",
        "persistent_id": "",
        "outcome_status": None,
        "id": 124,
    }
    btp = {**CRIME, "location_type": "BTP", "category": "theft-from-the-person", "id": 125}
    nowhere = {**CRIME, "location": None, "id": 126}
    table = crimes_to_table([CRIME, asb, btp, nowhere], "Metropolitan Police Service")
    assert tuple(table.column_names) == STREET_COLUMNS
    assert all(str(t) == "string" for t in table.schema.types)
    rows = table.to_pylist()
    assert rows[0] == {
        "Crime ID": "a" * 64,
        "Month": "2023-01",
        "Reported by": "Metropolitan Police Service",
        "Falls within": "Metropolitan Police Service",
        "Longitude": "-0.108",
        "Latitude": "51.513",
        "Location": "On or near Fleet Street",
        "LSOA code": "",
        "LSOA name": "",
        "Crime type": "Violence and sexual offences",
        "Last outcome category": "Under investigation",
        "Context": "",
    }
    assert (rows[1]["Crime ID"], rows[1]["Crime type"], rows[1]["Last outcome category"]) == (
        "",
        "Anti-social behaviour",
        "",
    )
    assert (rows[2]["Reported by"], rows[2]["Falls within"]) == (
        "British Transport Police",
        "Metropolitan Police Service",
    )
    assert (rows[3]["Longitude"], rows[3]["Latitude"], rows[3]["Location"]) == ("", "", "No location")
    assert crimes_to_table([], "x").num_rows == 0
    assert tuple(crimes_to_table([], "x").column_names) == STREET_COLUMNS


def test_stops_to_table_columns_and_values() -> None:
    stop = {
        "type": "Person search",
        "involved_person": True,
        "datetime": "2023-01-05T10:00:00+00:00",
        "operation": False,
        "operation_name": None,
        "location": {"latitude": "51.5", "street": {"id": 2, "name": "On or near X"}, "longitude": "-0.1"},
        "gender": "Male",
        "age_range": "18-24",
        "self_defined_ethnicity": "White - English/Welsh/Scottish/Northern Irish/British",
        "officer_defined_ethnicity": "White",
        "legislation": "Misuse of Drugs Act 1971 (section 23)",
        "object_of_search": "Controlled drugs",
        "outcome": "Arrest",
        "outcome_linked_to_object_of_search": True,
        "removal_of_more_than_outer_clothing": None,
        "outcome_object": {"id": "bu-arrest", "name": "Arrest"},
    }
    bare = {
        **stop,
        "location": None,
        "operation": None,
        "outcome": False,
        "outcome_object": {"id": "", "name": ""},
        "outcome_linked_to_object_of_search": None,
        "removal_of_more_than_outer_clothing": False,
        "gender": None,
    }
    table = stops_to_table([stop, bare], "Metropolitan Police Service")
    assert tuple(table.column_names) == STOP_COLUMNS
    first, second = table.to_pylist()
    assert first == {
        "Type": "Person search",
        "Date": "2023-01-05T10:00:00+00:00",
        "Part of a policing operation": "False",
        "Policing operation": "",
        "Latitude": "51.5",
        "Longitude": "-0.1",
        "Gender": "Male",
        "Age range": "18-24",
        "Self-defined ethnicity": "White - English/Welsh/Scottish/Northern Irish/British",
        "Officer-defined ethnicity": "White",
        "Legislation": "Misuse of Drugs Act 1971 (section 23)",
        "Object of search": "Controlled drugs",
        "Outcome": "Arrest",
        "Outcome linked to object of search": "True",
        "Removal of more than just outer clothing": "",
    }
    assert second["Latitude"] == second["Longitude"] == second["Gender"] == ""
    assert second["Part of a policing operation"] == ""
    assert second["Outcome"] == ""
    assert second["Outcome linked to object of search"] == ""
    assert second["Removal of more than just outer clothing"] == "False"


def test_hashes_record_what_was_fetched() -> None:
    square = box(-0.12, 51.50, -0.10, 51.51)
    rotated = Polygon([(-0.10, 51.51), (-0.12, 51.51), (-0.12, 51.50), (-0.10, 51.50)])
    assert area_hash(square) == area_hash(rotated) == area_hash((-0.12, 51.50, -0.10, 51.51))
    assert area_hash(square) != area_hash(box(-0.12, 51.50, -0.10, 51.52))
    other = {**CRIME, "id": 9}
    assert records_sha256([CRIME, other]) == records_sha256([other, CRIME])
    assert records_sha256([CRIME]) != records_sha256([other])


def test_poly_param_is_lat_lng_pairs() -> None:
    assert poly_param(box(-0.12, 51.5, -0.1, 51.51)) == "51.5,-0.1:51.51,-0.1:51.51,-0.12:51.5,-0.12"


def test_non_json_and_refused_answers_name_the_problem() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("forces"):
            return httpx.Response(200, text="<html>captive portal</html>")
        return httpx.Response(400, text="Bad\nRequest")

    transport = httpx.MockTransport(answer)
    with PoliceUKClient("http://fake.invalid/api", transport=transport) as client:
        with pytest.raises(FetchError, match=r"not JSON.*--base-url"):
            client.forces()
        with pytest.raises(
            FetchError, match=r"refused the list of available months \(HTTP 400\): Bad Request"
        ):
            client.available_months()
