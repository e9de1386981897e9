"""virtio-mem checks on a recorded 6.1 boot (the driver at 0x100000000, nid 1, 2G region):
where the layout put the device, and the zones each resize states."""
from __future__ import annotations

import tomllib
from pathlib import Path

from harness.guest.actions import ActionResult
from harness.guest.virtio_mem_actions import ResizeOutcome
from harness.logparse import load_boot_log
from harness.run.checks_virtio_mem import evaluate
from harness.run.verdict import RunResult
from harness.scenario.layout import compute_layout
from harness.scenario.schema import Scenario, parse_scenario

ROOT = Path(__file__).parents[2]
LOG = load_boot_log(ROOT / "fixtures/logs/recorded/memhp-6.1-virtio-mem-cycle.log")
TEXT = """
name = "v"
[machine]
cpus = 2
maxmem = "5G"
nodes = [{ memory = "1G", cpus = [0] }, { memory = "1G", cpus = [1] }]
[[virtio_mem]]
id = "vm0"
node = 1
size = "2G"
[[actions]]
id = "plug-1g"
do = "virtio_mem_resize"
device = "vm0"
requested_size = "1G"
zones = { Movable = "1G" }
[[actions]]
id = "unplug-to-0"
do = "virtio_mem_resize"
device = "vm0"
requested_size = "0"
zones = {}
"""
SCENARIO = parse_scenario(tomllib.loads(TEXT))


def _plugged(zones: dict[str, int]) -> ActionResult:
    result = ActionResult("plug-1g", "virtio_mem_resize", "success", True, "")
    result.virtio_mem = ResizeOutcome("vm0", 1 << 30, 0, 1 << 30, (1 << 30,), zones, ())
    return result


def _checks(actions: list[ActionResult], scenario: Scenario = SCENARIO) -> dict[str, tuple[str, str, bool]]:
    result = RunResult(scenario.name, "debian:6.1")
    evaluate(result, scenario, compute_layout(scenario), LOG, actions)
    return {c.name: (c.expected, c.observed, c.ok) for c in result.checks}


def test_the_device_is_where_the_layout_put_it_and_its_zones_are_checked() -> None:
    checks = _checks([_plugged({"Movable": 1 << 30})])
    assert checks["virtio-mem vm0 where the layout put it"] == (
        "start 0x100000000, size 0x80000000, nid 1", "start 0x100000000, size 0x80000000, nid 1", True)
    assert checks["virtio-mem vm0 zones after plug-1g"] == ("Movable 0x40000000", "Movable 0x40000000", True)
    # the unplug's stated zones: none online; it did not run here
    assert checks["virtio-mem vm0 zones after unplug-to-0"] == ("no online block", "not run", False)


def test_blocks_in_another_zone_fail_the_check() -> None:
    checks = _checks([_plugged({"Normal": 1 << 30})])
    assert checks["virtio-mem vm0 zones after plug-1g"][1:] == ("Normal 0x40000000", False)


def test_a_device_the_driver_did_not_describe_there_fails() -> None:
    # A coldplugged DIMM first moves the device to 0x140000000, where the log has no driver.
    moved = parse_scenario(tomllib.loads(TEXT.replace("[[virtio_mem]]", '[[dimms]]\nid = "d"\nsize = "1G"\n'
                                                      'node = 1\nat_boot = true\n\n[[virtio_mem]]')))
    checks = _checks([], moved)
    assert checks["virtio-mem vm0 where the layout put it"][1:] == (
        "no 'virtio_mem virtio*: start address' line at that address", False)
