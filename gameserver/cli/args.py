"""Command-line parsing shared by the ``gameserver`` subcommands (simulate, bots)."""

from __future__ import annotations

import argparse
from typing import Any

from gameserver.errors import InvalidSettings
from gameserver.game import Setting


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def setting_value(spec: Setting | None, text: str) -> Any:
    """Command-line text as the setting's kind; anything unreadable goes through as text so
    that the setting's own check words the refusal."""
    if spec is None:
        return text
    if spec.optional and text.lower() in ("", "none", "null"):
        return None
    if spec.kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        return text
    if spec.kind == "str":
        return text
    if spec.kind == "int_list":
        return [_loosenumber(item) for item in text.split(",")]
    return _loosenumber(text)


def _loosenumber(text: str) -> Any:
    try:
        return number(text.strip())
    except argparse.ArgumentTypeError:
        return text


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """``--policy``, ``--role-policy ROLE=POLICY`` and ``--param NAME=VALUE``."""
    parser.add_argument("--policy", help="policy for every seat (default: the game's first)")
    parser.add_argument(
        "--role-policy",
        action="append",
        type=pair,
        default=[],
        metavar="ROLE=POLICY",
        help="a different policy for one role (repeatable)",
    )
    parser.add_argument(
        "--param",
        action="append",
        type=pair,
        default=[],
        metavar="NAME=VALUE",
        help="a policy parameter (goes to every chosen policy that has it)",
    )


def settings_from(specs: dict[str, Setting], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``--set NAME=VALUE`` pairs as settings, each read as its setting's kind."""
    out: dict[str, Any] = {}
    for flag_name, text in pairs:
        name = flag_name.replace("-", "_")
        out[name] = setting_value(specs.get(name), text)
    return out


def params_from(pairs: list[tuple[str, str]]) -> dict[str, float | int]:
    """``--param NAME=VALUE`` pairs as numbers; one that is not gets a message naming it."""
    out: dict[str, float | int] = {}
    for flag_name, text in pairs:
        name = flag_name.replace("-", "_")
        try:
            out[name] = number(text)
        except argparse.ArgumentTypeError:
            raise InvalidSettings(f"parameter {name!r} must be a number, got {text!r}") from None
    return out
