"""Encryption at the door: each report gets its own random key; the report (padded JSON) and its photos are
encrypted with that key (NaCl secretbox), and the key is sealed to the team's public key (a libsodium
sealed box: anonymous sender, only the team private key opens it). Destroying the sealed key destroys the
report, whatever copies of the ciphertext remain.

Messages (a reporter's additions, staff replies) are sealed boxes straight to the recipient's key.
"""

from __future__ import annotations

import json
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox

from safestreets.errors import ParameterError

#: Plaintexts are padded to a multiple of this, so a ciphertext's length says little about the report.
PAD = 1024


def pad(data: bytes) -> bytes:
    size = -(-(len(data) + 1) // PAD) * PAD
    return data + b"\n" + b" " * (size - len(data) - 1)


def new_key() -> bytes:
    return nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)


def encrypt(key: bytes, data: bytes) -> bytes:
    return bytes(nacl.secret.SecretBox(key).encrypt(data))


def decrypt(key: bytes, data: bytes) -> bytes:
    try:
        return nacl.secret.SecretBox(key).decrypt(data)
    except nacl.exceptions.CryptoError as exc:
        raise ParameterError(
            "the ciphertext does not open with this key (damaged, or a different key)"
        ) from exc


def seal(public: PublicKey, data: bytes) -> bytes:
    return bytes(SealedBox(public).encrypt(data))


def unseal(private: PrivateKey, data: bytes) -> bytes:
    try:
        return SealedBox(private).decrypt(data)
    except nacl.exceptions.CryptoError as exc:
        raise ParameterError("this was not sealed to this key (a different team key?)") from exc


def encode(doc: dict[str, Any]) -> bytes:
    return pad(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def decode(data: bytes) -> dict[str, Any]:
    return json.loads(data.decode("utf-8"))  # type: ignore[no-any-return]


def seal_text(public: PublicKey, text: str) -> bytes:
    return seal(public, pad(text.encode("utf-8")))


def unseal_text(private: PrivateKey, data: bytes) -> str:
    return unseal(private, data).decode("utf-8").rstrip()
