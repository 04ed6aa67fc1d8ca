"""Reading model games from files, safely: descriptions, model files and folders of them.

A model file is checked before PySD sees it:

- it stays inside its folder (no ``..``, no absolute name, no symbolic link out of it);
- XMILE is parsed with ``defusedxml``: a DTD, an entity or an external reference is refused,
  so no entity expansion ("billion laughs") and no file read through the XML;
- nothing in it reaches another file: XMILE ``<include>``, ``<data>`` imports and ``<module>``
  (PySD cannot run modules: flatten them) are refused, and so are Vensim's ``GET XLS``,
  ``GET DIRECT`` and ``GET DATA`` functions;
- it is deterministic: random functions are refused (a model game replays from its decisions;
  chance belongs in the settings or the decisions);
- the variable or line that breaks a rule is named in the refusal.

Translating and loading a model runs code that PySD generates from it: only an administrator
adds models (the API with the admin key, or a folder given to ``gameserver serve``), never a
player.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gameserver.errors import InvalidModel, ModelsUnavailable
from gameserver.games.models import description as desc
from gameserver.games.models.engine import CompiledModel, translate

#: Largest model file and description read; real models are a few hundred kilobytes.
MAX_MODEL_BYTES = 8 * 1024 * 1024
MAX_DESCRIPTION_BYTES = 256 * 1024
DESCRIPTION_SUFFIXES = (".toml", ".json")

_RANDOM = re.compile(
    r"\b(RANDOM|RANDOM[ _]UNIFORM|RANDOM[ _]NORMAL|RANDOM[ _]POISSON|RANDOM[ _]EXPONENTIAL|"
    r"NORMAL|POISSON|EXPRND|LOGNORMAL|BETA|BINOMIAL|GAMMA|WEIBULL|TRIANGULAR|GEOMETRIC|"
    r"NEGBINOMIAL|PARETO|LOGISTIC)\s*\(",
    re.I,
)
_EXTERNAL = re.compile(r"\bGET[ _](XLS|DIRECT|DATA|123|VDF)[\w ]*\(", re.I)


def inside(folder: Path, name: str) -> Path:
    """``folder / name`` when it names a file inside ``folder`` (symbolic links resolved),
    else :class:`InvalidModel`."""
    if not name or name.startswith(("/", "\\")) or ".." in Path(name).parts:
        raise InvalidModel(f"{name!r}: a model game's files must be inside its folder")
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise InvalidModel(f"{name!r}: leads out of the folder {folder}")
    return path


def read_limited(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise InvalidModel(f"{path.name}: {size} bytes, more than the {limit} allowed")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidModel(f"{path.name}: cannot be read: {exc.strerror or exc}") from None


def check_model(name: str, data: bytes) -> None:
    """Refuse a model file that is unsafe or not deterministic (see the module docstring)."""
    if name.lower().endswith(".mdl"):
        _check_vensim(name, data)
    else:
        _check_xmile(name, data)


def _check_xmile(name: str, data: bytes) -> None:
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring
    except ImportError as exc:
        raise ModelsUnavailable(
            "model games need defusedxml and PySD: pip install 'gameserver[models]'"
        ) from exc
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidModel(f"{name}: refused: {exc} (no DTD or entities in a model)") from None
    except Exception as exc:  # ParseError: says the line and column
        raise InvalidModel(f"{name}: not well-formed XML: {exc}") from None
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        label = element.get("name") or element.get("resource") or ""
        if tag in ("include", "import"):
            raise InvalidModel(f"{name}: <{tag}> {label!r}: a model may not read other files")
        if tag == "data":
            raise InvalidModel(f"{name}: <data>: a model may not import or export data files")
        if tag == "module":
            raise InvalidModel(
                f"{name}: module {label!r}: PySD does not run XMILE modules; "
                "flatten the model (one model, no modules)"
            )
    for variable, equation in _xmile_equations(root):
        _check_equation(name, f"variable {variable!r}", equation)


def _xmile_equations(root: object) -> Iterator[tuple[str, str]]:
    for element in root.iter():  # type: ignore[attr-defined]
        if element.tag.rsplit("}", 1)[-1] in ("aux", "flow", "stock", "gf"):
            for child in element:
                if child.tag.rsplit("}", 1)[-1] in ("eqn", "init") and child.text:
                    yield element.get("name", "?"), child.text


def _check_equation(name: str, where: str, equation: str) -> None:
    if match := _RANDOM.search(equation):
        raise InvalidModel(
            f"{name}: {where} uses {match.group(1).upper()}: model games replay from their "
            "decisions, so a model must be deterministic (take chance from a setting)"
        )
    if match := _EXTERNAL.search(equation):
        raise InvalidModel(
            f"{name}: {where} uses {match.group(0)[:-1]}: a model may not read files"
        )


def _check_vensim(name: str, data: bytes) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    for number, line in enumerate(text.splitlines(), start=1):
        _check_equation(name, f"line {number}", line)


@dataclass(frozen=True)
class ModelSource:
    """A description and its model, read and checked, not yet compiled."""

    folder: Path
    description: desc.Description
    model_path: Path


def read_source(description_path: Path) -> ModelSource:
    """The description at ``description_path`` and its model beside it, checked."""
    folder = description_path.parent
    raw = read_limited(description_path, MAX_DESCRIPTION_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidModel(f"{description_path.name}: not UTF-8 text") from None
    described = desc.parse(text, description_path.name)
    model_path = inside(folder, described.model)
    if not model_path.is_file():
        raise InvalidModel(f"{description_path.name}: model: no file {described.model!r} beside it")
    check_model(model_path.name, read_limited(model_path, MAX_MODEL_BYTES))
    return ModelSource(folder, described, model_path)


def compile_source(source: ModelSource, cache: Path) -> CompiledModel:
    """The model of ``source`` translated (once per content, in ``cache``) and loaded."""
    module = translate(source.model_path, cache)
    return CompiledModel(module, source.model_path.name)


def descriptions(folder: Path) -> list[Path]:
    """The descriptions in a models folder: ``*.toml``/``*.json`` in it and one level below."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.suffix in DESCRIPTION_SUFFIXES and p.is_file()]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += [p for p in sub.iterdir() if p.suffix in DESCRIPTION_SUFFIXES and p.is_file()]
    return sorted(found)
