"""Seeded chance for pure rules and policies: the same seed and keys give the same draw anywhere.

Games and policies must not touch the global ``random`` module (a replay would diverge) nor keep
a generator object between calls (state must stay plain JSON). Instead every draw is a hash of
the seed and of keys naming the draw (``"regrowth", round``), so a draw needs nothing but values
already in the state or view, and draws for different purposes never interfere.
"""

from __future__ import annotations

import hashlib

Key = str | int


def uniform(seed: int, *keys: Key) -> float:
    """A number in ``[0, 1)`` determined by ``seed`` and ``keys`` alone."""
    # repr() of a tuple of ints and strs is the same in every process and Python version we
    # support, unlike hash(), which is salted per process.
    material = repr((int(seed), *keys)).encode()
    digest = hashlib.blake2b(material, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def integer(seed: int, low: int, high: int, *keys: Key) -> int:
    """A whole number in ``low..high`` (both included), uniform, determined by the arguments."""
    if high < low:
        raise ValueError(f"empty range {low}..{high}")
    return min(high, low + int(uniform(seed, *keys) * (high - low + 1)))
