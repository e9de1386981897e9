"""Scenario files: every shipped one validates; each kind of mistake is one line naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.scenario.schema import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
ALL = sorted(SCENARIOS.rglob("*.toml"))

GOOD = """
name = "t"
[machine]
slots = 2
maxmem = "4G"
nodes = [{ memory = "1G", cpus = [0] }, { memory = "1G" }]
[[dimms]]
id = "d0"
size = "256M"
node = 1
[[actions]]
id = "rm"
do = "dimm_remove"
dimm = "d0"
"""


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_shipped_scenarios_validate(path: Path) -> None:
    assert load_scenario(path).name == path.stem


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BadInputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_good_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.machine.ram_size == 2 << 30 and scenario.dimm("d0").size == 256 << 20


@pytest.mark.parametrize("change, key", [
    (("nodes = [{ memory = \"1G\", cpus = [0] }", "nodes = [{ memory = \"1Q\", cpus = [0] }"), "machine.nodes[0].memory"),
    (("slots = 2", "slots = 2\nslotz = 3"), "machine.slotz: unknown key"),
    (("node = 1", "node = 7"), "node 7 does not exist"),
    (("dimm = \"d0\"", "dimm = \"nope\""), "no dimm 'nope'"),
    (("maxmem = \"4G\"", "maxmem = \"2G\""), "above machine.maxmem"),
    (("do = \"dimm_remove\"", "do = \"explode\""), "actions[0]"),
    (("slots = 2", "slots = 0"), "but machine.slots = 0"),
])
def test_each_mistake_names_its_key(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    assert key in _error(tmp_path, GOOD.replace(*change))


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    assert "TOML syntax" in _error(tmp_path, GOOD + "\n[machine\n")


def test_extends_merges_tables_and_replaces_arrays(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(GOOD)
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\nname = "c"\n[kernel]\ncmdline = "movable_node"\n')
    scenario = load_scenario(child)
    assert (scenario.name, scenario.kernel.cmdline, len(scenario.actions)) == ("c", "movable_node", 1)


def test_circular_extends_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(BadInputError, match="circular"):
        load_scenario(tmp_path / "a.toml")


SLIT = GOOD + "[slit]\nsource = \"qemu\"\ndistances = [[10, 20], [20, 10]]\n"


def test_slit_loads_and_becomes_numa_dist(tmp_path: Path) -> None:
    from harness.qemu.cmdline import build_command
    from harness.qemu.machine import Channels

    path = tmp_path / "slit.toml"
    path.write_text(SLIT)
    scenario = load_scenario(path)
    argv = " ".join(build_command(scenario, Path("/k"), Path("/i"), Channels(Path("/c"), Path("/a"), Path("/q"))))
    assert "-numa dist,src=0,dst=1,val=20 -numa dist,src=1,dst=0,val=20" in argv


@pytest.mark.parametrize("distances, message", [
    ("[[10, 20], [20, 12]]", "distances[1][1] = 12"),
    ("[[10, 10], [20, 10]]", "distances[0][1] = 10"),
    ("[[10, 255], [20, 10]]", "distances[0][1] = 255"),
    ("[[10, 20]]", "distances[0] has 2 entries"),
    ("[[10, 20, 30], [20, 10, 30], [30, 30, 10]]", "the machine has 2 nodes"),
])
def test_slit_the_kernel_would_refuse_is_bad_input(tmp_path: Path, distances: str, message: str) -> None:
    assert message in _error(tmp_path, SLIT.replace("[[10, 20], [20, 10]]", distances))
