"""CXL scenarios without a boot: the schema's refusals, the window where QEMU 10 puts it
(the hand-measured boot: ``/proc/iomem`` 350000000-44fffffff : CXL Window 0, node 1),
the command line, the agent's region reply, and the zone the online policy gives it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.analysis.simulate import simulate
from harness.errors import BadInputError
from harness.guest.actions import ActionResult
from harness.guest.cxl_actions import CxlOutcome, parse_region
from acpi_tables.srat import MemoryAffinity
from harness.logparse import BootLog
from harness.logparse.acpi import SratMemoryLine
from harness.memblock.numa import SratMemory
from harness.qemu.cmdline import build_command
from harness.qemu.devices import qemu_needs
from harness.qemu.facts import Need
from harness.qemu.machine import Channels
from harness.run import checks_cxl
from harness.run.runner import check_cxl_kernel
from harness.run.verdict import RunResult
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario, parse_scenario
from harness.scenario.tables import build_srat

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
MOVABLE = SCENARIOS / "one-node-cxl-movable.toml"


def _scenario(**cxl: Any) -> dict[str, Any]:
    return {"name": "t", "machine": {"type": "q35", "maxmem": "8G", "slots": 2,
                                     "nodes": [{"memory": "1G", "cpus": [0]}]},
            "cxl": [{"id": "c0", "size": "256M", **cxl}]}


def test_window_and_node_are_where_qemu_10_put_them_by_hand() -> None:
    # 1G RAM, maxmem 8G, 2 slots: device memory [4G, 4G+9G), the host registers 256 MiB
    # after it, the 4 GiB window at 0x350000000 (hw/i386/pc.c pc_memory_init).
    layout = compute_layout(load_scenario(MOVABLE))
    (win,) = layout.cxl
    assert (win.start, win.end, win.node, win.window) == (0x350000000, 0x450000000, 1, 0)
    # The 64-bit PCI hole after it, 1 GiB aligned: the guest's "root bus resource
    # [mem 0x480000000-0xc7fffffff window]" (32 GiB on q35).
    assert layout.address_space_end == 0x480000000 + (32 << 30)


def test_command_line_has_cxl_machine_bridge_port_type3_window_and_no_hypervisor_bit() -> None:
    scenario = load_scenario(MOVABLE)
    socks = Channels(Path("/o/console.log"), Path("/p/a.sock"), Path("/p/q.sock"))
    line = " ".join(build_command(scenario, Path("/k/bzImage"), Path("/o/initrd"), socks))
    assert "-M q35,cxl=on" in line and "-cpu max,-hypervisor" in line
    assert "memory-backend-ram,id=cxl-mem-cxl-vmem0,share=on,size=268435456" in line
    assert "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl-hb0" in line
    assert "cxl-rp,port=0,bus=cxl-hb0,id=cxl-rp0,chassis=0,slot=2" in line
    assert "cxl-type3,bus=cxl-rp0,volatile-memdev=cxl-mem-cxl-vmem0,id=cxl-vmem0" in line
    assert "cxl-fmw.0.targets.0=cxl-hb0,cxl-fmw.0.size=4294967296,cxl-fmw.0.interleave-granularity=256" in line


def test_a_qemu_without_volatile_type3_memory_cannot_run_it() -> None:
    scenario = load_scenario(MOVABLE)
    needs = qemu_needs(scenario, compute_layout(scenario))
    assert Need("cxl-type3", "volatile-memdev") in needs and Need("machine", "q35") in needs


def test_non_cxl_scenarios_stay_off_cxl() -> None:
    scenario = load_scenario(SCENARIOS / "two-node-dimms.toml")
    socks = Channels(Path("/o/console.log"), Path("/p/a.sock"), Path("/p/q.sock"))
    argv = build_command(scenario, Path("/k/bzImage"), Path("/o/initrd"), socks)
    assert "cxl" not in " ".join(argv) and "-hypervisor" not in " ".join(argv)


@pytest.mark.parametrize(("change", "words"), [
    ({"machine_type": "pc"}, "cxl devices need machine.type = \"q35\""),
    ({"size": "384M"}, "not a multiple of 256 MiB"),
    ({"window": "128M"}, "window 0x8000000 is not a multiple of 256 MiB"),
    ({"interleave_granularity": 300}, "interleave_granularity 300"),
    ({"action": {"id": "a", "do": "cxl_region", "device": "nope"}}, "no cxl device 'nope'"),
    ({"action": {"id": "a", "do": "slab_pin", "node": 2, "files": 1}}, "node 2: the guest has nodes 0-1"),
    ({"action": {"id": "a", "do": "slab_pin", "node": 1, "cpu": 0, "files": 1}}, "exactly one of cpu and node"),
    ({"srat_hotplug": True, "srat_source": "qemu"}, "cxl c0: srat_hotplug needs srat.source = \"override\""),
])
def test_mistakes_are_one_line_naming_the_field(change: dict[str, Any], words: str) -> None:
    data = _scenario()
    if "machine_type" in change:
        data["machine"]["type"] = change["machine_type"]
    elif "action" in change:
        data["actions"] = [change["action"]]
    elif "srat_source" in change:
        data["srat"] = {"source": change.pop("srat_source")}
        data["cxl"][0].update(change)
    else:
        data["cxl"][0].update(change)
    with pytest.raises(BadInputError) as err:
        parse_scenario(data, "x.toml")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_region_reply_parses() -> None:
    lines = ("region region0 start 0x350000000 size 0x10000000 endpoint decoder2.0",
             "dax dax0.0 driver kmem")
    assert parse_region(lines) == {"region": "region0", "start": "0x350000000", "size": "0x10000000",
                                   "endpoint": "decoder2.0", "dax": "dax0.0", "dax_driver": "kmem"}


@pytest.mark.parametrize(("name", "zone"), [
    ("one-node-cxl-movable", "Movable"),        # online_movable by memhp
    ("one-node-cxl-slab-refused", "Normal"),    # online_kernel
    ("one-node-cxl-auto-online", "Normal"),     # auto-movable, NUMA-aware: no kernel memory on node 1
    ("one-node-cxl-srat-hotplug", "Movable"),   # auto-online under movable_node
])
def test_model_predicts_each_region_zone(name: str, zone: str) -> None:
    (predicted,) = simulate(load_scenario(SCENARIOS / f"{name}.toml"), "debian:6.12").cxl
    assert (predicted.node, predicted.zone) == (1, zone)


def test_auto_movable_without_numa_awareness_would_go_movable() -> None:
    """The control of the auto-online scenario: only the per-node check keeps it Normal."""
    scenario = load_scenario(SCENARIOS / "one-node-cxl-auto-online.toml")
    (predicted,) = simulate(scenario, "debian:6.12", "memory_hotplug.auto_movable_numa_aware=0").cxl
    assert predicted.zone == "Movable"


def _region_result(start: str, node: int, zone: str) -> ActionResult:
    """A cxl_region's record as the 6.12 boot of one-node-cxl-movable wrote it."""
    seen = CxlOutcome("cxl-vmem0", 1, (0x350000000, 0x450000000),
                      region={"region": "region0", "start": start, "size": "0x10000000",
                              "endpoint": "decoder2.0", "dax": "dax0.0", "dax_driver": "kmem"},
                      blocks=[f"memory106 online {zone}", f"memory107 online {zone}"], zone=zone,
                      guest_node=node)
    return ActionResult("region", "cxl_region", "success", True, "", cxl=seen)


@pytest.mark.parametrize(("start", "node", "zone", "failed"), [
    ("0x350000000", 1, "Movable", set()),
    ("0x360000000", 1, "Movable", {"CXL cxl-vmem0 region where the layout put its window"}),
    ("0x350000000", 0, "Movable", {"CXL cxl-vmem0 region where the layout put its window"}),
    ("0x350000000", 1, "Normal", {"CXL cxl-vmem0 memory onlined to"}),
])
def test_region_checks_tell_place_node_and_zone_apart(start: str, node: int, zone: str, failed: set[str]) -> None:
    scenario = load_scenario(MOVABLE)
    result = RunResult("s", "k")
    checks_cxl.evaluate(result, scenario, compute_layout(scenario), BootLog("test"), [_region_result(start, node, zone)])
    assert len(result.checks) == 2 and {c.name for c in result.checks if not c.ok} == failed


@pytest.mark.parametrize(("online_type", "pin", "expected"), [
    # ZONE_MOVABLE: offline, then teardown and device_del follow
    ("online_movable", False, ["success", "success", "success", "success"]),
    # ZONE_NORMAL with slab bound there: refused, so memhp refuses the teardown; a device_del
    # with the region up is not modelled
    ("online_kernel", True, ["success", "failure", "failure", "uncertain"]),
    # ZONE_NORMAL without a pin: whatever the kernel put there decides
    ("online_kernel", False, ["success", "uncertain", "uncertain", "uncertain"]),
])
def test_model_outcomes_follow_the_zone_and_the_pin(online_type: str, pin: bool, expected: list[str]) -> None:
    actions: list[dict[str, Any]] = [{"id": "region", "do": "cxl_region", "device": "c0", "online_type": online_type}]
    if pin:
        actions.append({"id": "pin", "do": "slab_pin", "node": 1, "files": 10})
    actions += [{"id": i, "do": f"cxl_{i}", "device": "c0"} for i in ("offline", "teardown", "remove")]
    data = _scenario()
    data["actions"] = actions
    predicted = {a.id: a.outcome for a in simulate(parse_scenario(data, "x.toml"), "debian:6.12").actions}
    assert [predicted[i] for i in ("region", "offline", "teardown", "remove")] == expected


def test_a_window_the_srat_describes_is_its_node_s_range_in_the_override() -> None:
    """srat_hotplug: the override gets a memory affinity over the whole window in the next
    proximity domain, hotpluggable as asked; unset, the SRAT says nothing of it."""
    scenario = load_scenario(SCENARIOS / "one-node-cxl-srat-hotplug.toml")
    layout = compute_layout(scenario)
    (win,) = layout.cxl
    assert layout.ranges_of(1) == (SratMemory(node=1, pxm=1, start=win.start, end=win.end, hotplug=True),)
    entries = [e for e in build_srat(scenario, layout).subtables if isinstance(e, MemoryAffinity)]
    assert [(e.proximity_domain, e.base_address, e.length, e.hot_pluggable) for e in entries
            if e.base_address == win.start] == \
        [(1, 0x350000000, 4 << 30, True)]
    assert not compute_layout(load_scenario(MOVABLE)).ranges_of(1)
    pxm = parse_scenario(dict(_scenario(srat_hotplug=False), srat={"pxm": [4]}), "x.toml")
    assert compute_layout(pxm).ranges_of(1)[0].pxm == 5


@pytest.mark.parametrize(("line", "ok"), [
    ((1, 1, 0x350000000, 0x450000000, True), True),
    ((1, 1, 0x350000000, 0x450000000, False), False),  # the mark lost
    ((2, 2, 0x350000000, 0x450000000, True), False),   # another node
    (None, False),                                     # the override did not take
])
def test_the_window_s_srat_line_is_checked_as_the_kernel_printed_it(line: tuple[int, int, int, int, bool] | None,
                                                                    ok: bool) -> None:
    scenario = load_scenario(SCENARIOS / "one-node-cxl-srat-hotplug.toml")
    srat = () if line is None else (SratMemoryLine(node=line[0], pxm=line[1], start=line[2], end=line[3],
                                                   hotplug=line[4], line=40),)
    result = RunResult("s", "k")
    checks_cxl.evaluate(result, scenario, compute_layout(scenario), BootLog("test", srat_memory=srat), [])
    (check,) = [c for c in result.checks if "window in the SRAT" in c.name]
    assert check.expected == "node 1 PXM 1 [mem 0x350000000-0x44fffffff] hotplug" and check.ok is ok


def test_a_kernel_without_cxl_ram_regions_is_refused_before_the_boot() -> None:
    """6.1's region.c has no create_ram_region (6.3): one line naming the file and why."""
    with pytest.raises(BadInputError) as err:
        check_cxl_kernel("6.1.0-57-amd64", "s.toml")
    assert str(err.value).startswith("s.toml: cxl: kernel 6.1.0-57-amd64 cannot create a CXL RAM region")
    for release in ("6.12.118+deb12-amd64", "6.18.15+deb13-amd64", "7.3.4+deb13-amd64"):
        check_cxl_kernel(release, "s.toml")
