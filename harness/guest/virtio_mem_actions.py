"""virtio-mem actions on a live guest: resize a device and wait for the driver, pin slab.

A resize is ``qom-set`` of ``requested-size``; the guest's driver (drivers/virtio/virtio_mem.c)
plugs or unplugs device blocks and QEMU's ``size`` follows, announced by
``MEMORY_DEVICE_SIZE_CHANGE``. An unplug the driver cannot finish (-EBUSY from
virtio_mem_sbm_unplug_request) is retried only after VIRTIO_MEM_RETRY_TIMER_MIN_MS
(50 s): the size stays where it stopped, and the action ends at its timeout with how
far it got and the memory blocks that still hold plugged memory.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import GuestError
from harness.guest.state import MemoryBlock, parse_pageflags
from harness.guest.vm import GuestVM
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import SlabPin, VirtioMemResize

HELD_BLOCKS_FLAGGED = 2  # page flags of the first blocks that hold an unplug
# Reading a block's 32768 kpageflags entries takes the guest's awk 15-40 s under TCG on a
# loaded machine: more than an agent call's default 30 s.
PAGEFLAGS_TIMEOUT = 180.0
QOM = "/machine/peripheral/{}"
PAGE = 4096
SETTLE_READS = 15  # at most this many extra one-second reads of the device's blocks


@dataclass(frozen=True)
class HeldBlock:
    """A memory block of the device still online after the resize, and what is in it."""

    block: int
    start: int
    zone: str
    slab: int | None = None  # pages with KPF_SLAB, from /proc/kpageflags
    reserved: int | None = None


@dataclass(frozen=True)
class ResizeOutcome:
    device: str
    requested_size: int
    size_before: int
    size: int  # QEMU's plugged size when the action ended
    size_changes: tuple[int, ...]  # every MEMORY_DEVICE_SIZE_CHANGE, in order
    zones: dict[str, int]  # bytes of the device's online memory blocks per zone
    held: tuple[HeldBlock, ...]  # online blocks left when an unplug stopped short

    @property
    def reached(self) -> bool:
        return self.size == self.requested_size

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plugged_size(vm: GuestVM, device: str) -> int:
    return int(vm.qmp.command("qom-get", path=QOM.format(device), property="size"))


def _wait_size(vm: GuestVM, device: str, target: int, timeout: float) -> tuple[int, list[int]]:
    """QEMU's plugged size polled until it is ``target`` or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    changes: list[int] = []
    size = plugged_size(vm, device)
    while size != target and time.monotonic() < deadline:
        for event in vm.qmp.take_events(wait=1.0):
            if event.get("event") == "MEMORY_DEVICE_SIZE_CHANGE":
                changes.append(int(event["data"]["size"]))
        size = plugged_size(vm, device)
    for event in vm.qmp.take_events():
        if event.get("event") == "MEMORY_DEVICE_SIZE_CHANGE":
            changes.append(int(event["data"]["size"]))
    return size, changes


def _settled_blocks(vm: GuestVM, start: int, end: int) -> tuple[MemoryBlock, ...]:
    """The device's memory blocks once two reads a second apart agree: the driver adds
    a block after plugging into it and removes one after unplugging it, so the guest's
    view trails QEMU's size (virtio_mem_sbm_plug_and_add_mb, virtio_mem_sbm_offline_and_remove_mb)."""
    blocks = vm.blocks_in(start, end)
    for _ in range(SETTLE_READS):
        time.sleep(1.0)
        again = vm.blocks_in(start, end)
        if again == blocks:
            break
        blocks = again
    return blocks


def zone_bytes(blocks: tuple[MemoryBlock, ...], block_size: int) -> dict[str, int]:
    """Online blocks by zone: for an online block valid_zones names the zone it is in
    (drivers/base/memory.c:valid_zones_show)."""
    out: dict[str, int] = {}
    for block in blocks:
        if block.state == "online" and block.valid_zones:
            out[block.valid_zones[0]] = out.get(block.valid_zones[0], 0) + block_size
    return out


def _held(vm: GuestVM, blocks: tuple[MemoryBlock, ...]) -> tuple[HeldBlock, ...]:
    size = vm.block_size
    out = []
    for index, block in enumerate(b for b in blocks if b.state == "online"):
        zone = block.valid_zones[0] if block.valid_zones else "?"
        if index >= HELD_BLOCKS_FLAGGED:
            out.append(HeldBlock(block.index, block.start(size), zone))
            continue
        pages = size // PAGE
        reply = vm.call("pageflags", block.index * pages, pages, timeout=PAGEFLAGS_TIMEOUT)
        try:
            flags = parse_pageflags(block.index, reply.lines) if reply.ok else None
        except GuestError:  # evidence is optional; the size left is the result
            flags = None
        if flags is None:
            out.append(HeldBlock(block.index, block.start(size), zone))
            continue
        out.append(HeldBlock(block.index, block.start(size), zone, flags.slab, flags.reserved))
    return tuple(out)


def resize(vm: GuestVM, layout: MemoryLayout, action: VirtioMemResize) -> ResizeOutcome:
    region = layout.virtio_mem_region(action.device)
    before = plugged_size(vm, action.device)
    vm.qmp.take_events()
    vm.qmp.command("qom-set", path=QOM.format(action.device), property="requested-size",
                   value=action.requested_size)
    size, changes = _wait_size(vm, action.device, action.requested_size, action.timeout)
    blocks = _settled_blocks(vm, region.start, region.end)
    stopped_short = size > action.requested_size
    return ResizeOutcome(action.device, action.requested_size, before, size, tuple(changes),
                         zone_bytes(blocks, vm.block_size),
                         _held(vm, blocks) if stopped_short else ())


def resize_words(outcome: ResizeOutcome) -> str:
    """``plugged 0x40000000 -> 0x8000000 of 0x0 asked; Normal 0x40000000; held by …``."""
    words = (f"plugged {outcome.size_before:#x} -> {outcome.size:#x} "
             f"({'reached' if outcome.reached else 'stopped short of'} {outcome.requested_size:#x})")
    zones = ", ".join(f"{zone} {size:#x}" for zone, size in sorted(outcome.zones.items()))
    words += f"; online blocks: {zones or 'none'}"
    if outcome.held:
        words += "; held by " + ", ".join(
            f"memory{h.block} ({h.zone}" + (f", {h.slab} slab pages" if h.slab is not None else "")
            + (f", {h.reserved} reserved" if h.reserved else "") + ")" for h in outcome.held)
    return words


def slab_pin(vm: GuestVM, action: SlabPin) -> tuple[bool, str]:
    if action.node is not None:  # a CXL node: no CPU of its own, a bound memory policy
        reply, where = vm.call("slabpinnode", action.node, action.files, timeout=action.timeout), f"bound to node {action.node}"
    else:
        reply, where = vm.call("slabpin", action.cpu, action.files, timeout=action.timeout), f"on cpu {action.cpu}"
    said = "; ".join(" ".join(line.split()) for line in reply.lines)
    if not reply.ok:
        return False, reply.text or f"exit status {reply.status}"
    return True, f"{action.files} files made {where}; {said}"
