# Sourced by scripts/_venv.sh (and tests/test_scripts.py), from the project's root: defines
# choose_python, which prints the Python to make .venv with: $GAMESERVER_PYTHON if it is set,
# else the faster of python3 on PATH and the system's /usr/bin/python3, each 3.11 or newer and
# able to make a venv, timed by scripts/_pyspeed.py (python3 when neither qualifies: pip then
# says what is wrong). The same CPython runs the server up to a quarter faster or slower by how
# it was built (docs/deploy.md, "Which Python").
choose_python() {
    if [ -n "${GAMESERVER_PYTHON:-}" ]; then
        echo "$GAMESERVER_PYTHON"
        return
    fi
    local best="" best_ms="" candidate line ms exe
    # Each candidate prints "<ms> <version> <its executable>", or fails (too old, or no venv).
    for candidate in python3 /usr/bin/python3; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        line="$("$candidate" -I scripts/_pyspeed.py 2>/dev/null)" || continue
        read -r ms _ exe <<<"$line"
        if [ -z "$best" ] || awk -v a="$ms" -v b="$best_ms" 'BEGIN { exit !(a < b) }'; then
            best="$exe"
            best_ms="$ms"
        fi
    done
    echo "${best:-python3}"
}
