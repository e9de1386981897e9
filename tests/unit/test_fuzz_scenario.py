"""Fuzzing the scenario loader: any text, any dict → a Scenario or one BadInputError line."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import BadInputError
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario, parse_scenario

SHIPPED = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "three-node-movable.toml"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = st.sampled_from(["name", "machine", "nodes", "memory", "cpus", "slots", "maxmem", "dimms",
                        "id", "size", "node", "srat", "ranges", "start", "hotplug", "actions",
                        "do", "fault", "expect", "timeout", "extends", "kernel", "cmdline", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["1G", "128M", "0x100000000", "-1G",
                                                           "1Q", "inject_fault", "panic", "qemu"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=5)),
                      max_leaves=20)


def _accepts_or_bad_input(load: Any) -> None:
    try:
        scenario = load()
    except BadInputError as err:
        message = str(err)
        assert message and "\n" not in message.strip()
        return
    try:
        compute_layout(scenario)
    except BadInputError:
        pass


@SETTINGS
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_random_dicts_give_a_scenario_or_bad_input(data: dict[str, Any]) -> None:
    _accepts_or_bad_input(lambda: parse_scenario(data, "fuzz"))


def _mutate(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = dict(base)
    if len(path) == 1 or not isinstance(out.get(path[0]), dict):
        out[path[0]] = value
    else:
        out[path[0]] = _mutate(out[path[0]], path[1:], value)
    return out


@SETTINGS
@given(st.lists(KEYS, min_size=1, max_size=3), VALUES)
def test_one_changed_key_of_a_real_scenario_gives_a_scenario_or_bad_input(path: list[str], value: Any) -> None:
    base = tomllib.loads(SHIPPED.read_text())
    _accepts_or_bad_input(lambda: parse_scenario(_mutate(base, path, value), "fuzz"))


TOMLISH = st.lists(st.one_of(st.sampled_from(["[machine]", "[[dimms]]", "[[actions]]", "[srat]", "name = \"t\"",
                                              "nodes = [{ memory = \"1G\" }]", "extends = \"fuzz.toml\"",
                                              "extends = \"missing.toml\"", "do = \"inject_fault\"", "=", "[", "\"",
                                              "slots = 99999", "maxmem = \"1T\""]),
                             st.text(max_size=30)), max_size=12).map("\n".join)


@SETTINGS
@given(text=st.one_of(TOMLISH, st.text(max_size=200)), raw=st.binary(max_size=40))
def test_random_files_give_a_scenario_or_bad_input(tmp_path: Path, text: str, raw: bytes) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass") + raw)
    _accepts_or_bad_input(lambda: load_scenario(path))
