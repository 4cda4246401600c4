"""Password hashing (argon2) and bearer tokens (JWT, HS256)."""

from __future__ import annotations

import threading
from datetime import timedelta

import jwt
from pwdlib import PasswordHash

from domain.roles import Role
from domain.timeutil import utcnow

_hasher = PasswordHash.recommended()  # argon2id: 64 MiB, 3 passes, 4 lanes per hash
JWT_ALGORITHM = "HS256"
# Each argon2 check holds 64 MiB and both cores for ~0.1-0.2 s; sign-in is open to anyone, and the
# thread pool would run 40 at once (2.5 GiB). The rest wait their turn.
PASSWORD_CHECKS_AT_ONCE = 4
_checking = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)


def hash_password(password: str) -> str:
    with _checking:
        return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    with _checking:
        return _hasher.verify(password, password_hash)


# Compared against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = hash_password("not-a-real-password")


def verify_password_or_dummy(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        verify_password(password, _DUMMY_HASH)
        return False
    return verify_password(password, password_hash)


def issue_token(*, user_id: str, role: Role, secret: str, ttl: timedelta) -> str:
    now = utcnow()
    claims = {"sub": user_id, "role": role.value, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_token(token: str, *, secret: str) -> dict:
    """The token's claims; raises jwt.InvalidTokenError when forged, tampered or expired."""
    return jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["sub", "exp"]})
