"""Reviewers' accounts for the web interface. Passwords are kept only as Argon2id hashes (memory-hard)."""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.models import User
from caigou.models.errors import CaigouError

MIN_PASSWORD = 10
NAME = re.compile(r"^[\w.@-]{1,80}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
# Verifying against this when the name is unknown keeps the answer's timing the same as for a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(CaigouError):
    """An account that cannot be created or changed as asked."""


def add_user(session: Session, name: str, password: str) -> User:
    if not NAME.match(name):
        raise AccountError("a user name is 1–80 letters, digits or . _ @ -")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.scalars(select(User).where(User.name == name)).first() is not None:
        raise AccountError(f"user {name!r} exists already; use 'caigou user password {name}' to change it")
    user = User(name=name, password_hash=_hasher.hash(password), active=True)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    user = get_user(session, name)
    user.password_hash = _hasher.hash(password)
    end_sessions(user)


def set_active(session: Session, name: str, active: bool) -> None:
    user = get_user(session, name)
    user.active = active
    end_sessions(user)


def end_sessions(user: User) -> None:
    """Revoke every web session of ``user``: the sessions carry the generation they were issued in."""
    user.session_generation = (user.session_generation or 0) + 1


def session_user(session: Session, name: str, generation: object) -> bool:
    """Whether a web session for ``name`` issued in ``generation`` is still good: the user exists, is active, and
    has not logged out, been disabled or changed password since."""
    row = session.execute(select(User.active, User.session_generation).where(User.name == name)).first()
    return row is not None and bool(row.active) and row.session_generation == generation


def get_user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise AccountError(f"no user {name!r}")
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, or None (the same answer for every kind of failure)."""
    user = session.scalars(select(User).where(User.name == name)).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
