"""Codenames: the reporter's only way back in.

A codename is seven words drawn with ``secrets`` from the EFF long wordlist that xkcdpass ships (7,776
words: 7 x 12.9 = 90 bits), shown once and never stored. The server keeps an Argon2id hash of it, split in
two with BLAKE2b: a lookup digest (to find the reporter's record) and the seed of an X25519 key pair whose
public half staff seal replies to. Whoever holds the codename can rebuild the private half and read them.

The Argon2id salt is fixed per deployment, so the same codename always finds the same record; that is safe
because the codename is random with 90 bits, not a password a person chose, and no dictionary reaches it.
Checking any codename, right or wrong, costs exactly one Argon2id run.

Argon2id parameters (OWASP's first choice for Argon2id: 19 MiB, 2 passes, 1 lane): about 25-40 ms on one
core here, which keeps a 2-core intake near 50 submissions a second while still making a stolen database
useless to brute force (90 bits at ~40 ms a guess is ~10^18 CPU-years).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from nacl.public import PrivateKey

from safestreets.errors import ParameterError

WORDS = 7
TIME_COST = 2
MEMORY_KIB = 19 * 1024
PARALLELISM = 1
#: A deployment may set its own salt (``SAFESTREETS_INTAKE_SALT``); this default keeps codenames valid
#: between the intake host and the staff side without a shared secret.
DEFAULT_SALT = b"safestreets intake codename v1"


@cache
def wordlist() -> tuple[str, ...]:
    """The EFF long wordlist inside the installed xkcdpass package."""
    import xkcdpass

    path = Path(xkcdpass.__file__).with_name("static") / "eff-long"
    words = tuple(sorted({w.strip().lower() for w in path.read_text("utf-8").split() if w.strip().isalpha()}))
    if len(words) < 7000:  # a broken install: never hand out weak codenames
        raise ParameterError(f"the xkcdpass EFF wordlist at {path} has only {len(words)} words")
    return words


def new_codename() -> str:
    words = wordlist()
    return " ".join(secrets.choice(words) for _ in range(WORDS))


def normalise(codename: str) -> str:
    """Case, spacing and hyphens do not matter: people type codenames on phones."""
    return " ".join(codename.lower().replace("-", " ").split())


@dataclass(frozen=True)
class Derived:
    lookup: str  # hex digest that finds the reporter's record
    private_key: PrivateKey  # rebuilt from the codename, never stored

    @property
    def public_key(self) -> bytes:
        return bytes(self.private_key.public_key)


def derive(codename: str, salt: bytes = DEFAULT_SALT) -> Derived:
    """One Argon2id run, whatever the codename (right, wrong or malformed): a constant cost."""
    text = normalise(codename)[:400].encode("utf-8")
    raw = hash_secret_raw(text, hashlib.blake2b(salt, digest_size=16).digest(), time_cost=TIME_COST,
                          memory_cost=MEMORY_KIB, parallelism=PARALLELISM, hash_len=64, type=Type.ID)  # fmt: skip
    lookup = hashlib.blake2b(raw, digest_size=32, person=b"ss-lookup").hexdigest()
    seed = hashlib.blake2b(raw, digest_size=32, person=b"ss-replykey").digest()
    return Derived(lookup, PrivateKey.from_seed(seed))
