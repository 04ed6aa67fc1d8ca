from __future__ import annotations

from gameserver.protocol import game_of_code, game_of_token
from gameserver.server import tokens


def test_tokens_name_their_owner_and_are_stored_hashed() -> None:
    token = tokens.new_token("G7")
    assert game_of_token(token) == "G7"
    stored = tokens.hash_secret(token)
    assert token not in stored and len(stored) == 64
    assert tokens.matches(token, stored)
    assert not tokens.matches(token + "x", stored)
    assert not tokens.matches(token, None) and not tokens.matches(token, "")


def test_tokens_and_codes_are_random_and_readable() -> None:
    assert len({tokens.new_token("G") for _ in range(200)}) == 200
    code = tokens.new_join_code("K7P2QXMB")
    assert game_of_code(code) == "K7P2QXMB"
    ids = "".join(tokens.new_id() for _ in range(200))
    assert not set(ids) & set("01ILOU")
