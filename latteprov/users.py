"""Users of the web app: add, remove, list, check a password.

Neo4j Community has no roles, so the web app enforces them from :class:`latteprov.model.WebUser`
nodes. Only werkzeug password hashes are stored; passwords are never logged or returned.
"""
from __future__ import annotations

import re
from functools import lru_cache

from werkzeug.security import check_password_hash, generate_password_hash

from latteprov.errors import InputError, NotFound
from latteprov.store import Store

ROLES = ("reader", "writer", "admin")
MIN_PASSWORD = 8
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to compare against when the user is unknown, so a login costs the same either way
    (computed on the first login, not at import: every CLI command would pay ~0.1 s for it)."""
    return generate_password_hash("latteprov-no-such-user")


def check_username(username: str) -> str:
    """The username if it is acceptable, else an InputError saying what is allowed."""
    if not _USERNAME.fullmatch(username or ""):
        raise InputError(f"bad username {username!r}: use 1-64 letters, digits, '_', '.', '@' or '-', "
                         "starting with a letter or digit")
    return username


def check_role(role: str) -> str:
    """The role if it is one of :data:`ROLES`."""
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def add(store: Store, username: str, password: str, role: str = "reader") -> dict:
    """Create a user with a hashed password; refuse a taken name or a short password."""
    check_username(username)
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password too short: at least {MIN_PASSWORD} characters")
    rows = store.write("user_add", username=username, role=role,
                       password_hash=generate_password_hash(password))
    if not rows:
        raise InputError(f"user {username!r} already exists")
    return rows[0]


def remove(store: Store, username: str) -> None:
    """Delete a user; NotFound when there is none of that name."""
    if not store.write("user_remove", username=username)[0]["removed"]:
        raise NotFound(f"no web user named {username!r}")


def list_users(store: Store) -> list[dict]:
    """Every user with role and creation time (never the hash)."""
    return store.read("user_list")


def get(store: Store, username: str) -> dict | None:
    """The user ``{username, role}`` or None."""
    rows = store.read("user_get", username=username)
    return {"username": rows[0]["username"], "role": rows[0]["role"]} if rows else None


def authenticate(store: Store, username: str, password: str) -> dict | None:
    """The user ``{username, role}`` if the password matches, else None."""
    rows = store.read("user_get", username=username)
    if not rows:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(rows[0]["password_hash"], password):
        return None
    return {"username": rows[0]["username"], "role": rows[0]["role"]}
