"""Scenario → QEMU command line, as data: every argument comes from the scenario or a profile."""
from __future__ import annotations

from pathlib import Path

from harness.qemu.accel import QEMU_BINARY, TCG, Accel
from harness.qemu.devices import dimm_args
from harness.qemu.machine import Channels
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.layout import compute_layout
from harness.scenario.schema import Scenario, SratSource
from harness.units import format_size


def _opt(path: Path) -> str:
    """A path inside a QEMU option string, where a comma must be doubled."""
    return str(path).replace(",", ",,")


def build_command(
    scenario: Scenario,
    kernel: Path,
    initrd: Path,
    channels: Channels,
    accel: Accel = TCG,
    qemu: str = QEMU_BINARY,
) -> list[str]:
    m = scenario.machine
    mem = f"{format_size(m.ram_size)}"
    if m.maxmem is not None and m.maxmem > m.ram_size:
        mem += f",slots={m.slots},maxmem={format_size(m.maxmem)}"
    argv = [
        qemu, "-M", m.type, "-accel", accel.name, "-cpu", accel.cpu,
        "-smp", str(m.cpus), "-m", mem,
        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
        "-no-reboot", "-S",
    ]
    for index, node in enumerate(m.nodes):
        argv += ["-object", f"memory-backend-ram,id=ram-node{index},size={node.memory}"]
        spec = f"node,nodeid={index},memdev=ram-node{index}"
        for cpu in node.cpus:
            spec += f",cpus={cpu}"
        argv += ["-numa", spec]
    if scenario.slit is not None and scenario.slit.source is SratSource.QEMU:
        for src, row in enumerate(scenario.slit.distances):
            argv += [arg for dst, val in enumerate(row) if dst != src
                     for arg in ("-numa", f"dist,src={src},dst={dst},val={val}")]
    layout = compute_layout(scenario)
    for dimm in scenario.dimms:
        if dimm.coldplugged:
            backend, device = dimm_args(dimm, layout)
            argv += ["-object", f"memory-backend-ram,id={backend['id']},size={dimm.size}"]
            argv += ["-device", "pc-dimm," + ",".join(f"{k}={v}" for k, v in device.items()
                                                      if k != "driver")]
    argv += [
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", kernel_cmdline(scenario, layout),
        "-chardev", f"file,id=console,path={_opt(channels.console_log)}",
        "-serial", "chardev:console",
        "-chardev", f"socket,id=agent,path={_opt(channels.agent)}",
        "-serial", "chardev:agent",
        "-chardev", f"socket,id=qmp,path={_opt(channels.qmp)}",
        "-mon", "chardev=qmp,mode=control",
    ]
    return argv
