"""Records that are never changed once made, and quick to make (as ``gameserver.frozen``,
which storage does not import).

``@frozen`` makes a class a dataclass with slots whose fields the type checker holds read-only
(as for ``@dataclass(frozen=True)``) and hashable by its fields; at run time it is not frozen,
since a frozen dataclass sets each field through ``object.__setattr__`` (five times the cost
of making a plain one, timeit), and a round's save makes three of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def frozen(cls: type[_T]) -> type[_T]:
    return dataclass(slots=True, unsafe_hash=True)(cls)
