"""The intel tables the models declare are the ones migration 0003 makes (and it undoes them)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

import safestreets.db
from safestreets.db import connect
from safestreets.db.models import Base

# Every model module registers its tables on the one metadata: import them all, so the comparison below
# sees the whole schema the migrations make, not only the part this test happens to have imported.
for _m in pkgutil.iter_modules(safestreets.db.__path__):
    importlib.import_module(f"safestreets.db.{_m.name}")

TABLES = {"intel_reporters", "intel_reports", "intel_attachments", "intel_messages"}


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
            command.downgrade(cfg, "0002")
        assert not TABLES & set(sa.inspect(db.engine).get_table_names())
    finally:
        db.dispose()
