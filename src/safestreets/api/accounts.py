"""Accounts and the audit trail, as the CLI (``safestreets users``, ``safestreets audit``) and the admin
pages use them. Every change is itself written to the audit trail."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safestreets.db import Database, audit, connect, database_url, users
from safestreets.db.users import Account


def open_database(workspace_root: Path) -> Database:
    """The operational database of a workspace (``SAFESTREETS_DATABASE_URL`` if set), migrated."""
    return connect(database_url(workspace_root))


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container)
        return "cli"


def add_user(
    db: Database, username: str, role: str, *, password: str | None = None, actor: str
) -> tuple[Account, str]:
    account, pw = users.add_user(db, username, role, password)
    audit.record(
        db, actor=actor, action="change", target="users.add", params={"username": username, "role": role}
    )
    return account, pw


def disable_user(db: Database, username: str, *, actor: str) -> Account:
    account = users.disable_user(db, username)
    audit.record(db, actor=actor, action="change", target="users.disable", params={"username": username})
    return account


def reset_password(
    db: Database, username: str, *, password: str | None = None, actor: str
) -> tuple[Account, str]:
    account, pw = users.reset_password(db, username, password)
    audit.record(db, actor=actor, action="change", target="users.reset", params={"username": username})
    return account, pw


def list_users(db: Database) -> list[Account]:
    return users.list_users(db)


def verify_audit(db: Database) -> audit.Verdict:
    return audit.verify(db)


def audit_entries(
    db: Database,
    *,
    limit: int | None = None,
    offset: int = 0,
    before: int | None = None,
    actor: str,
    action: str = "view",
) -> Iterator[dict[str, Any]]:
    """Entries newest first (``before``: older than that id); reading them is itself recorded (as
    ``action``: a view, or an export)."""
    params = {"limit": limit, "offset": offset, **({"before": before} if before is not None else {})}
    audit.record(db, actor=actor, action=action, target="audit", params=params)
    return audit.entries(db, limit=limit, offset=offset, before=before)
