"""The intel tables the models declare are the ones migration 0003 makes (and it undoes them)."""

from __future__ import annotations

from pathlib import Path

from tests.db.schema_support import check_migration

TABLES = {"intel_reporters", "intel_reports", "intel_attachments", "intel_messages"}


def test_models_match_the_migration_and_it_downgrades(tmp_path: Path) -> None:
    check_migration(tmp_path, TABLES, "0002")
