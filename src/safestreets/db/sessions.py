"""Server-side login sessions with idle and absolute timeouts, a CSRF token each, and login rate limits.

The browser holds only a random token (in a Secure, HttpOnly, SameSite=Strict cookie); the database holds
its SHA-256, so a copy of the database cannot be replayed as a session.

A process serving many requests may keep the sessions it verified in a :class:`Trusted` cache and trust
each for ``TRUST`` (5 s) before reading it from the database again. The idle and absolute timeouts are
still checked on every request against the times read at the last verification; what the window delays
is only what another process does: a logout, a disabled account or a reset password made elsewhere takes
effect here at most ``TRUST`` later (in the process that does it, at once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from safestreets.db import Database
from safestreets.db.models import LoginAttempt, LoginSession, User
from safestreets.db.users import Account, account_of

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
#: Login attempts allowed per client in ``ATTEMPT_WINDOW`` before it must wait (HTTP 429).
MAX_ATTEMPTS = 10
ATTEMPT_WINDOW = timedelta(minutes=5)
#: How long a process may trust a session it verified before reading it from the database again.
TRUST = timedelta(seconds=5)
#: A session's last_seen is written at most this often (a page loads many layers, each needing no write).
TOUCH = timedelta(minutes=1)


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


@dataclass(frozen=True)
class _Verified:
    active: Active
    created_at: datetime
    last_seen: datetime
    checked: float  # time.monotonic() of the database read


class Trusted:
    """Sessions this process verified recently (see the module's docstring for the bound)."""

    def __init__(self, window: timedelta = TRUST, size: int = 4096) -> None:
        self.window = window.total_seconds()
        self.size = size
        self._seen: dict[str, _Verified] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> _Verified | None:
        with self._lock:
            hit = self._seen.get(token_hash)
        if hit is None or time.monotonic() - hit.checked > self.window:
            return None
        return hit

    def put(self, verified: _Verified) -> None:
        with self._lock:
            if len(self._seen) >= self.size:
                self._seen.clear()  # crude but safe: everything is read from the database again
            self._seen[verified.active.token_hash] = verified

    def forget(self, token: str | None = None, *, user_id: int | None = None) -> None:
        """Stop trusting a session (by its cookie token) or every session of a user."""
        with self._lock:
            if token:
                self._seen.pop(_digest(token), None)
            if user_id is not None:
                for key in [k for k, v in self._seen.items() if v.active.account.id == user_id]:
                    del self._seen[key]


def start(db: Database, account: Account) -> str:
    """A new session for ``account``; returns the cookie token (shown to nobody else)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(LoginSession(token_hash=_digest(token), user_id=account.id, csrf_token=secrets.token_urlsafe(32),
                           created_at=now, last_seen=now))  # fmt: skip
    return token


def trusted_session(
    token: str | None, trusted: Trusted, *, idle: timedelta = IDLE, absolute: timedelta = ABSOLUTE
) -> Active | None:
    """The session for a cookie token if ``trusted`` verified it within its window and it has not timed
    out since (no database read); None means: ask :func:`resume`."""
    if not token:
        return None
    hit = trusted.get(_digest(token))
    if hit is None:
        return None
    now = datetime.now(UTC)
    if now - hit.last_seen > idle or now - hit.created_at > absolute:
        return None
    return hit.active


def resume(
    db: Database,
    token: str | None,
    *,
    idle: timedelta = IDLE,
    absolute: timedelta = ABSOLUTE,
    trusted: Trusted | None = None,
) -> Active | None:
    """The session for a cookie token, if it is live (and its account enabled); touches it. With
    ``trusted``, a session verified in the last ``trusted.window`` is not read again."""
    if not token:
        return None
    if trusted is not None:
        hit = trusted_session(token, trusted, idle=idle, absolute=absolute)
        if hit is not None:
            return hit
    now = datetime.now(UTC)
    digest = _digest(token)
    with db.reading() as s:  # most requests only read: no write lock, no waiting for a writer
        row = s.execute(
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.token_hash == digest)
        ).one_or_none()
        if row is None:
            found = None
        else:
            sess, user = row
            created, seen = _aware(sess.created_at), _aware(sess.last_seen)
            live = not user.disabled and now - seen <= idle and now - created <= absolute
            found = (Active(account_of(user), sess.csrf_token, sess.token_hash), created, seen, live)
    if found is None:
        if trusted is not None:
            trusted.forget(token)
        return None
    active, created, seen, live = found
    if not live:
        if trusted is not None:
            trusted.forget(token)
        with db.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.token_hash == digest))
        return None
    if now - seen > TOUCH:
        with db.session() as s:
            s.execute(
                update(LoginSession).where(LoginSession.token_hash == digest).values(last_seen=now)
            )
        seen = now
    if trusted is not None:
        trusted.put(_Verified(active, created, seen, time.monotonic()))
    return active


def end(db: Database, token: str | None, trusted: Trusted | None = None) -> None:
    if trusted is not None:
        trusted.forget(token)
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
