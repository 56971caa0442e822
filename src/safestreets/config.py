"""Where a workspace lives and what it holds.

A workspace is a folder with one DuckDB file (``safestreets.duckdb``) and an ``outputs/`` folder.
Resolution order: an explicit path, then ``SAFESTREETS_WORKSPACE``, then ``./safestreets-workspace``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --- Section 60 limits (issue 17) --------------------------------------------------------------------
#: The lawful limits of a Section 60 authorisation, by default as relaxed in May 2022: an inspector or above
#: may authorise up to 24 hours; a superintendent or above may extend it to 48 hours in all. A workspace
#: may set its own (the stricter 2014 Best Use of Stop and Search scheme, say) in ``safestreets.toml``::
#:
#:     [section60]
#:     authorising_rank = "superintendent"
#:     initial_hours = 15
#:     extending_rank = "superintendent"
#:     max_hours = 39
S60_DEFAULTS: dict[str, object] = {
    "authorising_rank": "inspector",
    "initial_hours": 24.0,
    "extending_rank": "superintendent",
    "extension_hours": 24.0,
    "max_hours": 48.0,
}
SETTINGS_FILE = "safestreets.toml"


def _section(root: Path | None, section: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults``, overridden by the ``[section]`` table of the workspace's TOML file: each key must be
    one of the defaults' and of its type (numbers positive)."""
    import tomllib

    from safestreets.errors import WorkspaceError

    found = dict(defaults)
    path = Path(root) / SETTINGS_FILE if root is not None else None
    if path is None or not path.exists():
        return found
    try:
        given = tomllib.loads(path.read_text("utf-8")).get(section, {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path}: not valid TOML ({exc})") from None
    for key, value in given.items():
        if key not in defaults:
            raise WorkspaceError(f"{path}: [{section}] has no setting {key!r} (one of: {', '.join(defaults)})")
        want = type(defaults[key])
        if want is float and isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            found[key] = float(value)
        elif want is str and isinstance(value, str):
            found[key] = value
        else:
            kind = "positive number" if want is float else want.__name__
            raise WorkspaceError(f"{path}: [{section}] {key} = {value!r} is not a valid {kind}")
    return found


def section60_limits(root: Path | None = None) -> dict[str, object]:
    """The Section 60 limits: the defaults, overridden by ``[section60]`` in the workspace's TOML file."""
    return _section(root, "section60", S60_DEFAULTS)


# --- ANPR retention and access (issue 19) --------------------------------------------------------------
#: The National ANPR Standards' limits, by default: reads kept 12 months, queried 90 days back without an
#: authorisation. A workspace may set its own in ``safestreets.toml``::
#:
#:     [anpr]
#:     retention_days = 365     # reads older than this are purged ('safestreets anpr purge')
#:     reach_days = 90          # queries further back need a recorded authorisation
#:     future_seconds = 300     # a read this far ahead of the clock is refused as in the future
#:     poll_seconds = 0.5       # how often 'safestreets anpr watch' looks at its folder
ANPR_DEFAULTS: dict[str, float] = {
    "retention_days": 365.0,
    "reach_days": 90.0,
    "future_seconds": 300.0,
    "poll_seconds": 0.5,
}


def anpr_settings(root: Path | None = None) -> dict[str, float]:
    """The ANPR limits: the defaults, overridden by ``[anpr]`` in the workspace's TOML file."""
    from safestreets.errors import WorkspaceError

    found = _section(root, "anpr", ANPR_DEFAULTS)
    if found["reach_days"] > found["retention_days"]:
        raise WorkspaceError(f"{Path(root or '.') / SETTINGS_FILE}: [anpr] reach_days is longer than retention_days")
    return found
