"""Scenario → QEMU command line, as data: every argument comes from the scenario or a profile."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .scenario import Dimm, Scenario, SratSource
from .units import format_size

QEMU_BINARY = "qemu-system-x86_64"

# Always on: the memblock trace is the record (x86 discards memblock after boot), and it
# overruns the default 128 KiB log buffer; panic=-1 with -no-reboot turns a panic into a
# QEMU exit the harness sees at once.
BASE_CMDLINE = ("console=ttyS0,115200", "memblock=debug", "log_buf_len=16M", "loglevel=8",
                "panic=-1", "rdinit=/init")


@dataclass(frozen=True)
class Channels:
    """Where the guest talks: the agent and QMP are unix sockets in the run's private (0700)
    directory that QEMU connects to; the console goes straight to a file, because QEMU
    drops serial output when a socket reader falls behind (seen under load)."""

    console_log: Path
    agent: Path
    qmp: Path


@dataclass(frozen=True)
class Accel:
    name: str  # "tcg" or "kvm"
    cpu: str   # "-cpu host" aborts here (MSR 0x10a), so KVM uses "max" too unless probed


TCG = Accel("tcg", "max")


def _opt(path: Path) -> str:
    """A path inside a QEMU option string, where a comma must be doubled."""
    return str(path).replace(",", ",,")


def kernel_cmdline(scenario: Scenario) -> str:
    parts = list(BASE_CMDLINE)
    if scenario.kernel.nokaslr:
        parts.append("nokaslr")
    parts.extend(scenario.kernel.cmdline.split())
    return " ".join(parts)


def dimm_backend_id(dimm: Dimm) -> str:
    return f"mem-{dimm.id}"


def dimm_args(dimm: Dimm) -> tuple[dict[str, object], dict[str, object]]:
    """The QMP ``object-add`` and ``device_add`` arguments for a DIMM (also used at boot)."""
    backend = {"qom-type": "memory-backend-ram", "id": dimm_backend_id(dimm), "size": dimm.size}
    device = {"driver": "pc-dimm", "id": dimm.id, "memdev": dimm_backend_id(dimm), "node": dimm.node}
    return backend, device


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
    for dimm in scenario.dimms:
        if dimm.at_boot:
            backend, device = dimm_args(dimm)
            argv += ["-object", f"memory-backend-ram,id={backend['id']},size={dimm.size}"]
            argv += ["-device", f"pc-dimm,id={dimm.id},memdev={device['memdev']},node={dimm.node}"]
    argv += [
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", kernel_cmdline(scenario),
        "-chardev", f"file,id=console,path={_opt(channels.console_log)}",
        "-serial", "chardev:console",
        "-chardev", f"socket,id=agent,path={_opt(channels.agent)}",
        "-serial", "chardev:agent",
        "-chardev", f"socket,id=qmp,path={_opt(channels.qmp)}",
        "-mon", "chardev=qmp,mode=control",
    ]
    return argv
