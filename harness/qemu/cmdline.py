"""Scenario → QEMU command line, as data: every argument comes from the scenario or a profile."""
from __future__ import annotations

from pathlib import Path

from harness.qemu.accel import TCG, Accel
from harness.qemu.binary import QemuBinary, system_qemu
from harness.qemu.devices import CXL_CPU_FLAGS, command_line, cxl_args, dimm_args, scenario_virtio_mem_args
from harness.qemu.machine import Channels
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.layout import MemoryLayout, compute_layout
from harness.scenario.schema import Scenario, SratSource
from harness.units import format_size


def _opt(path: Path) -> str:
    """A path inside a QEMU option string, where a comma must be doubled."""
    return str(path).replace(",", ",,")


def _smp(scenario: Scenario) -> str:
    m = scenario.machine
    # One CPU per socket: query-hotpluggable-cpus then lists each CPU as its own socket,
    # and device_del of its QOM path unplugs exactly one CPU.
    return f"{m.cpus},sockets={m.cpus},cores=1,threads=1,maxcpus={m.cpus}" if m.cpu_sockets \
        else str(m.cpus)


def _numa_args(scenario: Scenario) -> list[str]:
    """A node without boot RAM gets no memdev (memoryless); CPUs go by ``cpus=`` or, with
    ``cpu_sockets``, by ``-numa cpu,socket-id=`` (QEMU refuses to mix the two)."""
    argv: list[str] = []
    for index, node in enumerate(scenario.machine.nodes):
        spec = f"node,nodeid={index}"
        if node.memory:
            reserve = "" if scenario.machine.reserve else ",reserve=off"
            argv += ["-object", f"memory-backend-ram,id=ram-node{index},size={node.memory}{reserve}"]
            spec += f",memdev=ram-node{index}"
        if not scenario.machine.cpu_sockets:
            spec += "".join(f",cpus={cpu}" for cpu in node.cpus)
        argv += ["-numa", spec]
    if scenario.machine.cpu_sockets:
        argv += [arg for index, node in enumerate(scenario.machine.nodes) for cpu in node.cpus
                 for arg in ("-numa", f"cpu,node-id={index},socket-id={cpu}")]
    return argv


def build_command(
    scenario: Scenario,
    kernel: Path,
    initrd: Path,
    channels: Channels,
    accel: Accel = TCG,
    qemu: QemuBinary | None = None,
    layout: MemoryLayout | None = None,
) -> list[str]:
    """``layout``: the run's (harness.run.runner.plan computes it once); computed here
    only for a caller that has none."""
    m = scenario.machine
    mem = f"{format_size(m.ram_size)}"
    if m.maxmem is not None and m.maxmem > m.ram_size:
        mem += f",slots={m.slots},maxmem={format_size(m.maxmem)}"
    cxl = bool(scenario.cxl)
    argv = [
        *(qemu or system_qemu()).argv(), "-M", f"{m.type},cxl=on" if cxl else m.type,
        "-accel", accel.name, "-cpu", accel.cpu + (CXL_CPU_FLAGS if cxl else ""),
        "-smp", _smp(scenario), "-m", mem,
        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
        "-no-reboot", "-S",
    ]
    argv += _numa_args(scenario)
    if scenario.slit is not None and scenario.slit.source is SratSource.QEMU:
        for src, row in enumerate(scenario.slit.distances):
            argv += [arg for dst, val in enumerate(row) if dst != src
                     for arg in ("-numa", f"dist,src={src},dst={dst},val={val}")]
    layout = layout or compute_layout(scenario)
    for dimm in scenario.dimms:
        if dimm.coldplugged:
            backend, device = dimm_args(dimm, layout)
            argv += ["-object", f"memory-backend-ram,id={backend['id']},size={dimm.size}"]
            argv += ["-device", "pc-dimm," + ",".join(f"{k}={v}" for k, v in device.items()
                                                      if k != "driver")]
    for vmem in scenario.virtio_mem:  # after the coldplugged DIMMs: the layout's order
        argv += command_line(*scenario_virtio_mem_args(vmem, layout))
    for index, cxl_device in enumerate(scenario.cxl):
        argv += cxl_args(cxl_device, index)
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
