"""Typed reading of a description's tables: every refusal names the file and the field.

``Reader(source, where, data)`` wraps one table (``decisions[0]``) of a parsed TOML or JSON
description; its accessors check a field's type and range and raise :class:`InvalidModel` with
``<file>: <field>: <problem>``, and :meth:`Reader.done` refuses fields nobody read, so that a
typo is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameserver.errors import InvalidModel


class Reader:
    """Typed access to one table of the description, naming the field in every refusal."""

    def __init__(self, source: str, where: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise InvalidModel(f"{source}: {where or 'the description'} must be a table")
        self.source, self.where, self.data = source, where, data
        self.used: set[str] = set()

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, problem: str) -> InvalidModel:
        return InvalidModel(f"{self.source}: {self._path(key)}: {problem}")

    def get(
        self, key: str, kinds: type | tuple[type, ...], default: Any = ..., what: str = ""
    ) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is required")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise self.fail(key, f"must be {what or _words(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {what or _words(kinds)}, got {value!r}")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        return str(self.get(key, str, default))

    def number(self, key: str, default: Any = ...) -> float:
        return float(self.get(key, (int, float), default, "a number"))

    def whole(self, key: str, default: Any = ..., low: int = 0, high: int = 10**6) -> int:
        value = int(self.get(key, int, default, "a whole number"))
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, got {value}")
        return value

    def optional_whole(self, key: str, low: int, high: int) -> int | None:
        return None if key not in self.data else self.whole(key, low=low, high=high)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def tables(self, key: str) -> list[Reader]:
        items = self.get(key, list, [], "a list of tables")
        return [
            Reader(self.source, f"{self._path(key)}[{i}]", item) for i, item in enumerate(items)
        ]

    def table(self, key: str) -> Reader | None:
        if key not in self.data:
            self.used.add(key)
            return None
        return Reader(self.source, self._path(key), self.get(key, dict, what="a table"))

    def done(self) -> None:
        """Refuse fields nobody reads: a typo must not be silently ignored."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a field here (docs/models.md lists them)")


def _words(kinds: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}  # fmt: skip
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))
