"""The public reporting service: a separate app and process that can encrypt and store, nothing more.

``create_app`` builds it; ``app_from_env`` is uvicorn's factory for ``safestreets intake serve`` (each worker
reads its settings from the environment). ``LOG_CONFIG`` is the only logging it runs with: no access log and
no timestamps on the lines that remain (a time beside an error could match a report to a moment).
"""

from __future__ import annotations

import gc
import logging.config
import os
from typing import Any

from safestreets.intake.app import create_app
from safestreets.intel.channel import IntakeSettings

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "safestreets": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}

__all__ = ["LOG_CONFIG", "IntakeSettings", "app_from_env", "create_app"]


def app_from_env() -> Any:
    """uvicorn's factory: settings from the environment, and our logging (no access log, no timestamps)
    applied over whatever the server set up."""
    logging.config.dictConfig(LOG_CONFIG)
    app = create_app(IntakeSettings.from_env(os.environ))
    # As the dashboard's workers do: start-up objects frozen out of the collector, so a full collection
    # does not pause a submission (the latency tail under load).
    gc.collect()
    gc.freeze()
    return app
