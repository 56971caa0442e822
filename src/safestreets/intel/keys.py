"""The team key pair: reports are sealed to its public half; its private half stays on the staff side,
encrypted under a passphrase (Argon2id stretches the passphrase into a key for a NaCl secretbox).

The key file is JSON, so it can be inspected and backed up; the intake host gets only the public file.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils
from nacl.public import PrivateKey, PublicKey

from safestreets.errors import InputError, NotFoundError, ParameterError

#: Argon2id limits for the passphrase: libsodium's "moderate" (256 MiB, 3 passes, about a second): a key
#: file copied off a laptop costs an attacker that much per guess. Tests pass the interactive limits.
KDF_LIMITS = {
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "interactive": (nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE),
}
MIN_PASSPHRASE = 12
FORMAT = "safestreets-intel-team-key/1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class KeyFiles:
    private: Path
    public: Path
    fingerprint: str


def fingerprint(public: PublicKey) -> str:
    """A short, readable digest of the public key, to check the intake host has the right one."""
    import hashlib

    digest = hashlib.sha256(bytes(public)).hexdigest()[:20]
    return " ".join(digest[i : i + 4] for i in range(0, 20, 4))


def keygen(private_path: Path, public_path: Path, passphrase: str, *, strength: str = "moderate") -> KeyFiles:
    """A new team key pair: the private half sealed under ``passphrase``; refuses to overwrite a key."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ParameterError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    if strength not in KDF_LIMITS:
        raise ParameterError(f"unknown strength {strength!r} (one of: {', '.join(KDF_LIMITS)})")
    for path in (private_path, public_path):
        if path.exists():
            raise ParameterError(f"{path} already exists: a new key would orphan every report sealed to it")
    ops, mem = KDF_LIMITS[strength]
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"), salt,
                                   opslimit=ops, memlimit=mem)  # fmt: skip
    private = PrivateKey.generate()
    body = {
        "format": FORMAT,
        "public_key": _b64(bytes(private.public_key)),
        "kdf": {"name": "argon2id", "salt": _b64(salt), "opslimit": ops, "memlimit": mem},
        "sealed_private_key": _b64(bytes(nacl.secret.SecretBox(key).encrypt(bytes(private)))),
    }
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_text(_b64(bytes(private.public_key)) + "\n", "utf-8")
    return KeyFiles(private_path, public_path, fingerprint(private.public_key))


def rotate(
    private_path: Path,
    public_path: Path,
    old_passphrase: str,
    new_passphrase: str,
    *,
    strength: str = "moderate",
    reseal: Callable[[PrivateKey, PublicKey], int],
) -> tuple[KeyFiles, int]:
    """A new team key pair in place of the old: ``reseal`` moves every stored report onto it (one
    transaction) before the new files replace the old ones (``os.replace``: the old private key file is gone).
    Should the process die between the two, the ``.new`` files beside the old ones hold the key the reports
    are now sealed to."""
    old = unlock(private_path, old_passphrase)
    staged_private = private_path.with_name(private_path.name + ".new")
    staged_public = public_path.with_name(public_path.name + ".new")
    for stale in (staged_private, staged_public):
        stale.unlink(missing_ok=True)
    made = keygen(staged_private, staged_public, new_passphrase, strength=strength)
    try:
        count = reseal(old, load_public(staged_public))
    except BaseException:
        staged_private.unlink(missing_ok=True)
        staged_public.unlink(missing_ok=True)
        raise
    os.replace(staged_private, private_path)
    os.replace(staged_public, public_path)
    return KeyFiles(private_path, public_path, made.fingerprint), count


def load_public(path: Path) -> PublicKey:
    """The team public key from its file (the intake host's only key)."""
    if not path.exists():
        raise NotFoundError(f"no team public key at {path}: run 'safestreets intel keygen' on the staff side")
    try:
        raw = _unb64(path.read_text("utf-8").strip())
        return PublicKey(raw)
    except (ValueError, nacl.exceptions.CryptoError) as exc:
        raise InputError(path, "not a team public key (32 bytes, base64)") from exc


def unlock(path: Path, passphrase: str) -> PrivateKey:
    """The team private key, opened with its passphrase; a wrong passphrase is a ParameterError."""
    if not path.exists():
        raise NotFoundError(f"no team key at {path}: run 'safestreets intel keygen'")
    try:
        body = json.loads(path.read_text("utf-8"))
        if body.get("format") != FORMAT:
            raise InputError(path, f"not a team key file (format {body.get('format')!r})")
        kdf = body["kdf"]
        salt, sealed = _unb64(kdf["salt"]), _unb64(body["sealed_private_key"])
        ops, mem = int(kdf["opslimit"]), int(kdf["memlimit"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, "not a readable team key file") from exc
    key = nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"), salt,
                                   opslimit=ops, memlimit=mem)  # fmt: skip
    try:
        private = PrivateKey(nacl.secret.SecretBox(key).decrypt(sealed))
    except nacl.exceptions.CryptoError as exc:
        raise ParameterError("wrong passphrase for the team key") from exc
    if _b64(bytes(private.public_key)) != body["public_key"]:
        raise InputError(path, "the private key does not match the public key recorded beside it")
    return private
