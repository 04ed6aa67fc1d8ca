"""The Python the scripts make ``.venv`` with (scripts/_python.sh, scripts/_pyspeed.py): the
faster of ``python3`` on PATH and the system's ``/usr/bin/python3``, or ``$GAMESERVER_PYTHON``,
as the README and docs/deploy.md say."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


def _choose(path: str, **env: str) -> str:
    """What ``choose_python`` prints with ``path`` as PATH (and ``env``)."""
    done = subprocess.run(
        ["/bin/bash", "-c", ". scripts/_python.sh && choose_python"],
        cwd=ROOT,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def _fake_python3(folder: Path, script: str) -> str:
    """A ``python3`` in ``folder`` that runs ``script`` (sh) whatever it is asked; the PATH
    that finds it first, then the system's folders."""
    fake = folder / "python3"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def _system_qualifies() -> bool:
    """Whether the system's python3 is one the chooser takes (3.11+, can make a venv)."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    done = subprocess.run(
        [SYSTEM_PYTHON, "-I", "scripts/_pyspeed.py"], cwd=ROOT, capture_output=True, timeout=60
    )
    return done.returncode == 0


def test_pyspeed_prints_its_timing_executable_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "scripts/_pyspeed.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ms, version, executable = done.stdout.rstrip("\n").split(" ", 2)
    assert 0 < float(ms) < 10_000
    assert executable == sys.executable
    assert version == platform.python_version()


def test_gameserver_python_is_taken_as_it_is() -> None:
    assert _choose("/usr/bin:/bin", GAMESERVER_PYTHON="/opt/python3.12/bin/python3") == (
        "/opt/python3.12/bin/python3"
    )


def test_the_faster_candidate_is_chosen(tmp_path: Path) -> None:
    path = _fake_python3(tmp_path, 'echo "0.01 3.11.9 /opt/fast one/bin/python3"')
    assert _choose(path) == "/opt/fast one/bin/python3"  # a path with a space too


def test_a_slower_python3_on_path_loses_to_the_systems(tmp_path: Path) -> None:
    if not _system_qualifies():
        pytest.skip(f"{SYSTEM_PYTHON} is missing, older than 3.11 or cannot make a venv")
    path = _fake_python3(tmp_path, 'echo "1e9 3.11.9 /opt/slow/bin/python3"')
    assert _choose(path) == SYSTEM_PYTHON


def test_a_python3_that_does_not_qualify_is_passed_over(tmp_path: Path) -> None:
    # As scripts/_pyspeed.py does on a Python older than 3.11: nothing printed, status 1.
    path = _fake_python3(tmp_path, "exit 1")
    expected = SYSTEM_PYTHON if _system_qualifies() else "python3"
    assert _choose(path) == expected
