"""Secrets: seat and facilitator tokens, join codes and game ids.

Tokens are random (``secrets``), carry the id of what they open in front of a dot
(``<game id>.<secret>``) so a game that is not in memory can be found from its token, and are
stored only as SHA-256 hashes, compared in constant time. A leaked database therefore gives no
usable token. Join codes are short and typed by people, so they avoid look-alike characters.

A class's lobby stores no secret at all: a student's lobby token, rejoin code and seat token
are *derived* (HMAC-SHA256) from the server's admin key and what they open
(:func:`derived_token`, :func:`derived_code`). So they are the same on every device and after
every restart, a retried request gets the same one, and a leaked database gives none of them.
Changing the admin key changes them all (the students then rejoin with their names and new
codes).
How to read the id out of a code or a token is the protocol's business
(:func:`gameserver.protocol.game_of_code`, :func:`~gameserver.protocol.game_of_token`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

#: A class's (session's) id starts with this (its token too). Some game ids do as well: the
#: prefix says "maybe a class", and only the stored hash says yes.
SESSION_PREFIX = "S"

# Crockford-like alphabet without I, L, O, U, 0, 1: nothing a student can misread on a projector.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(length: int = 8) -> str:
    """A short random id, also usable as the first half of a join code."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def new_join_code(owner_id: str) -> str:
    """A join code for one seat (or a game's open join): ``<owner id>-<4 random characters>``."""
    return f"{owner_id}-{new_id(4)}"


def new_token(owner_id: str) -> str:
    """A bearer token for one seat, game or session."""
    return f"{owner_id}.{secrets.token_urlsafe(24)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time check of ``secret`` against a stored hash."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def _mac(key: str, parts: tuple[str, ...]) -> bytes:
    # NUL between the parts: no two different lists of parts give the same message.
    message = "\x00".join(parts).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


def derived_token(key: str, owner_id: str, *parts: str) -> str:
    """A bearer token ``<owner id>.<secret>`` derived from ``key`` and ``parts``: the same
    every time it is asked for, and nobody without ``key`` can make it."""
    secret = base64.urlsafe_b64encode(_mac(key, ("token", owner_id, *parts))).decode()
    return f"{owner_id}.{secret[:32]}"


def derived_code(key: str, *parts: str, length: int = 6) -> str:
    """A short code of the join codes' alphabet derived from ``key`` and ``parts``."""
    digest = _mac(key, ("code", *parts))
    return "".join(_CODE_ALPHABET[b % len(_CODE_ALPHABET)] for b in digest[:length])
