"""The impact jobs end to end on a synthetic city with a planted intervention: the API, the stored
results and the commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from safestreets.api.demo import load_city_areas_and_places
from safestreets.api.workspace import Workspace
from safestreets.errors import NoDataError, NotFoundError
from safestreets.forecast.targets import FEEDBACK_WARNING, POLICE_FOUND_LABEL, target_warnings
from safestreets.synthetic import CityConfig, PlantedIntervention, generate_city, read_planted

pytestmark = pytest.mark.slow

PLANTED = PlantedIntervention(start="2024-07", months=4, effect=0.5)


@pytest.fixture(scope="module")
def city_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("impact") / "ws"
    ws = Workspace(root, create=True)
    city = ws.root / "synthetic-city"
    generate_city(city, CityConfig(seed=5, n_events=40_000, months=30, intervention=PLANTED))
    load_city_areas_and_places(ws.con, city)
    ws.ingest(city / "police_uk")
    for records in sorted((city / "force_records").glob("*-records.csv")):
        ws.ingest(records, mapping=records.with_name(records.name.replace("-records.csv", "-mapping.toml")))
    ws.forecast(target="violence", model="ewma")
    ws.plan(teams=2, cards=False)
    ws.close()
    return root


def test_planted_effect_is_found(city_ws: Path) -> None:
    planted = city_ws / "synthetic-city" / "interventions" / "planted.json"
    assert read_planted(planted)["effect"] == 0.5
    with Workspace(city_ws) as ws:
        r = ws.evaluate_impact(start="2024-07", end="2024-11", area=str(planted), target="public")
    by = {e.method.split(" (")[0]: e for e in r.effects}
    for name in ("difference-in-differences", "interrupted time series"):
        e = by[name]
        assert e.answerable and e.significant, e.verdict()
        assert e.ratio_high < 1.0 and 0.35 < e.ratio < 0.85
    assert r.comparison["matched_units"] and r.comparison["buffer_units_excluded"] > 0
    assert r.wdq is not None and r.wdq.areas["control_chosen"]
    assert r.result_id is not None
    d = r.to_dict()
    json.dumps(d)
    assert "# " in r.markdown() and "assumes" in r.markdown()


def test_no_effect_where_nothing_was_planted(city_ws: Path) -> None:
    area = read_planted(city_ws / "synthetic-city" / "interventions" / "planted.json")
    cx, cy = area["centre"]
    # The same size of disc on the other side of the centre.
    wkt = f"POINT ({cx - 3000} {cy - 2000})"
    import shapely

    disc = shapely.from_wkt(wkt).buffer(900)
    with Workspace(city_ws) as ws:
        r = ws.evaluate_impact(start="2024-07", end="2024-11", area=disc, target="public", save=False)
    e = next(e for e in r.effects if e.method == "difference-in-differences")
    assert e.answerable
    assert e.ratio_low < 1.0 < e.ratio_high, e.verdict()


def test_a_recorded_operation_is_evaluated_from_the_register(city_ws: Path) -> None:
    """The register's polygon (lon/lat WKT) and dates give the same area and months as the planted one."""
    import shapely

    from safestreets.geo.project import crs_to_lonlat

    planted = read_planted(city_ws / "synthetic-city" / "interventions" / "planted.json")
    with Workspace(city_ws) as ws:
        area = shapely.from_wkt(planted["wkt"])
        lonlat = shapely.transform(area, lambda xy: np.column_stack(crs_to_lonlat(xy[:, 0], xy[:, 1], ws.crs)))
        op = ws.operation_add(name="Op Planted", start="2024-07-01", end="2024-10-20",
                              areas=[shapely.to_wkt(lonlat, rounding_precision=7)], tactics=["hot-spot-patrols"],
                              actor="analyst")  # fmt: skip
        r = ws.evaluate_operation("Op Planted", target="public", save=False)
        assert r.label == f"operation {op.id}: Op Planted"
        direct = ws.evaluate_impact(start="2024-07", end="2024-11", area=area, target="public", save=False)
    ours = {e.method: e for e in r.effects}
    for e in direct.effects:
        assert ours[e.method].answerable == e.answerable
        if e.answerable:
            assert abs(ours[e.method].ratio - e.ratio) < 0.02, (e.method, ours[e.method].ratio, e.ratio)
    did = ours["difference-in-differences"]
    assert did.significant and did.ratio_high < 1.0


def test_cannot_say_with_too_little_before(city_ws: Path) -> None:
    planted = city_ws / "synthetic-city" / "interventions" / "planted.json"
    with Workspace(city_ws) as ws:
        r = ws.evaluate_impact(start="2023-04", end="2023-06", area=str(planted), target="public", save=False)
        assert all(not e.answerable for e in r.effects if e.method != "difference-in-differences")
        assert any("cannot say" in line for line in r.lines())
        with pytest.raises(NotFoundError):
            ws.evaluate_operation(999)
        with pytest.raises(NoDataError):
            ws.evaluate_impact(start="2020-01", end="2020-03", area=str(planted))


def test_near_repeat_advice_and_month_only_refusal(city_ws: Path) -> None:
    with Workspace(city_ws) as ws:
        r = ws.near_repeat(target="burglary", permutations=99)
        assert r.knox.events > 500
        assert r.advice.found, r.advice.text
        assert ws.near_repeat_advice()["text"] == r.advice.text
        with pytest.raises(NoDataError, match="month"):
            ws.near_repeat(target="burglary", source="police.uk", permutations=19)


def test_fairness_of_the_plan_with_groups(city_ws: Path) -> None:
    pop = city_ws / "synthetic-city" / "population" / "lsoa_population.csv"
    with Workspace(city_ws) as ws:
        r = ws.fairness(population=pop)
        assert r.subject.startswith("plan")
        assert np.isclose(r.patrol.exposure_share.sum(), 1.0)
        assert r.stops is not None and np.isclose(r.stops.exposure_share.sum(), 1.0)
        assert set(r.patrol.groups) >= {"white", "black"}
        assert r.section60 is None and any("no Section 60 authorisation" in n for n in r.notes)
        # A Section 60 authorisation inside the audited months: its hours go to the areas it covers.
        cx, cy = read_planted(city_ws / "synthetic-city" / "interventions" / "planted.json")["centre"]
        from safestreets.geo.project import crs_to_lonlat

        lon, lat = crs_to_lonlat(np.array([cx]), np.array([cy]), ws.crs)
        week = ws.con.execute("SELECT max(week_start) FROM plan_runs").fetchone()[0]
        when = f"{(np.datetime64(week, 'M') - 2)}-10T18:00:00+00:00"
        ws.s60_add(starts_at=when, ends_at=when.replace("T18", "T23"), authorised_by="Insp A", rank="inspector",
                   grounds="a stabbing; retaliation expected", place="planted", lon=float(lon[0]),
                   lat=float(lat[0]), radius_m=600.0, actor="analyst")  # fmt: skip
        r = ws.fairness(population=pop)
        assert r.section60 is not None
        assert np.isclose(r.section60.exposure_share.sum(), 1.0)
        assert r.to_dict()["section60"]["kind"] == "Section 60 hours"
        stored = ws.impact_result("fairness")
        assert stored is not None and stored["result"]["subject"] == r.subject
        f = ws.fairness(forecast_run=1, save=False)
        assert f.subject == "forecast run 1"


def test_audit_record_files(city_ws: Path, tmp_path: Path) -> None:
    with Workspace(city_ws) as ws:
        ws.fairness(save=True)
        res = ws.audit_record(out_dir=tmp_path, organisation="Synthetic City Police")
    record = json.loads((tmp_path / "atrs-record.json").read_text())
    assert set(record) >= {"metadata", "tier_1", "tier_2", "dpia_inputs", "fairness_audit"}
    assert set(record["tier_2"]) == {
        "owner_and_responsibility", "description_and_rationale", "decision_making_process", "data",
        "risks_mitigations_and_impact_assessments",
    }  # fmt: skip
    assert record["tier_1"]["organisation"] == "Synthetic City Police"
    assert record["fairness_audit"] is not None
    assert any("contact email" in g for g in res.gaps)
    assert "## Tier 1: overview" in (tmp_path / "atrs-record.md").read_text()


def test_commands(city_ws: Path, tmp_path: Path) -> None:
    from safestreets.cli import app

    runner = CliRunner()
    planted = city_ws / "synthetic-city" / "interventions" / "planted.json"
    r = runner.invoke(app, ["evaluate", "impact", "-w", str(city_ws), "--start", "2024-07", "--end", "2024-11",
                            "--area", str(planted), "--target", "public", "--out", str(tmp_path / "r.md")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "difference-in-differences" in r.output and (tmp_path / "r.md").exists()
    r = runner.invoke(app, ["evaluate", "near-repeat", "-w", str(city_ws), "--permutations", "19",
                            "--format", "json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["advice"]["crime"] == "a burglary"
    r = runner.invoke(app, ["evaluate", "feedback-loop", "--rounds", "200"])
    assert r.exit_code == 0 and "ran away" in r.output
    r = runner.invoke(app, ["audit", "fairness", "-w", str(city_ws), "--format", "csv"])
    assert r.exit_code == 0 and r.output.startswith("area,name,exposure_share")
    r = runner.invoke(app, ["audit", "record", "-w", str(city_ws), "--out", str(tmp_path)])
    assert r.exit_code == 0 and "atrs-record.json" in r.output
    r = runner.invoke(app, ["evaluate", "results", "-w", str(city_ws), "--format", "json"])
    assert r.exit_code == 0 and {row["kind"] for row in json.loads(r.output)} >= {"evaluation", "near-repeat"}
    r = runner.invoke(app, ["audit", "--help"])
    assert "verify" in r.output and "fairness" in r.output and "record" in r.output


def test_police_found_targets_warn(city_ws: Path) -> None:
    assert target_warnings({"police_found": False}) == []
    assert target_warnings({"police_found": True}) == [POLICE_FOUND_LABEL, FEEDBACK_WARNING]
    with Workspace(city_ws) as ws:
        fc = ws.forecast(target="drugs", model="last-period", include_police_found=True)
        assert FEEDBACK_WARNING in fc.notes
        plan = ws.plan(forecast_run=fc.run_id, teams=1, cards=False)
        assert FEEDBACK_WARNING in plan.notes


def test_brief_and_plan_carry_the_advice(city_ws: Path) -> None:
    with Workspace(city_ws) as ws:
        ws.near_repeat(target="burglary", permutations=49)
        ws.fairness()
        plan = ws.plan(teams=1, cards=False)
        assert any(n.startswith("near repeats: Raise patrols within") for n in plan.notes)
        brief = ws.brief(pdf=False)
    html = Path(brief.html).read_text()
    assert "Near repeats and fairness" in html and "Raise patrols within" in html
    assert "Section 60" in html


def test_record_compares_the_model_with_the_strongest_baseline(city_ws: Path, tmp_path: Path) -> None:
    from safestreets.api.transparency import build_record
    from safestreets.forecast.store import StoredBacktest, save_backtest

    with Workspace(city_ws) as ws:
        run, model = ws.con.execute(
            "SELECT run_id, model FROM forecast_runs ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        others = [b for b in ("kde", "prospective", "last-period") if b != model]
        summary = [
            {"model": model, "coverage": 5, "hit_rate": 0.30},
            {"model": others[0], "coverage": 5, "hit_rate": 0.25},
            {"model": others[1], "coverage": 5, "hit_rate": 0.20},
        ]
        save_backtest(ws.con, StoredBacktest(run, "brief", model, None, {}, summary, {"origins": 4}))
        record, gaps = build_record(ws.con, organisation="x", contact_email="a@b", senior_owner="SRO")
    acc = record["tier_2"]["description_and_rationale"]["models"]["accuracy"]
    assert acc["against_strongest_baseline"] == [
        {
            "coverage": 5,
            "model_hit_rate": 0.30,
            "best_baseline": "kde",
            "baseline_hit_rate": 0.25,
            "ratio": 1.2,
        }
    ]
    assert not any("backtest" in g for g in gaps)


def test_dashboard_pages_show_the_stored_results(city_ws: Path) -> None:
    from fastapi.testclient import TestClient

    from safestreets.api import accounts
    from safestreets.db import sessions
    from safestreets.web import create_app, settings_for

    planted = city_ws / "synthetic-city" / "interventions" / "planted.json"
    with Workspace(city_ws) as ws:
        ws.evaluate_impact(start="2024-07", end="2024-11", area=str(planted), target="public")
        ws.near_repeat(target="burglary", permutations=49)
        ws.fairness()
        ids = {r["kind"]: r["result_id"] for r in reversed(ws.impact_results())}
    app = create_app(settings_for(city_ws))
    account, _ = accounts.add_user(app.state.db, "impact-viewer", "viewer", actor="test")
    token = sessions.start(app.state.db, account)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    client.cookies.set("ss_session", token)
    page = client.get("/impact")
    assert page.status_code == 200 and "Raise patrols within" in page.text and "ran away" in page.text
    for kind in ("evaluation", "near-repeat", "fairness"):
        r = client.get(f"/impact/{ids[kind]}")
        assert r.status_code == 200, (kind, r.text[:300])
        assert client.get(f"/api/impact/{ids[kind]}").json()["kind"] == kind
    assert "difference-in-differences" in client.get(f"/impact/{ids['evaluation']}").text
    assert client.get("/api/impact/999999").status_code == 404
    trail = list(accounts.audit_entries(app.state.db, actor="test"))
    assert any(e["target"] == f"/api/impact/{ids['fairness']}" for e in trail)
