"""CXL memory on a live guest: a region's lifecycle through sysfs (the agent's cxl* verbs),
its blocks' zones, data bound to its node, and device_del judged without DEVICE_DELETED.

drivers/cxl/core/region.c lets a region be unbound and uncommitted while kmem's memory is
still online (after a refused offline); the guest then dies. memhp therefore refuses a
teardown itself while any block of the window is online: the panic is never triggered.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.guest.state import MemoryBlock
from harness.guest.vm import GuestVM
from harness.qemu.qmp import UnplugOutcome
from harness.scenario.layout import CxlPlacement, MemoryLayout
from harness.scenario.schema import CxlAction, Scenario

# What /sys/bus/cxl/devices shows for a type-3 device (drivers/cxl/core/memdev.c "mem%d").
MEMDEV_PREFIX = "mem"
SETTLE_SECONDS = 5.0  # pciehp's "will power off in 5 sec" before the slot goes


@dataclass
class CxlOutcome:
    """What one CXL action saw: the region, its blocks (``index state zone``), the data
    bound to the node, and for device_del where the device still is."""

    device: str
    node: int
    window: tuple[int, int]
    region: dict[str, str] = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)
    zone: str = ""
    guest_node: int | None = None  # the node of the region's memory blocks, as sysfs links them
    data_md5: tuple[str, ...] = ()
    present: dict[str, bool] = field(default_factory=dict)  # cxl_remove: {"qemu": …, "guest": …}
    # Host seconds of each step (region: create→bound, blocks: kmem's blocks seen and
    # onlined, fill: the node's data written): the figures the hand notes gave.
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def placement(scenario: Scenario, layout: MemoryLayout, action: CxlAction) -> tuple[int, CxlPlacement]:
    """The device's index (its memdev ``mem<index>``: QEMU enumerates the host bridges in
    command-line order) and its window."""
    index = [d.id for d in scenario.cxl].index(action.device)
    return index, layout.cxl_window(action.device)


def outcome(scenario: Scenario, layout: MemoryLayout, action: CxlAction) -> CxlOutcome:
    _, win = placement(scenario, layout, action)
    return CxlOutcome(action.device, win.node, (win.start, win.end))


def block_words(blocks: tuple[MemoryBlock, ...]) -> list[str]:
    """``memory106 online Movable``: each block's state and, online, its zone."""
    return [f"memory{b.index} {b.state}" + (f" {b.valid_zones[0]}" if b.state == "online" and b.valid_zones
                                             else "") for b in blocks]


def parse_region(lines: tuple[str, ...]) -> dict[str, str]:
    """``region region0 start 0x350000000 size 0x10000000 endpoint decoder2.0`` and
    ``dax dax0.0 driver kmem`` → one dictionary."""
    out: dict[str, str] = {}
    for line in lines:
        words = line.split()
        if words[:1] == ["region"] and len(words) % 2 == 0:
            out.update(zip(words[::2], words[1::2]))
        elif words[:1] == ["dax"] and len(words) == 4:
            out["dax"], out["dax_driver"] = words[1], words[3]
    return out


def create_region(vm: GuestVM, index: int, window: int, timeout: float) -> tuple[bool, str, dict[str, str]]:
    reply = vm.call("cxlregion", window, index, timeout=timeout)
    region = parse_region(reply.lines)
    if not reply.ok or "region" not in region:
        return False, reply.text or f"cxlregion exit status {reply.status}", region
    return True, "", region


def fill(vm: GuestVM, node: int, mib: int, timeout: float) -> str | None:
    """``mib`` MiB of random data in a tmpfs bound to ``node``; its md5, None if refused."""
    reply = vm.call("cxlfill", node, mib, timeout=timeout)
    return reply.lines[-1].split()[0] if reply.ok and reply.lines else None


def data_sum(vm: GuestVM, node: int, timeout: float) -> str | None:
    reply = vm.call("cxlsum", node, timeout=timeout)
    return reply.lines[-1].split()[0] if reply.ok and reply.lines else None


def teardown(vm: GuestVM, index: int, window: int, region: str, timeout: float) -> tuple[bool, str]:
    reply = vm.call("cxldown", window, index, region, timeout=timeout)
    return reply.ok, reply.text or ("" if reply.ok else f"cxldown exit status {reply.status}")


def region_of(vm: GuestVM, window: int) -> str | None:
    """The region under root decoder decoder0.``window`` (a region is its child device)."""
    res = vm.run(["ls", f"/sys/bus/cxl/devices/decoder0.{window}"], timeout=30.0)
    names = [n for n in res.stdout.decode(errors="replace").split() if n.startswith("region")]
    return names[0] if names else None


def _in_qemu(vm: GuestVM, device: str) -> bool:
    return device in {str(p.get("name")) for p in vm.qmp.command("qom-list", path="/machine/peripheral")}


def remove(vm: GuestVM, device: str, index: int, timeout: float) -> tuple[UnplugOutcome, dict[str, bool]]:
    """device_del, then where the device still is: in QEMU's /machine/peripheral and as the
    guest's memdev. QEMU 10.0 sends no DEVICE_DELETED for a cxl-type3 even when pciehp
    powered the slot off and the device left QEMU's tree (hw/core/qdev.c sends it from
    device_finalize, and the unparented device is never finalized): the wait ends when it
    leaves the tree, and both places are read."""
    unplug = vm.qmp.device_del(device, timeout, gone=lambda: not _in_qemu(vm, device))
    in_qemu = _in_qemu(vm, device)
    if in_qemu and not unplug.deleted:
        time.sleep(SETTLE_SECONDS)
        in_qemu = _in_qemu(vm, device)
    listing = vm.run(["ls", "/sys/bus/cxl/devices"], timeout=30.0).stdout.decode(errors="replace").split()
    return unplug, {"qemu": in_qemu, "guest": f"{MEMDEV_PREFIX}{index}" in listing}
