"""The dashboard in a real browser: Playwright drives Debian's chromium against the app served by uvicorn
on 127.0.0.1 (a copy of the demo city). Sign in, open the map, toggle layers, filter a BCU, click a cell
for its history, download a briefing; and no page ever asks anything of a host beyond this machine.

Screenshots go to tests/artifacts/browser/ (ignored by git) for a person to look at. The tests skip, saying
why, where playwright or /usr/bin/chromium is missing ('make test' installs chromium with apt-get);
playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).parent / "artifacts" / "browser"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian's chromium is not at {CHROMIUM}: 'make test' installs it with apt-get (apt-get install chromium)",
    ),
]


@dataclass
class Served:
    url: str
    passwords: dict[str, str]
    app: Any


@pytest.fixture(scope="module")
def served(demo_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on 127.0.0.1 and a free port, in a thread, over a copy of the demo city."""
    import uvicorn

    from safestreets.api.accounts import add_user
    from safestreets.web import create_app, settings_for
    from test_web_map import demo_copy

    ws = demo_copy(demo_city, tmp_path_factory.mktemp("browser") / "ws")
    app = create_app(settings_for(ws))  # Secure cookies: browsers accept them from http://127.0.0.1
    passwords = {role: add_user(app.state.db, f"web-{role}", role, actor="test")[1]
                 for role in ("viewer", "analyst", "admin")}  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the app did not start under uvicorn")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", passwords, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Session:
    page: Any
    context: Any
    problems: list[str] = field(default_factory=list)  # console errors, page errors, CSP refusals
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _console(problems: list[str], msg: Any) -> None:
    if msg.type != "error":
        return
    where = (msg.location or {}).get("url", "")
    if where.endswith("/favicon.ico"):  # the browser asks for an icon the dashboard does not have
        return
    problems.append(f"console: {msg.text} ({where})")


@pytest.fixture
def signed_in(browser: Any, served: Served) -> Iterator[Any]:
    """Sign in as a role; returns a :class:`Session` whose page sits on the overview."""
    opened: list[Any] = []

    def sign_in(role: str) -> Session:
        context = browser.new_context(base_url=served.url, viewport={"width": 1500, "height": 950},
                                      accept_downloads=True)  # fmt: skip
        opened.append(context)
        page = context.new_page()
        session = Session(page, context)
        context.on("request", lambda r: session.requests.append(r.url))
        page.on("console", lambda m: _console(session.problems, m))
        page.on("pageerror", lambda e: session.problems.append(f"page error: {e}"))
        page.goto("/login")
        page.fill("input[name=username]", f"web-{role}")
        page.fill("input[name=password]", served.passwords[role])
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(served.url + "/")
        return session

    yield sign_in
    for context in opened:
        context.close()


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def _wait_count(page: Any, selector: str, predicate: str, timeout: float = 15_000) -> None:
    """Wait until the number of elements matching ``selector`` satisfies ``n <predicate>`` (JS)."""
    # A function, not an expression: an expression would be eval'd, which the page's CSP refuses.
    page.wait_for_function(
        f"() => document.querySelectorAll({selector!r}).length {predicate}", timeout=timeout
    )


def _wait_text(page: Any, selector: str, text: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"() => document.querySelector({selector!r}).innerText.includes({text!r})", timeout=timeout
    )


@pytest.mark.timeout(300)
def test_map_layers_filters_and_history(signed_in: Any, served: Served) -> None:
    s = signed_in("analyst")
    page = s.page
    page.click("nav a[href='/map']")
    page.wait_for_url(served.url + "/map")
    _wait_count(page, ".leaflet-forecast-pane path", "> 0")
    _wait_count(page, ".hs-badge", "> 0")
    _wait_count(page, ".hub-badge", "> 0")
    plan = page.request.get("/api/layers/hotspots").json()
    assert _count(page, ".hs-badge") == plan["meta"]["count"]
    legend = page.locator("#legend")
    assert "Forecast: violence" in legend.inner_text() and "Plan 1" in legend.inner_text()
    assert "download GeoJSON" in legend.inner_text()  # analysts may export
    assert page.locator(".area-label").count() >= 8  # borough names on the map
    s.shot("map-1-default")

    # Toggle layers: forecast off, recorded crime and emerging hot spots on.
    page.uncheck("#l-forecast")
    _wait_count(page, ".leaflet-forecast-pane path", "== 0")
    page.check("#l-crime")
    _wait_count(page, ".leaflet-crime-pane path", "> 0")
    page.check("#l-emerging")
    _wait_count(page, ".leaflet-emerging-pane path", "> 0")
    assert "Recorded crime" in legend.inner_text() and "Emerging hot spots" in legend.inner_text()
    s.shot("map-2-crime-emerging")

    # Crime as points for one month.
    page.select_option("#f-mode", "points")
    page.select_option("#f-from", "2023-12")
    page.select_option("#f-to", "2023-12")
    _wait_text(page, "#legend", "one recorded crime")
    _wait_count(page, ".leaflet-crime-pane path", "> 0")

    # Filter a BCU: the map zooms to it and every layer keeps to it.
    central = page.request.get("/api/layers/hotspots?bcu=central").json()["meta"]["count"]
    assert 0 < central < plan["meta"]["count"]
    page.select_option("#f-bcu", "central")
    _wait_count(page, ".hs-badge", f"== {central}")
    assert "Showing Central BCU only" in legend.inner_text()
    s.shot("map-3-bcu-central")

    # Click a cell: its history chart and why it ranks where it does.
    for layer in ("#l-crime", "#l-emerging", "#l-hotspots", "#l-hubs"):
        page.uncheck(layer)
    page.check("#l-forecast")
    _wait_count(page, ".leaflet-forecast-pane path", "> 0")
    _wait_count(page, ".hs-badge", "== 0")
    page.locator(".leaflet-forecast-pane path").first.click()  # riskiest first: rank 1 of the run
    page.wait_for_selector("#detail svg.chart rect.bar", state="attached")
    detail = page.locator("#detail").inner_text()
    assert "Rank 1st of" in detail and "Why this model" in detail and "Neighbours" in detail
    assert _count(page, "#detail svg.chart rect.bar") >= 12  # twelve months recorded (+ the forecast)
    assert _count(page, "#detail svg.chart rect.bar.forecast") == 1
    s.shot("map-4-cell-history")

    # Click an area: its own history.
    page.uncheck("#l-forecast")
    page.select_option("#f-kind", "lsoa")
    _wait_count(page, ".leaflet-areas-pane path", "> 5")
    page.locator(".leaflet-areas-pane path").nth(3).click(force=True)
    _wait_text(page, "#detail", "LSOA")
    page.wait_for_selector("#detail svg.chart rect.bar", state="attached")
    s.shot("map-5-area-history")

    assert not s.problems, s.problems


@pytest.mark.timeout(120)
def test_viewer_map_has_no_downloads(signed_in: Any, served: Served) -> None:
    s = signed_in("viewer")
    page = s.page
    page.goto("/map")
    _wait_count(page, ".leaflet-forecast-pane path", "> 0")
    _wait_text(page, "#legend", "Forecast")
    assert "download" not in page.locator("#legend").inner_text().lower()
    assert page.request.get("/api/layers/forecast?download=true").status == 403
    assert not s.problems, s.problems


@pytest.mark.timeout(180)
def test_analyst_downloads_a_briefing(signed_in: Any, served: Served) -> None:
    s = signed_in("analyst")
    page = s.page
    response = page.goto("/briefings")
    links = page.locator("main a[download], main a[href$='.pdf'], main a[href*='/download']")
    if response is None or response.status != 200 or links.count() == 0:
        pytest.skip("the briefings page with download links is not on this branch yet (built in parallel)")
    with page.expect_download() as info:
        links.first.click()
    download = info.value
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = ARTIFACTS / (download.suggested_filename or "briefing")
    download.save_as(str(saved))
    assert saved.stat().st_size > 1000
    s.shot("briefings")
    assert not s.problems, s.problems


@pytest.mark.timeout(300)
def test_no_request_leaves_loopback(signed_in: Any, served: Served) -> None:
    """Every request every reachable page makes (scripts, styles, images, fonts, XHR) goes to this machine:
    no CDN, no tile server, no fonts or analytics from elsewhere."""
    s = signed_in("admin")
    page = s.page
    nav = page.eval_on_selector_all("header nav a", "links => links.map(a => a.getAttribute('href'))")
    assert "/map" in nav
    for href in [*nav, "/api/docs"]:
        page.goto(href)
        page.wait_for_load_state("networkidle")
    page.goto("/map")
    _wait_count(page, ".leaflet-forecast-pane path", "> 0")
    for layer in ("#l-crime", "#l-emerging"):
        page.check(layer)
    page.wait_for_load_state("networkidle")
    page.locator(".leaflet-forecast-pane path").first.click(force=True)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert any("/api/layers/crime" in u for u in s.requests)
    assert any("/static/swagger/" in u for u in s.requests)
    away = []
    for url in s.requests:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in LOOPBACK:
            away.append(url)
    assert not away, f"requests beyond this machine: {away}"
