"""Model files and descriptions: what is refused, and that every refusal names what is wrong.

Models come from an administrator and compiling one runs generated code, so the checks guard
against mistakes and against files that would reach outside their folder: no entity expansion,
no external file, no path out of the folder, no module, no random function.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameserver.errors import InvalidModel
from gameserver.games.models import load
from gameserver.games.models.description import parse
from gameserver.games.models.files import check_model
from tests.support import ROOT

XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><vendor>tests</vendor><product version="1">tests</product></header>
  <sim_specs method="Euler" time_units="Days"><start>0</start><stop>100</stop><dt>1</dt></sim_specs>
  <model><variables>
    <stock name="Tank"><eqn>10</eqn><inflow>Fill</inflow></stock>
    <flow name="Fill"><eqn>{fill}</eqn></flow>
    <aux name="Player A Pour"><eqn>0</eqn></aux>
  </variables></model>
</xmile>
"""
TOML = """name = "tank"
title = "A tank"
model = "tank.xmile"
[time]
rounds = 5
[[roles]]
id = "a"
model = "Player A"
[[decisions]]
key = "pour"
variable = "{role} Pour"
label = "Pour"
maximum = 10
[[figures]]
key = "level"
variable = "Tank"
label = "Level"
[score]
variable = "Tank"
"""


def folder_with(tmp_path: Path, toml: str = TOML, xmile: str | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tank.toml").write_text(toml)
    (tmp_path / "tank.xmile").write_text(xmile or XMILE.format(fill="Player_A_Pour"))
    return tmp_path / "tank.toml"


def refused(path: Path, cache: Path) -> str:
    with pytest.raises(InvalidModel) as error:
        load(path, cache)
    return str(error.value)


def test_a_small_model_game_loads_and_plays(tmp_path: Path, model_cache: Path) -> None:
    game = load(folder_with(tmp_path), model_cache)
    state = game.initial_state(game.validate_settings({}), 0)
    state = game.step(state, {"a": {"pour": 3}})
    assert game.view(state, "a")["level"] == 13  # poured in the round it was decided
    assert game.results(state) == {
        "roles": {"a": {"score": 13}},
        "team": {"score": 13.0, "rounds_played": 1},
    }


BOMB = """<?xml version="1.0"?>
<!DOCTYPE xmile [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<xmile><model><variables><aux name="x"><eqn>&b;</eqn></aux></variables></model></xmile>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE xmile [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xmile><model><variables><aux name="x"><eqn>&secret;</eqn></aux></variables></model></xmile>"""


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("bomb.xmile", BOMB, "no DTD or entities"),
        ("external.xmile", EXTERNAL, "no DTD or entities"),
        ("broken.xmile", "<xmile><model>", "not well-formed XML"),
        (
            "module.xmile",
            '<xmile><model><variables><module name="Supply"/></variables></model></xmile>',
            "module 'Supply': PySD does not run XMILE modules",
        ),
        (
            "include.xmile",
            '<xmile><include resource="other.xmile"/><model/></xmile>',
            "<include> 'other.xmile': a model may not read other files",
        ),
        (
            "random.xmile",
            '<xmile><model><variables><aux name="Noise"><eqn>RANDOM(0, 1)</eqn></aux>'
            "</variables></model></xmile>",
            "variable 'Noise' uses RANDOM",
        ),
        (
            "excel.mdl",
            "A=\n\t1\n\t~\t~\t|\nB=\n\tGET XLS DATA('x.xlsx', 'a', '1', 'B2')\n",
            "line 5 uses GET XLS DATA",
        ),
        ("noise.mdl", "A=\n\tRANDOM UNIFORM(0, 1, 0)\n\t~\t~\t|\n", "line 2 uses RANDOM UNIFORM"),
    ],
)
def test_unsafe_or_random_models_are_refused_by_name(name: str, text: str, words: str) -> None:
    with pytest.raises(InvalidModel) as error:
        check_model(name, text.encode())
    assert name in str(error.value) and words in str(error.value)


def test_a_model_outside_its_folder_is_refused(tmp_path: Path, model_cache: Path) -> None:
    escape = folder_with(
        tmp_path / "a", TOML.replace('model = "tank.xmile"', 'model = "../tank.xmile"')
    )
    assert "model: must be a file name beside the description" in refused(escape, model_cache)
    outside = tmp_path / "outside.xmile"
    outside.write_text(XMILE.format(fill="0"))
    linked = tmp_path / "b"
    linked.mkdir()
    (linked / "tank.toml").write_text(TOML)
    os.symlink(outside, linked / "tank.xmile")
    assert "leads out of the folder" in refused(linked / "tank.toml", model_cache)
    missing = tmp_path / "c"
    missing.mkdir()
    (missing / "tank.toml").write_text(TOML)
    assert "model: no file 'tank.xmile' beside it" in refused(missing / "tank.toml", model_cache)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (('name = "tank"', 'name = "Tank!"'), "tank.toml: name: must be lowercase letters"),
        (
            ("maximum = 10", 'maximum = "many"'),
            "tank.toml: decisions[0].maximum: must be a number, got 'many'",
        ),
        (
            ('label = "Pour"', 'label = "Pour"\ncolour = "red"'),
            "tank.toml: decisions[0].colour: is not a field here",
        ),
        (("[time]", "[time\n"), "tank.toml: "),
        (
            ('variable = "{role} Pour"', 'variable = "Pour"'),
            "decisions[0].variable: must hold {role}",
        ),
        (
            ('variable = "{role} Pour"', 'variable = "{role} Spill"'),
            "decisions[0].variable: tank.xmile has no variable 'Player A Spill'",
        ),
        (
            ('variable = "Tank"\nlabel = "Level"', 'variable = "Level Of Tank"\nlabel = "Level"'),
            "figures[0].variable: tank.xmile has no variable 'Level Of Tank'",
        ),
        (("rounds = 5", "rounds = 500"), "time.rounds_maximum: 500 rounds need the model to run"),
        (('[score]\nvariable = "Tank"', ""), "score: is required"),
        (
            ('[score]\nvariable = "Tank"', '[score]\nvariable = "Tank"\nadds_up = "yes"'),
            "tank.toml: score.adds_up: must be true or false, got 'yes'",
        ),
    ],
)
def test_a_bad_description_is_refused_naming_the_field(
    tmp_path: Path, model_cache: Path, change: tuple[str, str], words: str
) -> None:
    text = TOML.replace(*change)
    assert text != TOML, change
    assert words in refused(folder_with(tmp_path, text), model_cache)


def test_a_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(InvalidModel, match=r"x\.toml: .*line 2"):
        parse('name = "x"\ntitle = \n', "x.toml")
    with pytest.raises(InvalidModel, match=r"x\.json: line 1"):
        parse('{"name": }', "x.json")


def test_without_the_models_extra_a_model_says_how_to_add_it(tmp_path: Path) -> None:
    """A stand-in ``pysd`` that cannot be imported: what a server without the extra sees."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "pysd.py").write_text("raise ImportError('no PySD here')\n")
    folder = folder_with(tmp_path / "game")
    code = (
        "from pathlib import Path; from gameserver.games.models import load\n"
        f"load(Path({str(folder)!r}), Path({str(tmp_path / 'cache')!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stub), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode != 0
    assert "ModelsUnavailable" in done.stderr
    assert "pip install 'gameserver[models]'" in done.stderr
