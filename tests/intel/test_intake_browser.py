"""The form in a real browser with JavaScript switched off (Tor Browser's safest mode) on a phone-sized
screen: Playwright drives Debian's chromium against ``safestreets intake serve`` on loopback. Skipped, saying
why, where playwright or /usr/bin/chromium is missing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from intel.intel_support import PASSPHRASE, gps_photo, serve
from safestreets.api import Workspace

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)"
    ),
]


def test_report_and_return_with_javascript_off_on_a_phone(ws: Workspace, tmp_path: Path) -> None:
    root = ws.root
    ws.close()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(gps_photo())
    served = serve(root, tmp_path / "run")
    problems: list[str] = []
    hosts: set[str] = set()
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844},
                                          device_scale_factor=2, has_touch=True)  # fmt: skip
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            context.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or ""))
            page.goto(served.url + "/")
            page.fill("#what", "Two lads hiding a blade in the planter by the cashpoint")
            page.fill("#where", "Market Square")
            page.check("input[name=how][value=saw]")
            page.locator("summary").click()
            page.fill("#lat", "51.5154")
            page.fill("#lon", "-0.0921")
            page.set_input_files("#photos", str(photo))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "intake-form-phone.png"), full_page=True)
            page.click("button[type=submit]")
            page.wait_for_selector("#codename")
            name = page.inner_text("#codename").strip()
            assert len(name.split()) == 7 and "1 photo sent" in page.content()
            page.screenshot(path=str(ARTIFACTS / "intake-codename-phone.png"), full_page=True)
            page.goto(served.url + "/return")
            page.fill("#codename", name)
            page.click("button[type=submit]")
            page.wait_for_selector("#more")
            page.fill("#more", "They come back every evening at six")
            page.click("button[type=submit]")
            page.wait_for_selector("text=We have added that")
            # A page no wider than the phone: nothing to scroll sideways.
            width = page.locator("main").bounding_box()["width"]
            assert width <= 390
            assert not context.cookies()
            browser.close()
    finally:
        served.stop()
    assert hosts <= {"127.0.0.1"}, hosts
    assert not problems, problems
    with Workspace(root) as staff:
        rid = staff.intel_reports(actor="t")[0]["id"]
        shown = staff.intel_show(staff.intel_unlock(PASSPHRASE), rid, actor="t")
    assert shown.opened.doc["point"] == [51.5154, -0.0921] and len(shown.opened.photos) == 1
    assert shown.opened.messages[0]["text"] == "They come back every evening at six"


def test_pick_a_place_on_the_map_with_javascript_off(ws: Workspace, tmp_path: Path) -> None:
    from intel.intel_support import lsoa_file

    ws.load_areas(
        lsoa_file(tmp_path / "lsoa.geojson"), kind="lsoa", code_field="LSOA21CD", name_field="LSOA21NM"
    )
    made = ws.intel_pick_map(tmp_path / "pick" / "map.svg")
    root = ws.root
    ws.close()
    served = serve(root, tmp_path / "run", "--pick-map", str(made.svg))
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.goto(served.url + "/")
            page.click("a[href='/pick']")
            page.click("input.pickmap", position={"x": made.width / 4, "y": made.height * 3 / 4})
            page.wait_for_selector(".picked")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "intake-picked-phone.png"), full_page=True)
            lat, lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
            browser.close()
    finally:
        served.stop()
    expect = made.place(made.width / 4, made.height * 3 / 4)
    assert abs(lat - expect[0]) < 0.0005 and abs(lon - expect[1]) < 0.0005
