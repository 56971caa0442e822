"""safestreets: open tools for the people who reduce violence in a city.

``from safestreets import Workspace`` is the way in from Python (see docs/python.md).
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("safestreets")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["Workspace", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import safestreets`` (and the version) costs nothing and lower layers that read
    # ``__version__`` do not import the API above them.
    if name == "Workspace":
        from safestreets.api import Workspace

        return Workspace
    raise AttributeError(f"module 'safestreets' has no attribute {name!r}")
