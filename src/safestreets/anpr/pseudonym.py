"""Plates at rest: a keyed hash to match on, and a sealed copy to show in clear when a reveal is allowed.

One 32-byte secret, kept in a file of its own outside the store (``<workspace>/keys/anpr.key``, mode 0600,
or the file ``SAFESTREETS_ANPR_KEY`` names), gives two keys: one for HMAC-SHA256, whose first 16 bytes (hex)
are the ``vehicle`` pseudonym every table and analysis uses, and one for libsodium's secretbox, which
seals the clear plate into ``anpr_plates`` (store) and hotlist entries (operational database). Without the
file, a pseudonym cannot be computed for a guessed plate (so a dictionary of all plates is useless) and a
sealed plate cannot be opened; with it, the same plate always gives the same pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from safestreets.errors import SafestreetsError

KEY_ENV = "SAFESTREETS_ANPR_KEY"
KEY_BYTES = 32
PSEUDONYM_BYTES = 16


class AnprKeyError(SafestreetsError):
    """The ANPR key file is missing, unreadable or not the one the stored reads were made with."""


def key_path(root: Path) -> Path:
    """``SAFESTREETS_ANPR_KEY`` if set, else ``<workspace>/keys/anpr.key``."""
    return Path(os.environ.get(KEY_ENV) or Path(root) / "keys" / "anpr.key")


def _derive(master: bytes, purpose: bytes) -> bytes:
    # One HMAC block per purpose (HKDF-Expand with a single block): independent keys from one secret.
    return hmac.new(master, b"safestreets anpr " + purpose + b"\x01", hashlib.sha256).digest()


@dataclass(frozen=True)
class PlateKey:
    """The ANPR secret, with the pseudonym and sealing operations it allows."""

    master: bytes

    def __post_init__(self) -> None:
        if len(self.master) != KEY_BYTES:
            raise AnprKeyError(f"an ANPR key is {KEY_BYTES} bytes, this one {len(self.master)}")

    @property
    def key_id(self) -> str:
        """A short public fingerprint: which key made a store's pseudonyms (it reveals nothing of the key)."""
        return _derive(self.master, b"id")[:8].hex()

    def vehicle(self, plate: str) -> str:
        """The pseudonym of a normalised plate."""
        mac = hmac.new(_derive(self.master, b"pseudonym v1"), plate.encode("ascii"), hashlib.sha256)
        return mac.digest()[:PSEUDONYM_BYTES].hex()

    def vehicles(self, plates: Iterable[str]) -> list[str]:
        """Pseudonyms of many plates (the derived key computed once)."""
        key = _derive(self.master, b"pseudonym v1")
        base = hmac.new(key, digestmod=hashlib.sha256)
        out = []
        for plate in plates:
            h = base.copy()
            h.update(plate.encode("ascii"))
            out.append(h.digest()[:PSEUDONYM_BYTES].hex())
        return out

    def _box(self) -> SecretBox:
        return SecretBox(_derive(self.master, b"seal v1"))

    def seal(self, plate: str) -> bytes:
        return bytes(self._box().encrypt(plate.encode("ascii")))

    def seal_many(self, plates: Iterable[str]) -> list[bytes]:
        box = self._box()
        return [bytes(box.encrypt(p.encode("ascii"))) for p in plates]

    def open(self, sealed: bytes) -> str:
        try:
            return self._box().decrypt(sealed).decode("ascii")
        except CryptoError as exc:
            raise AnprKeyError("a sealed plate does not open with this key (another workspace's key?)") from exc


def load_key(root: Path, *, create: bool = True) -> PlateKey:
    """The workspace's ANPR key, made on first use (0600 in a 0700 folder) when ``create``."""
    path = key_path(root)
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise AnprKeyError(f"{path}: the ANPR key file is readable by others: chmod 600 it")
        data = path.read_bytes()
        try:
            return PlateKey(bytes.fromhex(data.decode("ascii").strip()))
        except (ValueError, UnicodeDecodeError):
            raise AnprKeyError(f"{path}: not an ANPR key file (64 hex digits)") from None
    if not create:
        raise AnprKeyError(f"no ANPR key at {path}: plates cannot be matched or shown without it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    master = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: two processes making the key at once must not both win with different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(root, create=False)
    with os.fdopen(fd, "w") as fh:
        fh.write(master.hex() + "\n")
    return PlateKey(master)
