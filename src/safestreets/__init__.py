"""safestreets: open tools for the people who reduce violence in a city."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("safestreets")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
