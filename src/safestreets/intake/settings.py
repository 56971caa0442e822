"""What a running intake service is configured with. Nothing here identifies anyone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from safestreets.intel.codename import DEFAULT_SALT
from safestreets.intel.records import REPLY_DAYS, REPORT_DAYS

SALT_ENV = "SAFESTREETS_INTAKE_SALT"


@dataclass(frozen=True)
class IntakeSettings:
    database_url: str
    public_key: Path  # the team's public key file: the only key this host holds
    salt: bytes = DEFAULT_SALT
    max_photos: int = 3
    max_photo_bytes: int = 8 * 1024 * 1024
    max_text: int = 20_000  # characters in one field
    report_days: int = REPORT_DAYS
    reply_days: int = REPLY_DAYS
    per_client: int = 10  # submissions or codename tries per client in ten minutes (0: no per-client limit)
    per_minute: int = 600  # across everyone
    title: str = "Tell us what you know"

    @property
    def max_body(self) -> int:
        return self.max_photos * self.max_photo_bytes + 256 * 1024

    @staticmethod
    def salt_from_env() -> bytes:
        value = os.environ.get(SALT_ENV)
        return value.encode("utf-8") if value else DEFAULT_SALT
