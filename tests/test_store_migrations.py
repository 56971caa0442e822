"""Schema migrations: a store made by an earlier version opens, migrated, with its rows intact."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from safestreets.config import Workspace
from safestreets.sources.keys import stop_key_sql
from safestreets.store import open_store, schema


def _store_at(path: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A store with the migrations up to ``version`` applied, as that version of safestreets made it."""
    everything = schema.migrations
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(schema, "migrations", lambda: [m for m in everything() if m.version <= version])
        con = open_store(Workspace(path))
    assert schema.current_version(con) == version
    return con


_OLD_SEARCH = (
    "INSERT INTO stop_searches (search_id, force, month, occurred_at, lon, lat, search_type, gender, outcome_raw, "
    "operation_name, source, batch_id) VALUES (?, 'city-of-london', DATE '2023-01-01', ?::TIMESTAMPTZ, "
    "-0.091, 51.515, 'Person search', ?, 'Arrest', ?, 'police.uk', ?)"
)


def test_stop_search_keys_are_recomputed_and_repeats_renumbered(tmp_path: Path) -> None:
    con = _store_at(tmp_path / "ws", 4)
    rows = [  # (old key, instant, gender, operation, batch): the old keys hashed the published text
        ("sa", "2023-01-05 10:30:00+00", "Male", None, 1),
        ("sa#2", "2023-01-05 10:30:00+00", "Male", None, 1),  # the same search twice in one file
        ("sb", "2023-01-05 10:30:00+00", "Male", "Op B", 1),  # differs only where the key does not look
        ("sc", "2023-01-05 10:30:00+00", "Male", None, 2),  # the same search in another file
        ("sd", "2023-01-06 10:30:00+00", None, None, 1),
    ]
    for key, when, gender, operation, batch in rows:
        con.execute(_OLD_SEARCH, [key, when, gender, operation, batch])
    con.close()

    con = open_store(Workspace(tmp_path / "ws"))
    assert schema.current_version(con) == max(m.version for m in schema.migrations())
    got = con.execute(
        "SELECT k.search_id, s.key_repeat, s.operation_name, s.batch_id, s.gender "
        "FROM stop_searches AS s POSITIONAL JOIN stop_searches_keyed AS k "
        "ORDER BY s.batch_id, s.occurred_at, s.key_repeat NULLS FIRST"
    ).fetchall()
    base = con.execute(
        f"SELECT {stop_key_sql('s')} FROM stop_searches AS s WHERE gender = 'Male' AND key_repeat IS NULL LIMIT 1"
    ).fetchall()[0][0]
    # Within batch 1 the three searches that say the same are numbered in the order of their values
    # (NULL first); batch 2's copy is a file of its own; every key is unique.
    assert [(r[1], r[2], r[3]) for r in got] == [
        (None, None, 1), (2, None, 1), (3, "Op B", 1), (None, None, 1), (None, None, 2)
    ]  # fmt: skip
    assert [r[0] for r in got][:3] == [base, base + "#2", base + "#3"]
    assert got[4][0] == base
    assert len({r[0] for r in got}) == 4  # batch 2's copy shares the key of batch 1's first, as before
    # The view's key is the rule the loader matches on.
    keys = con.execute(f"SELECT {stop_key_sql('s')} FROM stop_searches AS s").fetchall()
    assert sorted(keys) == sorted(con.execute("SELECT search_id FROM stop_searches_keyed").fetchall())


def test_stored_plans_get_one_number_per_hot_spot(tmp_path: Path) -> None:
    """Plans stored before hot spots were numbered get the plan's rule: most expected harm first, per plan."""
    con = _store_at(tmp_path / "ws", 5)
    insert = (
        "INSERT INTO plan_hotspots (plan_id, team_id, home, bcu, shift, stop, unit_id, visits_per_day, "
        "harm_week) VALUES (?, ?, 'A', 'A', ?, ?, ?, 1, ?)"
    )
    for row in [
        (1, "A-early-1", "early", 1, "u1", 5.0),
        (1, "A-early-1", "early", 2, "u2", 9.0),
        (1, "A-late-1", "late", 1, "u1", 5.0),  # the same hot spot in another shift: the same number
        (1, "A-late-1", "late", 2, "u0", 5.0),  # equal harm: by unit id
        (2, "A-early-1", "early", 1, "u1", 1.0),  # another plan numbers its own
    ]:
        con.execute(insert, list(row))
    con.close()
    con = open_store(Workspace(tmp_path / "ws"))
    got = con.execute("SELECT plan_id, team_id, unit_id, hotspot FROM plan_hotspots ORDER BY ALL").fetchall()
    assert got == [
        (1, "A-early-1", "u1", 3), (1, "A-early-1", "u2", 1), (1, "A-late-1", "u0", 2), (1, "A-late-1", "u1", 3),
        (2, "A-early-1", "u1", 1),
    ]  # fmt: skip
    con.close()


def test_auto_backtests_move_out_of_stored_forecasts(tmp_path: Path) -> None:
    """Forecasts stored before kept auto's backtest in their provenance: the migration stores it where the
    briefing reads it; a model chosen by hand has none."""
    import json

    from safestreets.forecast.store import read_backtest

    con = _store_at(tmp_path / "ws", 6)
    summary = [{"model": "kde", "coverage": 0.01, "hit_rate": 0.2, "pai": 9.0, "origins": 4}]
    insert = (
        "INSERT INTO forecast_runs (created_at, target, police_found, model, horizon, window_start, window_end, "
        "units_kind, rank_by, provenance) VALUES (now(), 'violence', false, ?, '1m', TIMESTAMP '2024-01-01', "
        "TIMESTAMP '2024-02-01', 'grid', 'harm', ?)"
    )
    auto = {"reason": "kde captured 20%", "scores": {"kde": 0.2}, "summary": summary}
    con.execute(insert, ["kde", json.dumps({"model": "kde", "auto": auto})])
    con.execute(insert, ["naive", json.dumps({"model": "naive"})])
    con.close()
    con = open_store(Workspace(tmp_path / "ws"))
    stored = read_backtest(con, 1)
    assert stored is not None and stored.computed_by == "forecast" and stored.model == "kde"
    assert stored.summary == summary and stored.scores == {"kde": 0.2} and stored.reason == "kde captured 20%"
    assert read_backtest(con, 2) is None
    con.close()


def test_a_lower_numbered_migration_that_lands_later_still_runs(tmp_path: Path) -> None:
    con = open_store(Workspace(tmp_path / "ws"))
    everything = schema.migrations()
    late = everything[-2]  # as if it were merged after the newest had been applied
    con.execute("DELETE FROM schema_migrations WHERE version = ?", [late.version])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            schema, "migrations",
            lambda: [schema.Migration(late.version, late.name, "SELECT 1") if m is late else m for m in everything],
        )
        assert schema.migrate(con) == [late.version]
        assert schema.migrate(con) == []
    assert late.version in schema.applied_versions(con)
