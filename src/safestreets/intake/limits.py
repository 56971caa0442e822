"""Flood limits that never write down who the client is.

Two sliding windows held in this process's memory only, never logged, never stored, gone on restart:

* a global window (submissions a minute across everyone): a flood cannot fill the database, whoever sends it;
* a per-client window keyed by a keyed BLAKE2b of the connecting address, with a random key made at start-up
  and never written anywhere; entries older than the window are dropped on every check.

The trade-off, documented in docs/intake-threat-model.md: while an entry lives (ten minutes), someone who can
read this process's memory could test whether a given address submitted recently. Behind a Tor onion service
every client arrives from the same local address, so a deployment there sets ``per_client=0`` and relies
on the global window alone (a flood then slows everyone, which is the price of not knowing who is who).
A proof-of-work would need JavaScript, which the form must not.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque


class Window:
    def __init__(self, *, per_client: int, per_minute: int, client_window: float = 600.0) -> None:
        self.per_client = per_client
        self.per_minute = per_minute
        self.client_window = client_window
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._all: deque[float] = deque()
        self._clients: dict[bytes, deque[float]] = {}

    def _tag(self, address: str) -> bytes:
        return hashlib.blake2b(address.encode("utf-8"), key=self._key, digest_size=16).digest()

    def allow(self, address: str | None) -> bool:
        """Count one attempt; False when a window is full (the attempt is not counted then)."""
        now = time.monotonic()
        with self._lock:
            while self._all and now - self._all[0] > 60.0:
                self._all.popleft()
            for tag in [t for t, q in self._clients.items() if not q or now - q[-1] > self.client_window]:
                del self._clients[tag]
            if self.per_minute and len(self._all) >= self.per_minute:
                return False
            if self.per_client and address:
                tag = self._tag(address)
                q = self._clients.setdefault(tag, deque())
                while q and now - q[0] > self.client_window:
                    q.popleft()
                if len(q) >= self.per_client:
                    return False
                q.append(now)
            self._all.append(now)
            return True
