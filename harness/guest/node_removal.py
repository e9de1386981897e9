"""Whole-node removal on a live guest: its CPUs (ACPI CPU hot-unplug), then (in actions.py)
its DIMMs, then the node's absence from sysfs and the guest's health afterwards."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.guest.state import NodeStates
from harness.guest.vm import GuestVM
from harness.qemu.qmp import UnplugOutcome

ALLOC_MIB = 32  # a short allocation workload: big enough to need fresh pages, quick under TCG


@dataclass(frozen=True)
class CpuRemoval:
    """One CPU's unplug: QEMU's socket and QOM path, QEMU's events, and the guest CPUs that
    stopped being online (kernel drivers/acpi/acpi_processor.c acpi_processor_remove)."""

    socket: int
    qom_path: str
    unplug: UnplugOutcome
    gone: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"socket": self.socket, "qom_path": self.qom_path, "unplug": self.unplug.to_json(),
                "guest_cpus_gone": list(self.gone)}


def _online(vm: GuestVM) -> frozenset[int]:
    return frozenset(cpu for cpu, online in vm.cpus().items() if online)


def _node_cpus(vm: GuestVM, node: int) -> list[tuple[int, str]]:
    """(socket-id, qom-path) of the plugged CPUs QEMU places on ``node``."""
    found = []
    for entry in vm.hotpluggable_cpus():
        props = entry.get("props", {})
        if isinstance(props, dict) and props.get("node-id") == node and "qom-path" in entry:
            found.append((int(props.get("socket-id", -1)), str(entry["qom-path"])))
    return sorted(found)


def _wait_cpu_gone(vm: GuestVM, before: frozenset[int], timeout: float) -> tuple[int, ...]:
    deadline = time.monotonic() + timeout
    while True:
        gone = tuple(sorted(before - _online(vm)))
        if gone or time.monotonic() > deadline:
            return gone
        time.sleep(0.5)


def remove_cpus(vm: GuestVM, node: int, expected: int,
                timeout: float) -> tuple[list[CpuRemoval], str | None]:
    """Unplug every CPU on ``node``; the second value is why the node keeps one, if it does."""
    plugged = _node_cpus(vm, node)
    if len(plugged) != expected:
        return [], (f"QEMU lists {len(plugged)} plugged CPUs on node {node}, the scenario "
                    f"places {expected}")
    done: list[CpuRemoval] = []
    for socket, path in plugged:
        before = _online(vm)
        unplug = vm.cpu_remove(path, timeout)
        refused = unplug.ost and unplug.ost[-1].status != 0 and not unplug.deleted
        gone = () if refused else _wait_cpu_gone(vm, before, timeout)
        done.append(CpuRemoval(socket, path, unplug, gone))
        if not gone:
            return done, f"CPU socket {socket} ({path}) stays: {unplug.reason}"
    return done, None


def wait_node_gone(vm: GuestVM, node: int, timeout: float) -> NodeStates:
    """mm/memory_hotplug.c:try_offline_node drops the node once its last CPU and memory
    are gone; it runs within the removal itself, the wait only covers sysfs catching up."""
    deadline = time.monotonic() + timeout
    while True:
        states = vm.nodes()
        if not states.holds(node) or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def health(vm: GuestVM, timeout: float) -> str | None:
    """None when the agent answers and a short allocation workload runs, else what failed:
    a process killed after the removal (e.g. ``Segmentation fault``) shows here."""
    if not vm.call("ping", timeout=timeout).ok:
        return "the agent's ping failed"
    reply = vm.alloc(ALLOC_MIB, timeout)
    if not reply.ok:
        return f"allocation workload ({ALLOC_MIB} MiB) failed ({reply.status}): {reply.text}"
    return None
