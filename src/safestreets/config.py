"""Where a workspace lives and what it holds.

A workspace is a folder with one DuckDB file (``safestreets.duckdb``) and an ``outputs/`` folder.
Resolution order: an explicit path, then ``SAFESTREETS_WORKSPACE``, then ``./safestreets-workspace``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKSPACE = "safestreets-workspace"
ENV_VAR = "SAFESTREETS_WORKSPACE"
DB_NAME = "safestreets.duckdb"
# British National Grid: metres, the working CRS for data in Great Britain.
DEFAULT_CRS = "EPSG:27700"


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # accept a str too

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def ensure(self) -> Workspace:
        self.root.mkdir(parents=True, exist_ok=True)
        self.outputs.mkdir(exist_ok=True)
        return self


def resolve_workspace(path: str | Path | None = None) -> Workspace:
    """The workspace named by ``path``, the environment, or the default, as an absolute path."""
    chosen = path if path not in (None, "") else os.environ.get(ENV_VAR) or DEFAULT_WORKSPACE
    return Workspace(Path(chosen).expanduser().resolve())
