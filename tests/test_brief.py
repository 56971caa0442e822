"""The briefing reads what was stored (the forecast's backtest, emerging hot spots, the hub ranking) and
computes only what is missing, saying so.

Each test works on its own copy of the shared demo city, so what a briefing stores does not leak into
other tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from safestreets.api import Workspace
from test_brief_realdata import assert_no_lonely_headers, needs_poppler, pages


def _refuse(name: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"{name} ran again: the briefing should read what was stored")

    return refuse


def _forbid_recomputing(monkeypatch: pytest.MonkeyPatch) -> None:
    import safestreets.evaluate.backtest as backtest
    import safestreets.plan.hubs as hubs
    import safestreets.report.brief_parts as parts
    import safestreets.trends.emerging as emerging
    import safestreets.trends.run as trends_run

    monkeypatch.setattr(parts, "backtest_summary", _refuse("the backtest"))
    monkeypatch.setattr(backtest, "backtest", _refuse("the backtest"))
    monkeypatch.setattr(trends_run, "emerging_for_forecast", _refuse("the emerging hot spot classification"))
    monkeypatch.setattr(emerging, "emerging_hotspots", _refuse("the emerging hot spot classification"))
    monkeypatch.setattr(hubs, "rank_hubs", _refuse("the hub ranking"))


@pytest.fixture
def city(demo_city: Path, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(demo_city, ws, ignore=shutil.ignore_patterns("outputs"))
    return ws


def test_hotspots_and_hubs_store_what_they_compute(city: Path) -> None:
    with Workspace(city) as ws:
        before = {t: ws.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                  for t in ("emerging_runs", "hub_rankings")}  # fmt: skip
        ws.hotspots(forecast_run=1, periods=6)
        ws.hubs(budget=3, sweeps=0)
        con = ws.con
        em = con.execute("SELECT emerging_id, forecast_run_id, periods, window_label FROM emerging_runs "
                         "ORDER BY emerging_id DESC LIMIT 1").fetchall()[0]  # fmt: skip
        units = con.execute("SELECT count(*) FROM emerging_units WHERE emerging_id = ?", [em[0]]).fetchall()[
            0
        ][0]
        cells = con.execute("SELECT count(*) FROM forecasts WHERE run_id = 1").fetchall()[0][0]
        hub = con.execute("SELECT ranking_id, forecast_run_id, budget FROM hub_rankings ORDER BY ranking_id DESC "
                          "LIMIT 1").fetchall()[0]  # fmt: skip
        deployments = con.execute(
            "SELECT count(*) FROM hub_deployments WHERE ranking_id = ?", [hub[0]]
        ).fetchall()
        after = {t: ws.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in before}
    assert after == {t: n + 1 for t, n in before.items()}
    assert em[1:] == (1, 6, "2023-07 to 2023-12") and units == cells
    # Hubs rank on the latest forecast, which other tests sharing this store may have added.
    assert hub[2] == 3 and deployments[0][0] == 3
    with Workspace(city) as ws:
        latest = ws.con.execute("SELECT max(run_id) FROM forecast_runs").fetchall()[0][0]
    assert hub[1] == latest


def test_brief_reads_the_stored_backtest_hot_spots_and_ranking(
    city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After forecast (auto), hotspots and hubs, the briefing computes none of the three again."""
    with Workspace(city) as ws:
        ws.hotspots(forecast_run=1, periods=8)
        ws.hubs(budget=4, sweeps=0)
        _forbid_recomputing(monkeypatch)
        result = ws.brief(forecast_run=1, plan_id=1, pdf=False, out_dir=city / "brief")
    html = result.html.read_text("utf-8")
    parts = {p.name: p for p in result.context["parts"]}
    assert all(p.stored for p in parts.values()), parts
    assert (
        "computed now" not in html and "ranked now" not in html and "computed for this briefing" not in html
    )
    assert "2023-05 to 2023-12" in html  # the stored classification: 8 periods, not the default 12
    assert len(result.context["hubs"]["rows"]) == 4  # the stored ranking's deployments
    assert result.context["forecast"]["backtest"]  # auto's backtest, as stored with the forecast


def test_brief_computes_what_is_missing_and_says_so(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model chosen by hand has no backtest, and nothing is classified or ranked for a new forecast: the
    briefing computes the three, says so, and stores them, so the next briefing reads them."""
    with Workspace(city) as ws:
        run = ws.forecast(model="kde", target="violence").run.run_id
        first = ws.brief(forecast_run=run, pdf=False, out_dir=city / "first")
        html = first.html.read_text("utf-8")
        assert "kde was chosen by hand, so the forecast ran no backtest: computed for this briefing" in html
        assert "Hot spots were not classified for this forecast: computed now with 12 monthly periods" in html
        assert "Hubs were not ranked for this forecast: ranked now with 5 deployment(s)" in html
        assert not any(p.stored for p in first.context["parts"])
        assert first.context["forecast"]["backtest"]  # computed, and shown

        _forbid_recomputing(monkeypatch)
        second = ws.brief(forecast_run=run, pdf=False, out_dir=city / "second")
    html = second.html.read_text("utf-8")
    assert all(p.stored for p in second.context["parts"])
    assert "kde was chosen by hand: backtested for a briefing of this forecast on" in html
    assert "computed now" not in html and "ranked now" not in html
    assert second.context["forecast"]["backtest"] == first.context["forecast"]["backtest"]
    assert second.context["changes"]["rows"] == first.context["changes"]["rows"]
    assert second.context["hubs"]["rows"] == first.context["hubs"]["rows"]


def test_brief_recomputes_results_made_before_the_latest_load(
    city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safestreets.report.brief_parts as parts

    with Workspace(city) as ws:
        ws.hotspots(forecast_run=1, periods=6)
        ws.hubs(budget=2, catchment=300.0, sweeps=0)
        later = parts.data_version(ws.con) + 1
        monkeypatch.setattr(parts, "data_version", lambda _con: later)  # as if a load came after
        result = ws.brief(forecast_run=1, plan_id=1, pdf=False, out_dir=city / "brief")
    html = result.html.read_text("utf-8")
    assert "classified before the latest data load" in html and "made before the latest data load" in html
    # made again as the analyst made them: their periods, budget and catchment
    assert (
        "computed now with 6 monthly periods" in html
        and "ranked now with 2 deployment(s), catchment 300 m" in html
    )


def test_brief_asks_for_more_hub_deployments_than_stored(city: Path) -> None:
    with Workspace(city) as ws:
        ws.hubs(budget=2, sweeps=0)
        result = ws.brief(forecast_run=1, plan_id=1, hubs_budget=3, pdf=False, out_dir=city / "brief")
        fewer = ws.brief(forecast_run=1, plan_id=1, hubs_budget=1, pdf=False, out_dir=city / "fewer")
    assert "has 2 deployment(s), fewer than the 3 asked for" in result.html.read_text("utf-8")
    assert len(result.context["hubs"]["rows"]) == 3
    assert len(fewer.context["hubs"]["rows"]) == 1 and all(p.stored for p in fewer.context["parts"])


def test_provenance_is_a_compact_table_with_the_full_json_beside_it(city: Path) -> None:
    import hashlib
    import json

    with Workspace(city) as ws:
        result = ws.brief(forecast_run=1, plan_id=1, pdf=False, out_dir=city / "brief")
    html = result.html.read_text("utf-8")
    sidecar = result.html.with_name(result.html.name.replace(".html", ".provenance.json"))
    assert sidecar.name == "tactical-assessment-2024-01-01.provenance.json"
    assert f'href="{sidecar.name}"' in html  # named and linked in the document
    assert "<pre>" not in html and '"safestreets_version"' not in html  # no raw JSON in the document
    prov = json.loads(sidecar.read_text("utf-8"))
    rows = {r["part"]: r for r in result.context["made_by"]}
    assert set(rows) == {"forecast", "forecast backtest", "emerging hot spots", "hub ranking", "patrol plan"}

    def digest(value: Any) -> str:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    # Each digest is of that part's parameters as the sidecar gives them.
    assert rows["forecast"]["digest"] == digest(prov["forecast"]["params"])
    assert rows["forecast backtest"]["digest"] == digest(prov["backtest"]["params"])
    assert rows["emerging hot spots"]["digest"] == digest(prov["emerging"])
    assert rows["hub ranking"]["digest"] == digest(prov["hubs"])
    assert rows["patrol plan"]["digest"] == digest(prov["plan"])
    for r in rows.values():
        assert r["digest"] in html and len(r["digest"]) == 12
    assert rows["forecast"]["ref"] == "forecast run 1" and rows["patrol plan"]["ref"] == "plan 1"
    sources = {(r["source"], r["force"]): r for r in prov["data_sources"]}
    assert sources[("police.uk", "synthetic-city")]["months"] == "2023-01 to 2023-12"
    assert "safestreets " in html and prov["software"].startswith("safestreets ")


@needs_poppler
def test_demo_briefing_pages(demo_city: Path) -> None:
    """The demo's briefing: 7 pages (was 14, six of them raw JSON), no table header alone at a page foot."""
    pdf = next((demo_city / "outputs").glob("tactical-assessment-*.pdf"))
    assert pages(pdf) <= 8, pages(pdf)
    assert_no_lonely_headers(pdf)
