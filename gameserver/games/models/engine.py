"""The engine under a model game: PySD, driven one round at a time from a plain JSON state.

A model file is translated once by PySD into a Python module (:func:`translate`; compiling a
model runs the code PySD generates from it, which is why only an administrator adds models).
A :class:`CompiledModel` then makes engines from that module: PySD ``Model`` objects, each with
its own copy of the module (PySD loads a model file as a fresh module every time), kept in a
pool. A call takes an engine from the pool, or makes one, and gives it back when done: two
games, in two threads, never share one, and nothing a call leaves in an engine reaches the next
call, because every call first sets the engine's whole state from its arguments.

The state of a run (:data:`EngineState`) is PySD's own: the time and every stateful element's
attributes (a stock's value; a delay's pipeline), as plain JSON. It does not grow with time.

One round advances the model by ``steps`` Euler steps of its ``dt``, with the constants (the
game's settings and the players' decisions) set before the first one. PySD's public ``step()``
applies a constant changed between steps one ``dt`` late (the cached values of the previous
output are used for the first step; SDXorg/pysd's stepping API keeps them), so this module runs
the Euler loop itself: set the constants, clear PySD's caches, then ``_euler_step`` and advance
the clock, ``steps`` times. ``tests/test_model_engine.py`` holds every such use of PySD's
internals against the installed version (the ``models`` extra pins PySD to 3.14.x).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gameserver.errors import InvalidModel, ModelsUnavailable

EngineState = dict[str, Any]
Over = Literal["end", "total", "mean"]

#: How a model is named in its own cache folder; PySD writes ``model.py`` beside it.
_SOURCE_NAMES = {".xmile": "model.xmile", ".stmx": "model.xmile", ".itmx": "model.xmile",
                 ".mdl": "model.mdl"}  # fmt: skip


def _pysd() -> Any:
    """PySD, imported on first use: the server runs without it until a model is used."""
    try:
        import pysd
    except ImportError as exc:
        raise ModelsUnavailable(
            "model games need PySD, which is not installed: "
            "pip install 'gameserver[models]' (docs/models.md)"
        ) from exc
    return pysd


def translate(source: Path, cache: Path) -> Path:
    """The Python module PySD makes of ``source`` (a checked model file), made once per
    content in ``cache/<hash>/`` and reused after; its path."""
    data = source.read_bytes()
    suffix = source.suffix.lower()
    folder = cache / hashlib.sha256(data).hexdigest()[:24]
    module = folder / "model.py"
    if module.exists():
        return module
    pysd = _pysd()
    cache.mkdir(parents=True, exist_ok=True)
    # Translated in a scratch folder and renamed into place whole, so that a crash or a second
    # process never leaves a half-written module where the next start would load it.
    scratch = Path(tempfile.mkdtemp(prefix="translating-", dir=cache))
    try:
        copy = scratch / _SOURCE_NAMES[suffix]
        copy.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix == ".mdl":
                pysd.read_vensim(str(copy), initialize=False)
            else:
                pysd.read_xmile(str(copy), initialize=False)
        try:
            os.rename(scratch, folder)
        except OSError:  # another process translated it first: theirs is the same
            shutil.rmtree(scratch, ignore_errors=True)
    except Exception as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, InvalidModel | ModelsUnavailable):
            raise
        if isinstance(exc, KeyError):  # PySD's word for a name no variable has
            raise InvalidModel(
                f"{source.name}: an equation uses {exc.args[0]!r}, which the model does not "
                "define (PySD's name for it: lowercase, _ for spaces)"
            ) from exc
        raise InvalidModel(f"{source.name}: PySD cannot translate it: {exc}") from exc
    return module


@dataclass(frozen=True)
class Variable:
    """One variable of a model, as the model file names and describes it."""

    name: str
    kind: str  # Stateful (a stock), Auxiliary (a flow or auxiliary), Constant, Lookup, ...
    units: str
    doc: str


def _jsonable(value: Any) -> Any:
    """PySD's exported attributes as plain JSON: numbers, lists, dicts (numpy arrays tagged)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _native(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        if set(value) == {"ndarray"}:
            return np.array(value["ndarray"], dtype=float)
        return {key: _native(item) for key, item in value.items()}
    return value


def _number(value: Any) -> float | int:
    """A model value as JSON: whole numbers as ints (a count of cases stays 4, not 4.0)."""
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ArithmeticError(f"the model produced {number}")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


class CompiledModel:
    """A translated model: its variables, and engines made from it on demand."""

    def __init__(self, module: Path, source_name: str) -> None:
        self.module = module
        self.source_name = source_name
        self._free: list[Any] = []
        self._lock = threading.Lock()
        with self.engine() as model:
            self.dt = float(model.time.time_step())
            self.start = float(model.time.initial_time())
            self.stop = float(model.time.final_time())
            self.variables = self._variables(model)
            self._python = {
                name.casefold(): py for name, py in model._namespace.items() if py != "time"
            }

    def _variables(self, model: Any) -> dict[str, Variable]:
        out = {}
        for row in model.doc.to_dict("records"):
            name = str(row["Real Name"])
            if row.get("Subscripts"):
                raise InvalidModel(
                    f"{self.source_name}: variable {name!r} has subscripts (arrays), "
                    "which model games do not take yet"
                )
            units = row.get("Units")
            doc = row.get("Comment")
            out[name] = Variable(
                name=name,
                kind=str(row.get("Type") or ""),
                units=units if isinstance(units, str) else "",
                doc=doc if isinstance(doc, str) else "",
            )
        return out

    def resolve(self, name: str) -> str:
        """The model's own name of variable ``name`` (any case; ``_`` for a space), or
        :class:`InvalidModel` naming it."""
        wanted = name.replace("_", " ").casefold()
        for real in self.variables:
            if real.replace("_", " ").casefold() == wanted:
                return real
        raise InvalidModel(f"{self.source_name} has no variable {name!r}")

    @contextmanager
    def engine(self) -> Iterator[Any]:
        """A PySD model of this module for this call alone."""
        with self._lock:
            model = self._free.pop() if self._free else None
        if model is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = _pysd().load(str(self.module), initialize=False)
                # Initialising once ties the module's TIME to this model's clock (PySD's
                # _init_outer_references): without it TIME reads 0 for ever. Every call then
                # sets the whole state, so what initialising leaves behind is never used.
                model.initialize()
        try:
            yield model
        finally:
            with self._lock:
                self._free.append(model)

    def _set(self, model: Any, constants: Mapping[str, float]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.set_components(dict(constants))

    def initial(self, constants: Mapping[str, float]) -> EngineState:
        """The state at the model's start time with these constants."""
        with self.engine() as model:
            self._set(model, constants)
            model.time.set_control_vars(initial_time=self.start)
            model.initialize()
            return self._export(model)

    def _export(self, model: Any) -> EngineState:
        from pysd.py_backend.model import Macro

        stateful = Macro.export(model)
        return {"time": _number(model.time()), "stateful": _jsonable(stateful)}

    def advance(
        self,
        state: EngineState,
        constants: Mapping[str, float],
        steps: int,
        sample: Sequence[tuple[str, Over]],
    ) -> tuple[EngineState, dict[str, float | int]]:
        """Run ``steps`` Euler steps from ``state`` with ``constants`` set before the first;
        the new state and each sampled variable: at the end, or its total (value * dt summed)
        or mean over the steps."""
        with self.engine() as model:
            self._set(model, constants)
            model.time.set_control_vars(initial_time=state["time"])
            model.time.update(state["time"])
            model._set_stateful(_native(state["stateful"]))
            model.clean_caches()
            during = [(name, over) for name, over in sample if over != "end"]
            functions = {
                name: getattr(model.components, self._python[name.casefold()]) for name, _ in sample
            }
            sums = dict.fromkeys((name for name, _ in during), 0.0)
            dt = self.dt
            for _ in range(steps):
                for name, over in during:
                    value = float(functions[name]())
                    sums[name] += value * dt if over == "total" else value / steps
                model._euler_step(dt)
                model.time.update(model.time() + dt)
                model.clean_caches()
            values = {name: _number(functions[name]()) for name, over in sample if over == "end"}
            values.update({name: _number(total) for name, total in sums.items()})
            return self._export(model), values
