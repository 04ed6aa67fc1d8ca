"""Secrets: seat and facilitator tokens, join codes and game ids.

Tokens are random (``secrets``), carry the id of what they open in front of a dot
(``<game id>.<secret>``) so a game that is not in memory can be found from its token, and are
stored only as SHA-256 hashes, compared in constant time. A leaked database therefore gives no
usable token. Join codes are short and typed by people, so they avoid look-alike characters.
How to read the id out of a code or a token is the protocol's business
(:func:`gameserver.protocol.game_of_code`, :func:`~gameserver.protocol.game_of_token`).
"""

from __future__ import annotations

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
