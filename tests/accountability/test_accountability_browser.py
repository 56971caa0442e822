"""In a real browser (chromium, as tests/test_web_browser.py drives it) on the demo city: the map's Section 60
and operations layer draws the registers' areas, and the accountability pages load with no script error."""

from __future__ import annotations

import time
from typing import Any

import pytest

from test_web_browser import browser, pytestmark, served, signed_in  # noqa: F401 - the shared fixtures

__all__ = ["pytestmark"]


def wait_for(page: Any, selector: str, least: int = 1, timeout: float = 20.0) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        n = page.locator(selector).count()
        if n >= least:
            return n
        time.sleep(0.2)
    raise AssertionError(f"fewer than {least} of {selector}")


@pytest.mark.timeout(300)
def test_map_layer_and_pages(signed_in: Any, served: Any) -> None:  # noqa: F811
    s = signed_in("analyst")
    page = s.page
    layer = page.request.get("/api/layers/accountability").json()
    kinds = {f["properties"]["layer"] for f in layer["features"]}
    assert kinds == {"s60", "operation"}, kinds  # the demo city's registers
    page.goto("/map")
    page.check("#l-accountability")
    assert wait_for(page, ".leaflet-accountability-pane path") == len(layer["features"])
    for url, text in (("/accountability/stopsearch", "Disproportionality"), ("/accountability/operations", "Operation"),
                      ("/accountability/s60", "Insp Carter")):  # fmt: skip
        page.goto(url)
        assert text in page.content(), url
    page.goto("/accountability/operations/1")
    assert "Record a tally" in page.content()
    assert not s.problems, s.problems
