"""The ANPR tables the models declare are the ones migration 0004 makes (and it undoes them); the store's
migration 0010 makes the interface the analyses read."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import duckdb
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

import safestreets.db
from safestreets.config import Workspace as Paths
from safestreets.db import connect
from safestreets.db.models import Base
from safestreets.store import open_store

for _m in pkgutil.iter_modules(safestreets.db.__path__):
    importlib.import_module(f"safestreets.db.{_m.name}")

TABLES = {"anpr_hotlist", "anpr_alerts", "anpr_access"}


def test_models_match_the_migration_and_it_downgrades(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    try:
        assert set(sa.inspect(db.engine).get_table_names()) >= TABLES
        with db.engine.connect() as c:
            diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        assert not diff, diff
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(safestreets.db.__file__).with_name("migrations")))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        assert not TABLES & set(sa.inspect(db.engine).get_table_names())
    finally:
        db.dispose()


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
