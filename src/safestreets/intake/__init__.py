"""The public reporting service: a separate app and process that can encrypt and store, nothing more.

``create_app`` builds it; ``app_from_env`` is uvicorn's factory for ``safestreets intake serve`` (each worker
reads its settings from the environment). ``LOG_CONFIG`` is the only logging it runs with: no access log and
no timestamps on the lines that remain (a time beside an error could match a report to a moment).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from safestreets.intake.app import create_app
from safestreets.intake.settings import IntakeSettings

ENV_PREFIX = "SAFESTREETS_INTAKE_"

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

__all__ = ["LOG_CONFIG", "IntakeSettings", "app_from_env", "create_app", "settings_to_env"]


def settings_to_env(settings: IntakeSettings) -> dict[str, str]:
    return {
        ENV_PREFIX + "DATABASE_URL": settings.database_url,
        ENV_PREFIX + "PUBLIC_KEY": str(settings.public_key),
        ENV_PREFIX + "REPORT_DAYS": str(settings.report_days),
        ENV_PREFIX + "REPLY_DAYS": str(settings.reply_days),
        ENV_PREFIX + "PER_CLIENT": str(settings.per_client),
        ENV_PREFIX + "PER_MINUTE": str(settings.per_minute),
    }


def app_from_env() -> Any:
    e = os.environ
    return create_app(
        IntakeSettings(
            database_url=e[ENV_PREFIX + "DATABASE_URL"],
            public_key=Path(e[ENV_PREFIX + "PUBLIC_KEY"]),
            salt=IntakeSettings.salt_from_env(),
            report_days=int(e.get(ENV_PREFIX + "REPORT_DAYS", "180")),
            reply_days=int(e.get(ENV_PREFIX + "REPLY_DAYS", "30")),
            per_client=int(e.get(ENV_PREFIX + "PER_CLIENT", "10")),
            per_minute=int(e.get(ENV_PREFIX + "PER_MINUTE", "600")),
        )
    )
