"""Records that are never changed once made, and quick to make.

``@frozen`` makes a class a dataclass with slots whose fields the type checker holds read-only
(``mypy --strict`` refuses an assignment to one, as for ``@dataclass(frozen=True)``), and
hashable by its fields, as a frozen dataclass is. At run time it is not frozen: a frozen
dataclass sets each field through ``object.__setattr__``, which made a decision's two records
and a round's one cost more to make than all else the server does with them (callgrind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def frozen(cls: type[_T]) -> type[_T]:
    return dataclass(slots=True, unsafe_hash=True)(cls)
