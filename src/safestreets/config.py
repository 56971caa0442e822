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


def check_timezone(name: str) -> str:
    """An IANA time zone name (``Europe/London``), checked, or a ParameterError with a suggestion."""
    import zoneinfo

    from safestreets.errors import unknown

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise unknown("time zone", name, sorted(zoneinfo.available_timezones())) from None
    return name


def check_crs(crs: str) -> str:
    """A projected CRS in metres (``EPSG:27700``), checked, or a ParameterError."""
    import pyproj

    from safestreets.errors import ParameterError

    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        raise ParameterError(f"unknown CRS {crs!r}: give an EPSG code such as EPSG:27700") from None
    if not parsed.is_projected:
        raise ParameterError(f"CRS {crs!r} is not projected: give one in metres, such as EPSG:27700")
    return crs
