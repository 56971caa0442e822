"""The ANPR tables the models declare are the ones migration 0004 makes (and it undoes them); the store's
migration 0010 makes the interface the analyses read."""

from __future__ import annotations

from pathlib import Path

import duckdb
from tests.db.schema_support import check_migration

from safestreets.config import Workspace as Paths
from safestreets.store import open_store

TABLES = {"anpr_hotlist", "anpr_alerts", "anpr_access"}


def test_models_match_the_migration_and_it_downgrades(tmp_path: Path) -> None:
    check_migration(tmp_path, TABLES, "0003")


def test_the_store_has_the_interface_the_analyses_read(tmp_path: Path) -> None:
    con = open_store(Paths(tmp_path / "ws"))
    try:
        def cols(table: str) -> dict[str, str]:
            return {n: t for n, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()}

        reads, cams = cols("anpr_reads"), cols("anpr_cameras")
        assert {"vehicle": "VARCHAR", "read_at": "TIMESTAMP WITH TIME ZONE", "camera_id": "VARCHAR"}.items() <= reads.items()
        assert {"camera_id": "VARCHAR", "x": "DOUBLE", "y": "DOUBLE", "lon": "DOUBLE", "lat": "DOUBLE",
                "road": "VARCHAR", "area_code": "VARCHAR"}.items() <= cams.items()  # fmt: skip
        assert cols("anpr_plates") == {"vehicle": "VARCHAR", "sealed": "BLOB"}
        assert 10 in {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    finally:
        con.close()
    assert isinstance(con, duckdb.DuckDBPyConnection)
