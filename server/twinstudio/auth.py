"""Signed, expiring room tokens (invite links).

A token is an HS256 JWT signed with a per-server secret. It grants one member
(``sub``, a stable id, plus a display ``name``) one role in one room until ``exp``.

Claims: ``iss`` ("twinstudio"), ``room``, ``role``, ``sub``, ``name``, ``iat``, ``exp``.

Expiry is checked here against an explicit ``now`` (defaulting to ``time.time()``)
rather than by PyJWT's own clock, so tests can move time without sleeping.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt

__all__ = [
    "ALGORITHM",
    "DEFAULT_TTL_SECONDS",
    "ISSUER",
    "MIN_SECRET_BYTES",
    "ROLES",
    "ROOM_NAME_RE",
    "SECRET_FILE_NAME",
    "AuthError",
    "Grant",
    "TokenAuthority",
]

ROLES: tuple[str, ...] = ("owner", "editor", "reviewer", "render")
ROOM_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

ISSUER: Final = "twinstudio"
ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32
SECRET_FILE_NAME: Final = "secret.key"
DEFAULT_TTL_SECONDS: Final = 7 * 24 * 3600.0

_REQUIRED_CLAIMS: Final = ["iss", "room", "role", "sub", "name", "iat", "exp"]

_ASK_OWNER: Final = "ask the room owner for a new invite link"


@dataclass(frozen=True)
class Grant:
    """What a verified token allows: ``user`` may act as ``role`` in ``room``."""

    room: str
    role: str
    user: str  # stable member id (the "sub" claim)
    name: str  # display name
    expires_at: float  # unix time (seconds)


class AuthError(Exception):
    """A token was refused.

    ``code`` is one of ``token_missing``, ``token_invalid``, ``token_expired``,
    ``token_wrong_room``, ``role_unknown``; ``message`` tells the user what to do.
    """

    CODES: Final = frozenset(
        {"token_missing", "token_invalid", "token_expired", "token_wrong_room", "role_unknown"}
    )

    def __init__(self, code: str, message: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown AuthError code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError(
            "role_unknown",
            f"The role {role!r} is not one of {', '.join(ROLES)}; {_ASK_OWNER}.",
        )


class TokenAuthority:
    """Issues and verifies room tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes):
            raise TypeError("secret must be bytes")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes, got {len(secret)}")
        self._secret = secret

    def __repr__(self) -> str:  # never show the secret
        return f"{type(self).__name__}(<secret>)"

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> TokenAuthority:
        """Load ``data_dir/secret.key``, creating it (32 random bytes, mode 0600) if missing.

        Creation is atomic and never replaces an existing key: the key is written to a
        temporary file and hard-linked into place, so concurrent first starts agree on
        one secret.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        key_path = data_dir / SECRET_FILE_NAME
        if not key_path.exists():
            fd, tmp_name = tempfile.mkstemp(dir=data_dir, prefix=f".{SECRET_FILE_NAME}.")
            try:
                os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(secrets.token_bytes(MIN_SECRET_BYTES))
                    tmp.flush()
                    os.fsync(tmp.fileno())
                with contextlib.suppress(FileExistsError):  # someone else won the race
                    os.link(tmp_name, key_path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
            with contextlib.suppress(OSError):  # make the new directory entry durable
                dir_fd = os.open(data_dir, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        secret = key_path.read_bytes()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"{key_path} holds {len(secret)} bytes, fewer than {MIN_SECRET_BYTES}: "
                "it is damaged; delete it to make a new one (existing invite links will stop "
                "working)"
            )
        return cls(secret)

    def issue(
        self,
        room: str,
        role: str,
        *,
        user: str | None = None,
        name: str | None = None,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        now: float | None = None,
    ) -> str:
        """Return a signed token granting ``role`` in ``room``.

        Raises ``ValueError`` for an invalid room name, user, name or ttl, and
        ``AuthError("role_unknown")`` for a role not in ``ROLES``.
        """
        if not ROOM_NAME_RE.fullmatch(room):
            raise ValueError(
                f"invalid room name {room!r}: use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or digit"
            )
        _check_role(role)
        if user is None:
            user = f"u-{secrets.token_hex(8)}"
        if name is None:
            name = role.capitalize()
        if not isinstance(user, str) or not user:
            raise ValueError("user must be a non-empty string")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name must be a non-empty string")
        if not _is_number(ttl_seconds) or ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be a positive number")
        issued_at = time.time() if now is None else now
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "room": room,
            "role": role,
            "sub": user,
            "name": name,
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str | None, room: str, *, now: float | None = None) -> Grant:
        """Check ``token`` for ``room`` and return its grant, or raise ``AuthError``."""
        if token is None or not token.strip():
            raise AuthError(
                "token_missing",
                "No access token was given; open the full invite link you were sent, "
                f"or {_ASK_OWNER}.",
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                leeway=0,
                options={
                    "require": _REQUIRED_CLAIMS,
                    # Time claims are checked below against `now`.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise AuthError(
                "token_invalid",
                "This access token is not valid (it is damaged, or was made by another "
                f"server); {_ASK_OWNER}.",
            ) from exc

        exp = claims["exp"]
        fields = (claims["room"], claims["role"], claims["sub"], claims["name"])
        if (
            not _is_number(exp)
            or not _is_number(claims["iat"])
            or not all(isinstance(f, str) and f for f in fields)
        ):
            raise AuthError(
                "token_invalid",
                f"This access token is malformed; {_ASK_OWNER}.",
            )

        current = time.time() if now is None else now
        if current >= exp:
            raise AuthError(
                "token_expired",
                f"This invite link has expired; {_ASK_OWNER}.",
            )
        if claims["room"] != room:
            raise AuthError(
                "token_wrong_room",
                f"This invite link is for room {claims['room']!r}, not {room!r}; open the "
                f"link for this room, or {_ASK_OWNER}.",
            )
        _check_role(claims["role"])
        return Grant(
            room=claims["room"],
            role=claims["role"],
            user=claims["sub"],
            name=claims["name"],
            expires_at=float(exp),
        )
