"""Accounts: Argon2id password hashes, roles, disabling, resets, and lock-out after failed logins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from safestreets.db import Database
from safestreets.db.models import ROLES, LoginSession, User
from safestreets.errors import NotFoundError, ParameterError, unknown

_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
#: Failed logins in a row before an account is locked, and for how long.
MAX_FAILED = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    disabled: bool
    locked_until: datetime | None
    created_at: datetime

    def can(self, role: str) -> bool:
        """Whether this account holds ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def account_of(u: User) -> Account:
    return Account(u.id, u.username, u.role, u.disabled, u.locked_until, u.created_at)


def _check_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise unknown("role", role, ROLES)
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ParameterError(f"a password needs at least {MIN_PASSWORD} characters")


def new_password() -> str:
    """A random password to hand over once (about 96 bits)."""
    return secrets.token_urlsafe(12)


def add_user(db: Database, username: str, role: str, password: str | None = None) -> tuple[Account, str]:
    """Create an account; returns it and its password (a random one unless given)."""
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise ParameterError(f"a username is 1-64 letters, digits, '.', '-' or '_', not {username!r}")
    role = _check_role(role)
    password = password or new_password()
    _check_password(password)
    with db.session() as s:
        if s.execute(select(User).where(func.lower(User.username) == username.lower())).scalar_one_or_none():
            raise ParameterError(f"user {username!r} already exists")
        u = User(username=username, role=role, password_hash=_HASHER.hash(password), disabled=False,
                 failed_logins=0, created_at=datetime.now(UTC))  # fmt: skip
        s.add(u)
        s.flush()
        return account_of(u), password


def list_users(db: Database) -> list[Account]:
    with db.session() as s:
        return [account_of(u) for u in s.execute(select(User).order_by(User.username)).scalars()]


def _get(s: object, username: str) -> User:
    u = s.execute(select(User).where(func.lower(User.username) == username.lower())).scalar_one_or_none()  # type: ignore[attr-defined]
    if u is None:
        raise NotFoundError(f"no user {username!r}")
    return u  # type: ignore[no-any-return]


def disable_user(db: Database, username: str) -> Account:
    """Disable an account and end its sessions."""
    with db.session() as s:
        u = _get(s, username)
        u.disabled = True
        s.query(LoginSession).filter(LoginSession.user_id == u.id).delete()
        return account_of(u)


def reset_password(db: Database, username: str, password: str | None = None) -> tuple[Account, str]:
    """Set a new password (random unless given), unlock and re-enable the account, end its sessions."""
    password = password or new_password()
    _check_password(password)
    with db.session() as s:
        u = _get(s, username)
        u.password_hash = _HASHER.hash(password)
        u.failed_logins, u.locked_until, u.disabled = 0, None, False
        s.query(LoginSession).filter(LoginSession.user_id == u.id).delete()
        return account_of(u), password


class LoginRefused(Exception):
    """A login that did not succeed; ``reason`` is for the audit trail, never shown to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def authenticate(db: Database, username: str, password: str) -> Account:
    """The account for these credentials, or LoginRefused. Failures count towards a lock-out (and are
    committed: the refusal is raised after the transaction); a locked, disabled or unknown account costs
    the same hash work as a real one, so timing tells nothing."""
    now = datetime.now(UTC)
    refused: str | None = None
    account: Account | None = None
    with db.session() as s:
        u = s.execute(
            select(User).where(func.lower(User.username) == username.strip().lower())
        ).scalar_one_or_none()
        if u is None:
            _HASHER.hash(password)
            refused = "unknown user"
        else:
            until = u.locked_until
            if until is not None and until.tzinfo is None:
                until = until.replace(tzinfo=UTC)  # SQLite hands back naive UTC
            try:
                _HASHER.verify(u.password_hash, password)
                good = True
            except (VerificationError, InvalidHashError):
                good = False
            if u.disabled:
                refused = "account disabled"
            elif until is not None and until > now:
                refused = "account locked"
            elif not good:
                u.failed_logins += 1
                refused = "bad password"
                if u.failed_logins >= MAX_FAILED:
                    u.locked_until, u.failed_logins = now + LOCKOUT, 0
                    refused = "bad password; account now locked"
            else:
                u.failed_logins, u.locked_until = 0, None
                if _HASHER.check_needs_rehash(u.password_hash):
                    u.password_hash = _HASHER.hash(password)
                account = account_of(u)
    if account is None:
        raise LoginRefused(refused or "refused")
    return account
