from __future__ import annotations

from pathlib import Path

import pytest

from gameserver.server.config import Config


def test_defaults_are_the_embedded_sqlite() -> None:
    config = Config.from_env({})
    assert config.data == Path("data") and config.port == 8000 and config.host == "127.0.0.1"
    assert config.storage_url() == f"sqlite:///{Path('data').resolve() / 'games.db'}"
    assert config.ws_deflate is False


def test_environment_then_flags() -> None:
    env = {"GAMESERVER_PORT": "9000", "GAMESERVER_IDLE_TIMEOUT": "5", "GAMESERVER_WS_DEFLATE": "on"}
    config = Config.from_env(env, port=None, storage="memory://")
    assert config.port == 9000 and config.idle_timeout == 5.0 and config.ws_deflate is True
    assert Config.from_env(env, port=7000).port == 7000
    assert config.storage_url() == "memory://"


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ValueError, match="GAMESERVER_PORT: expected int, got 'eighty'"):
        Config.from_env({"GAMESERVER_PORT": "eighty"})


def test_serve_refuses_bad_flags_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gameserver",
            "serve",
            "--storage",
            "redis://x",
            "--data",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "redis" in result.stderr


def test_request_timeout_defaults_to_ten_seconds_and_is_configurable() -> None:
    assert Config.from_env({}).request_timeout == 10.0
    env = {"GAMESERVER_REQUEST_TIMEOUT": "3"}
    assert Config.from_env(env).request_timeout == 3.0
    assert Config.from_env(env, request_timeout="4.5").request_timeout == 4.5


def test_serve_refuses_a_request_timeout_that_is_not_positive(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "gameserver", "serve", "--request-timeout", "0"]
    result = subprocess.run(
        [*command, "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "gameserver serve: --request-timeout must be more than 0 seconds"
    )
