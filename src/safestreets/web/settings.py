"""What a running dashboard is configured with: the workspace, the database, timeouts, the basemap."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

BASEMAP_ENV = "SAFESTREETS_BASEMAP_URL"


@dataclass(frozen=True)
class WebSettings:
    workspace: Path
    database_url: str
    #: Optional tile URL for a basemap (``https://tiles.example/{z}/{x}/{y}.png``); none by default: the
    #: map draws our own boundaries and needs no tile server.
    basemap_url: str | None = field(default_factory=lambda: os.environ.get(BASEMAP_ENV) or None)
    #: Cookies only over HTTPS (browsers also accept them from http://localhost and 127.0.0.1).
    secure_cookies: bool = True
    #: Key for hashing client addresses in the rate limiter (shared by the workers through the workspace).
    secret: bytes = b""

    @staticmethod
    def secret_for(workspace: Path) -> bytes:
        """The workspace's web secret, made on first use (readable by its owner only)."""
        path = workspace / "tmp" / "web.secret"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        return path.read_bytes()
