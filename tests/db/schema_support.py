"""One check for every register's migration: the tables its models declare are the ones it makes, and
downgrading past it removes them."""

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

# Every model module registers its tables on the one metadata: import them all, so the comparison sees
# the whole schema the migrations make, not only the part a test happens to have imported.
for _m in pkgutil.iter_modules(safestreets.db.__path__):
    importlib.import_module(f"safestreets.db.{_m.name}")


def check_migration(tmp_path: Path, tables: set[str], before: str) -> None:
    """``tables`` exist after every migration, the models match the migrated schema, and downgrading to
    revision ``before`` removes them."""
    db = connect(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    try:
        assert set(sa.inspect(db.engine).get_table_names()) >= tables
        with db.engine.connect() as c:
            diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        assert not diff, diff
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(safestreets.db.__file__).with_name("migrations")))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, before)
        assert not tables & set(sa.inspect(db.engine).get_table_names())
    finally:
        db.dispose()
