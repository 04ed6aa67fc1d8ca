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
