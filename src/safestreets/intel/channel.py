"""What a running intake service is configured with (nothing here identifies anyone), and how the CLI
hands it to uvicorn's workers through the environment. It sits in the intel layer so that the CLI, which
must not import the intake app, can build it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safestreets.intel.codename import DEFAULT_SALT
from safestreets.intel.records import REPLY_DAYS, REPORT_DAYS

ENV_PREFIX = "SAFESTREETS_INTAKE_"
SALT_ENV = ENV_PREFIX + "SALT"


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
    pick_map: Path | None = None  # an SVG from 'safestreets intel map' (its .json sidecar beside it)

    @property
    def max_body(self) -> int:
        return self.max_photos * self.max_photo_bytes + 256 * 1024

    def to_env(self) -> dict[str, str]:
        return {
            ENV_PREFIX + "DATABASE_URL": self.database_url,
            ENV_PREFIX + "PUBLIC_KEY": str(self.public_key),
            ENV_PREFIX + "REPORT_DAYS": str(self.report_days),
            ENV_PREFIX + "REPLY_DAYS": str(self.reply_days),
            ENV_PREFIX + "PER_CLIENT": str(self.per_client),
            ENV_PREFIX + "PER_MINUTE": str(self.per_minute),
            ENV_PREFIX + "PICK_MAP": str(self.pick_map or ""),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IntakeSettings:
        salt = env.get(SALT_ENV)
        return cls(
            database_url=env[ENV_PREFIX + "DATABASE_URL"],
            public_key=Path(env[ENV_PREFIX + "PUBLIC_KEY"]),
            salt=salt.encode("utf-8") if salt else DEFAULT_SALT,
            report_days=int(env.get(ENV_PREFIX + "REPORT_DAYS", REPORT_DAYS)),
            reply_days=int(env.get(ENV_PREFIX + "REPLY_DAYS", REPLY_DAYS)),
            per_client=int(env.get(ENV_PREFIX + "PER_CLIENT", 10)),
            per_minute=int(env.get(ENV_PREFIX + "PER_MINUTE", 600)),
            pick_map=Path(env[ENV_PREFIX + "PICK_MAP"]) if env.get(ENV_PREFIX + "PICK_MAP") else None,
        )
