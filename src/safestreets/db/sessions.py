"""Server-side login sessions with idle and absolute timeouts, a CSRF token each, and login rate limits.

The browser holds only a random token (in a Secure, HttpOnly, SameSite=Strict cookie); the database holds
its SHA-256, so a copy of the database cannot be replayed as a session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from safestreets.db import Database
from safestreets.db.models import LoginAttempt, LoginSession, User
from safestreets.db.users import Account, account_of

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
#: Login attempts allowed per client in ``ATTEMPT_WINDOW`` before it must wait (HTTP 429).
MAX_ATTEMPTS = 10
ATTEMPT_WINDOW = timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Active:
    """A live session: who, and the token its forms must carry."""

    account: Account
    csrf_token: str
    token_hash: str

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf_token, sent or "")


def start(db: Database, account: Account) -> str:
    """A new session for ``account``; returns the cookie token (shown to nobody else)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(LoginSession(token_hash=_digest(token), user_id=account.id, csrf_token=secrets.token_urlsafe(32),
                           created_at=now, last_seen=now))  # fmt: skip
    return token


def resume(
    db: Database, token: str | None, *, idle: timedelta = IDLE, absolute: timedelta = ABSOLUTE
) -> Active | None:
    """The session for a cookie token, if it is live (and its account enabled); touches it."""
    if not token:
        return None
    now = datetime.now(UTC)
    with db.session() as s:
        row = s.execute(
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.token_hash == _digest(token))
        ).one_or_none()
        if row is None:
            return None
        sess, user = row
        if user.disabled or now - _aware(sess.last_seen) > idle or now - _aware(sess.created_at) > absolute:
            s.delete(sess)
            return None
        # Touch at most once a minute: a page loads many layers, each needing no write.
        if now - _aware(sess.last_seen) > timedelta(minutes=1):
            sess.last_seen = now
        return Active(account_of(user), sess.csrf_token, sess.token_hash)


def end(db: Database, token: str | None) -> None:
    if token:
        with db.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))


def client_key(address: str, secret: bytes) -> str:
    """A keyed hash of a client address: enough to rate-limit, not to identify."""
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()


def attempt_allowed(db: Database, client: str) -> bool:
    """Record a login attempt by ``client``; False when it has made too many recently."""
    now = datetime.now(UTC)
    with db.session() as s:
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPT_WINDOW))
        n = s.execute(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.client == client)
        ).scalar_one()
        if n >= MAX_ATTEMPTS:
            return False
        s.add(LoginAttempt(client=client, at=now))
    return True
