"""Room tokens: issue/verify round trips and every refusal code."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import jwt
import pytest

from twinstudio.auth import (
    ROLES,
    ROOM_NAME_RE,
    AuthError,
    Grant,
    TokenAuthority,
)

SECRET = b"s" * 32
NOW = 1_700_000_000.0


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(SECRET)


def _refused(authority: TokenAuthority, token: str | None, room: str = "studio-1") -> AuthError:
    with pytest.raises(AuthError) as info:
        authority.verify(token, room, now=NOW)
    err = info.value
    assert err.message and err.message.endswith(".")
    return err


@pytest.mark.parametrize("role", ROLES)
def test_round_trip_every_role(authority: TokenAuthority, role: str) -> None:
    token = authority.issue("studio-1", role, user="u-42", name="Ada", ttl_seconds=60, now=NOW)
    grant = authority.verify(token, "studio-1", now=NOW + 59)
    assert grant == Grant(room="studio-1", role=role, user="u-42", name="Ada", expires_at=NOW + 60)


def test_claims(authority: TokenAuthority) -> None:
    token = authority.issue("studio-1", "editor", user="u-1", name="Bo", ttl_seconds=10, now=NOW)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "iss": "twinstudio",
        "room": "studio-1",
        "role": "editor",
        "sub": "u-1",
        "name": "Bo",
        "iat": NOW,
        "exp": NOW + 10,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_defaults(authority: TokenAuthority) -> None:
    a = authority.verify(authority.issue("r", "reviewer", now=NOW), "r", now=NOW)
    b = authority.verify(authority.issue("r", "reviewer", now=NOW), "r", now=NOW)
    assert a.name == "Reviewer"
    assert a.user.startswith("u-") and len(a.user) > 4
    assert a.user != b.user
    assert a.expires_at == NOW + 7 * 24 * 3600


def test_expired(authority: TokenAuthority) -> None:
    token = authority.issue("studio-1", "owner", ttl_seconds=60, now=NOW - 60)
    assert _refused(authority, token).code == "token_expired"  # exactly at exp: leeway 0
    assert authority.verify(token, "studio-1", now=NOW - 0.5).role == "owner"


def test_tampered_signature(authority: TokenAuthority) -> None:
    token = authority.issue("studio-1", "editor", now=NOW)
    header, payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert _refused(authority, f"{header}.{payload}.{flipped}").code == "token_invalid"


def test_tampered_payload(authority: TokenAuthority) -> None:
    token = authority.issue("studio-1", "reviewer", now=NOW)
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "owner"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _refused(authority, f"{header}.{forged}.{sig}").code == "token_invalid"


def test_wrong_room(authority: TokenAuthority) -> None:
    token = authority.issue("studio-2", "editor", now=NOW)
    err = _refused(authority, token, room="studio-1")
    assert err.code == "token_wrong_room"
    assert "studio-2" in err.message


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "....", "eyJ0eXAiOiJKV1QifQ.e30.x"])
def test_garbage(authority: TokenAuthority, garbage: str) -> None:
    assert _refused(authority, garbage).code == "token_invalid"


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_missing(authority: TokenAuthority, missing: str | None) -> None:
    assert _refused(authority, missing).code == "token_missing"


def test_other_secret(authority: TokenAuthority) -> None:
    other = TokenAuthority(b"o" * 32)
    token = other.issue("studio-1", "owner", now=NOW)
    assert _refused(authority, token).code == "token_invalid"


def test_unsigned_alg_none_refused(authority: TokenAuthority) -> None:
    claims = {"iss": "twinstudio", "room": "studio-1", "role": "owner", "sub": "u", "name": "x"}
    token = jwt.encode({**claims, "iat": NOW, "exp": NOW + 60}, None, algorithm="none")
    assert _refused(authority, token).code == "token_invalid"


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _claims(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": "twinstudio",
        "room": "studio-1",
        "role": "editor",
        "sub": "u-1",
        "name": "Ada",
        "iat": NOW,
        "exp": NOW + 60,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def test_unknown_role(authority: TokenAuthority) -> None:
    err = _refused(authority, _signed(_claims(role="admin")))
    assert err.code == "role_unknown"
    with pytest.raises(AuthError) as info:
        authority.issue("studio-1", "admin")
    assert info.value.code == "role_unknown"


@pytest.mark.parametrize(
    "over",
    [
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"name": None},
        {"iss": "someone-else"},
        {"exp": "soon"},
        {"name": ""},
        {"room": 7},
    ],
    ids=repr,
)
def test_bad_claims_invalid(authority: TokenAuthority, over: dict[str, object]) -> None:
    assert _refused(authority, _signed(_claims(**over))).code == "token_invalid"


def test_well_formed_foreign_token_accepted(authority: TokenAuthority) -> None:
    assert authority.verify(_signed(_claims()), "studio-1", now=NOW).user == "u-1"


def test_issue_validation(authority: TokenAuthority) -> None:
    for bad_room in ["", "-x", "a b", "x" * 65, "ü", "a/b"]:
        assert not ROOM_NAME_RE.match(bad_room)
        with pytest.raises(ValueError):
            authority.issue(bad_room, "owner")
    assert ROOM_NAME_RE.match("A" + "_-9" * 21)
    with pytest.raises(ValueError):
        authority.issue("r", "owner", ttl_seconds=0)
    with pytest.raises(ValueError):
        authority.issue("r", "owner", user="")


def test_short_secret_rejected() -> None:
    with pytest.raises(ValueError):
        TokenAuthority(b"x" * 31)


def test_auth_error_fields() -> None:
    err = AuthError("token_expired", "Ask the room owner for a new invite link.")
    assert err.code == "token_expired"
    assert err.message == "Ask the room owner for a new invite link."
    with pytest.raises(ValueError):
        AuthError("nope", "x")


def test_from_data_dir_creates_key_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data" / "nested"
    first = TokenAuthority.from_data_dir(data_dir)
    key = data_dir / "secret.key"
    assert key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    content = key.read_bytes()
    assert len(content) == 32
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]  # no temp file left

    second = TokenAuthority.from_data_dir(data_dir)
    assert key.read_bytes() == content
    t1 = first.issue("studio-1", "owner", now=NOW)
    t2 = second.issue("studio-1", "render", now=NOW)
    assert second.verify(t1, "studio-1", now=NOW).role == "owner"
    assert first.verify(t2, "studio-1", now=NOW).role == "render"

    other = TokenAuthority.from_data_dir(tmp_path / "elsewhere")
    with pytest.raises(AuthError) as info:
        other.verify(t1, "studio-1", now=NOW)
    assert info.value.code == "token_invalid"


def test_from_data_dir_rejects_damaged_key(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_bytes(b"short")
    with pytest.raises(ValueError, match="damaged"):
        TokenAuthority.from_data_dir(tmp_path)
