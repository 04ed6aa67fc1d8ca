# Sourced by scripts/*: make sure .venv exists and has this project installed, then activate it.
# Re-installs only when pyproject.toml changed since the last install.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${GAMESERVER_EXTRAS:-}"
stamp=".venv/.installed${extras:+-$extras}"
# A new .venv is made with the Python that scripts/_python.sh chooses; an existing one is kept
# (remove .venv to choose again).
# shellcheck source=scripts/_python.sh
. scripts/_python.sh
if [ ! -x .venv/bin/python ]; then
    python="$(choose_python)"
    echo "making .venv with $python ($("$python" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?'))"
    if ! "$python" -m venv .venv; then
        rm -rf .venv
        echo "scripts: $python could not make .venv" >&2
        exit 1
    fi
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing gameserver${extras:+[$extras]} into .venv (log: .venv/pip.log)"
    .venv/bin/python -m pip install -q --upgrade pip >.venv/pip.log 2>&1 || true
    if ! .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}" >>.venv/pip.log 2>&1; then
        tail -n 30 .venv/pip.log
        echo "pip install failed (see .venv/pip.log)" >&2
        exit 1
    fi
    touch "$stamp"
fi
# shellcheck disable=SC1091
. .venv/bin/activate
# The project's own modules as bytecode, as a regular (not editable) install leaves them: where
# PYTHONDONTWRITEBYTECODE is set, Python never writes it itself, and every server process
# (each test's, the benchmark's, a restart after a crash) compiled its ~90 modules from source,
# 40% of the instructions of its imports. Only what changed since the last run is compiled; a
# module that does not compile is named, with its error, and the script stops.
python -m compileall -q gameserver storage
