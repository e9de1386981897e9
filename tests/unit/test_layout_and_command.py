"""QEMU's RAM layout and the command line derived from a scenario."""
from __future__ import annotations

from pathlib import Path

from harness.qemu.cmdline import build_command
from harness.qemu.machine import Channels
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


def test_three_node_layout_matches_the_firmware_srat_in_the_recorded_log() -> None:
    # fixtures/logs/qemu-6.1-three-node.log: SRAT lines of QEMU's own table.
    layout = compute_layout(load_scenario(SCENARIOS / "three-node-movable.toml"))
    assert (layout.below_4g, layout.above_4g) == (0xC0000000, 0x40000000)
    assert [(r.start, r.end, r.node) for r in layout.node_ranges] == [
        (0, 0xA0000, 0), (0x100000, 0x80000000, 0), (0x80000000, 0xC0000000, 1),
        (0x100000000, 0x140000000, 2)]
    assert (layout.device_base, layout.device_size) == (0x140000000, 0x200000000)


def test_small_machine_stays_below_4g_without_device_window() -> None:
    layout = compute_layout(load_scenario(SCENARIOS / "two-node-initrd-pinned.toml"))
    assert (layout.below_4g, layout.above_4g, layout.device_size) == (1 << 30, 0, 0)
    assert [r.node for r in layout.node_ranges if r.start <= 0x30000000 < r.end] == [1]


def test_command_line_has_numa_dimms_private_sockets_and_no_tcp() -> None:
    scenario = load_scenario(SCENARIOS / "two-node-dimms.toml")
    socks = Channels(Path("/o/console.log"), Path("/p/a.sock"), Path("/p/q.sock"))
    argv = build_command(scenario, Path("/k/bzImage"), Path("/o/initrd"), socks)
    line = " ".join(argv)
    assert "-m 2G,slots=4,maxmem=4G" in line
    assert "-numa node,nodeid=1,memdev=ram-node1" in line
    assert "pc-dimm,id=cold0,memdev=mem-cold0,node=1" in line and "id=hot0" not in line
    assert "-mon chardev=qmp,mode=control" in line and "tcp" not in line and "telnet" not in line
    assert "file,id=console,path=/o/console.log" in line
    assert "-S" in argv  # paused until the console is recorded


def test_kernel_cmdline_always_traces_memblock_and_adds_scenario_options() -> None:
    scenario = parse_scenario({"name": "t", "machine": {"nodes": [{"memory": "1G"}]},
                               "kernel": {"cmdline": "movable_node", "nokaslr": False}})
    cmdline = kernel_cmdline(scenario).split()
    assert "memblock=debug" in cmdline and "movable_node" in cmdline and "nokaslr" not in cmdline
