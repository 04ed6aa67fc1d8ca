"""Time this Python on a little pure-Python work, for scripts/_venv.sh to pick an interpreter.

Prints one line: the best of seven timings in milliseconds, the interpreter's version and its
path (last, as a path may hold spaces). Exits 1, printing nothing, on a Python older than 3.11
(the project needs 3.11+) or one that cannot make a virtual environment with pip in it
(Debian's without its python3-venv package).

The same CPython version runs this project's server at speeds up to a quarter apart by how it
was built: a static interpreter optimised with PGO and LTO (Debian's ``python3``, the official
Docker images) against a shared-library build without them (this project's machine's pyenv
3.11.7: ``--enable-shared``, no ``--enable-optimizations``), whose every call into the
interpreter's own library goes through the PLT. The work here is what the server's Python spends
its time on: calls, attribute reads, small dicts, lists and tuples.
"""

import sys
import time

if sys.version_info < (3, 11):  # noqa: UP036  (any python3 on PATH runs this file)
    sys.exit(1)
try:
    # A venv needs both modules and the pip that ensurepip installs (Debian leaves the module
    # out without python3-venv, and its pip wheel without python3-pip-whl).
    import ensurepip
    import venv  # noqa: F401

    ensurepip.version()
except Exception:
    sys.exit(1)


class _Seat:
    __slots__ = ("orders", "role")

    def __init__(self, role: str) -> None:
        self.role = role
        self.orders: list[int] = []

    def view(self, week: int) -> dict[str, object]:
        return {"role": self.role, "week": week, "orders": self.orders[-4:]}


def _work() -> int:
    seats = [_Seat(role) for role in ("retailer", "wholesaler", "distributor", "factory")]
    total = 0
    for week in range(4000):
        for seat in seats:
            seat.orders = [*seat.orders[-8:], week % 7]
            total += len(seat.view(week))
    return total


def main() -> None:
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        _work()
        best = min(best, time.perf_counter() - started)
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"{best * 1000:.2f} {version} {sys.executable}")


if __name__ == "__main__":
    main()
