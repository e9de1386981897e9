"""Scenario actions run against a live guest, each recorded with the kernel's own answer."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from harness.errors import GuestError
from harness.guest import cxl_actions, node_removal, virtio_mem_actions
from harness.guest.agent import GuestGone
from harness.guest.command import CommandRecord
from harness.guest.state import HotplugParams, MemoryBlock, NodeStates, PageFlagSummary, PageFlagsUnread, ZoneInfo
from harness.guest.selftest import run_selftest
from harness.guest.unmovable import run_unmovable
from harness.guest.user_command import user_command
from harness.guest.vm import GuestVM
from harness.logparse.failures import OFFLINE_EVIDENCE, OfflineFailure, OfflineFailureKind, PageHeader
from harness.logparse.reader import ConsoleLine
from harness.qemu.qmp import UnplugOutcome
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import (
    Action,
    BlockRangeAction,
    CxlAction,
    CxlOffline,
    CxlRegion,
    CxlRemove,
    CxlTeardown,
    DimmAdd,
    DimmRemove,
    GuestWrite,
    InjectFault,
    NodeRemove,
    OfflineNode,
    RunCommand,
    Scenario,
    Selftest,
    Unmovable,
    SlabPin,
    VirtioMemResize,
)

EVIDENCE_LINES = 40  # a few page dumps; a flood of them would drown result.json


@dataclass(frozen=True)
class BlockOutcome:
    block: int
    start: int
    ok: bool
    error: str
    pageflags: PageFlagSummary | PageFlagsUnread | None = None  # read after a refusal

    def to_json(self) -> dict[str, Any]:
        return {"block": self.block, "start": self.start, "ok": self.ok, "error": self.error,
                "pageflags": None if self.pageflags is None else dict(self.pageflags.__dict__)}


@dataclass(frozen=True)
class DimmOnlined:
    """A dimm_add's blocks in the guest: their zone (or ``offline``), the hotplug settings
    that chose it, and the zones just after."""

    zone: str
    hotplug_params: HotplugParams
    zoneinfo: tuple[ZoneInfo, ...]


@dataclass(frozen=True)
class DimmSeen:
    """A DIMM action's DIMM where QEMU put it (None: QEMU listed no such DIMM)."""

    id: str
    start: int | None
    end: int | None
    onlined: DimmOnlined | None = None  # dimm_add, once the guest showed its blocks

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "start": self.start, "end": self.end}
        if self.onlined is not None:
            out["onlined"] = {"zone": self.onlined.zone, "hotplug_params": dict(self.onlined.hotplug_params.__dict__),
                              "zoneinfo": [dict(z.__dict__) for z in self.onlined.zoneinfo]}
        return out


@dataclass(frozen=True)
class NodeDimmSeen:
    """A removed node's DIMM: where QEMU had it (None: it listed no such DIMM) and its unplug."""

    dimm: DimmSeen | None
    unplug: UnplugOutcome | None

    @property
    def deleted(self) -> bool:
        return self.unplug is not None and self.unplug.deleted

    def to_json(self) -> dict[str, Any]:
        return dict(self.dimm.to_json() if self.dimm else {},
                    unplug=self.unplug.to_json() if self.unplug else None)


@dataclass
class NodeRemovalSeen:
    """A node_remove action: what went, in which order, where the node still showed, and
    whether the guest still answered and allocated (None: not reached)."""

    node: int
    order: str
    cpus: list[node_removal.CpuRemoval] = field(default_factory=list)
    dimms: list[NodeDimmSeen] = field(default_factory=list)
    states: NodeStates | None = None
    healthy: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node": self.node, "cpus": [c.to_json() for c in self.cpus],
                               "dimms": [d.to_json() for d in self.dimms], "order": self.order}
        if self.states is not None:
            out["states"] = {k: sorted(v) for k, v in self.states.__dict__.items()}
        if self.healthy is not None:
            out["healthy"] = self.healthy
        return out


@dataclass
class ActionResult:
    id: str
    do: str
    expected: str
    succeeded: bool
    reason: str
    seconds: float = 0.0
    blocks: list[BlockOutcome] = field(default_factory=list)
    unplug: UnplugOutcome | None = None
    dimm: DimmSeen | None = None  # DIMM actions
    console_evidence: list[str] = field(default_factory=list)
    # Pages the kernel dumped as unmovable while this action ran (mm/page_isolation.c
    # has_unmovable_pages → dump_page): the pages that made an offline or eject fail.
    unmovable_pfns: list[int] = field(default_factory=list)
    node: NodeRemovalSeen | None = None  # node_remove
    command: CommandRecord | None = None  # run, selftest, unmovable
    virtio_mem: virtio_mem_actions.ResizeOutcome | None = None  # virtio_mem_resize
    cxl: cxl_actions.CxlOutcome | None = None  # cxl_*

    @property
    def matched(self) -> bool:
        return self.succeeded == (self.expected == "success")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "do": self.do, "expected": self.expected,
            "observed": "success" if self.succeeded else "failure", "ok": self.matched,
            "reason": self.reason, "seconds": round(self.seconds, 3),
            "blocks": [b.to_json() for b in self.blocks],
            "unplug": self.unplug.to_json() if self.unplug else None,
            "dimm": self.dimm.to_json() if self.dimm else None,
            "console_evidence": self.console_evidence,
            "unmovable_pfns": self.unmovable_pfns,
            "node": self.node.to_json() if self.node else None,
            "command": self.command.to_json() if self.command else None,
            "virtio_mem": self.virtio_mem.to_json() if self.virtio_mem else None,
            "cxl": self.cxl.to_json() if self.cxl else None,
        }


def console_evidence(lines: tuple[ConsoleLine, ...]) -> list[str]:
    """The console lines, as printed, that explain a refused offline or eject: what the
    logparse failure kinds recognise (failures.OFFLINE_EVIDENCE), the first ones only."""
    found = [line.text for line in lines if any(isinstance(i, OFFLINE_EVIDENCE) for i in line.items)]
    return found[:EVIDENCE_LINES]


def _refused_flags(vm: GuestVM, index: int, block_size: int) -> PageFlagSummary | PageFlagsUnread:
    """Still online after a refusal: the page flags say what pinned the block."""
    try:
        return vm.pageflags(index, block_size)
    except GuestGone:
        raise
    except GuestError as err:  # evidence is optional; the refusal itself is the result
        return PageFlagsUnread(error=str(err))


def _set_blocks(vm: GuestVM, blocks: list[int], state: str, timeout: float,
                block_size: int) -> list[BlockOutcome]:
    out = []
    for index in blocks:
        reply = vm.set_block_state(index, state, timeout)
        flags = None
        if not reply.ok and state == "offline":
            flags = _refused_flags(vm, index, block_size)
        error = reply.text or ("" if reply.ok else f"exit status {reply.status}")
        out.append(BlockOutcome(index, index * block_size, reply.ok, error, flags))
    return out


def _offline_failed(lines: tuple[ConsoleLine, ...]) -> list[int]:
    """``memory memoryN: Offline failed.`` (drivers/acpi/scan.c:acpi_bus_offline, through
    drivers/base/core.c:device_offline): the blocks an eject could not take offline."""
    return sorted({i.block for line in lines for i in line.items if isinstance(i, OfflineFailure)
                   and i.kind is OfflineFailureKind.OFFLINE_FAILED and i.block is not None})


def unmovable_pfns(lines: tuple[ConsoleLine, ...]) -> list[int]:
    """The pfn of every page dump (mm/debug.c:__dump_page), once each, in order."""
    return list(dict.fromkeys(i.pfn for line in lines for i in line.items if isinstance(i, PageHeader)))


def _eject_refusal(vm: GuestVM, lines: tuple[ConsoleLine, ...]) -> list[BlockOutcome]:
    """The blocks the kernel named while refusing an eject, with their page flags (the
    eject re-onlines them, so kpageflags reads the pages that stayed)."""
    size = vm.block_size
    return [BlockOutcome(index, index * size, False, "Offline failed",
                         _refused_flags(vm, index, size)) for index in _offline_failed(lines)]


def _node_boot_blocks(vm: GuestVM, layout: MemoryLayout, node: int) -> list[int]:
    blocks = vm.memory_blocks()
    found = []
    for rng in layout.ranges_of(node):
        found += [b.index for b in blocks if rng.start <= b.start(vm.block_size) < rng.end
                  and b.state == "online"]
    return sorted(set(found))


def _wait_dimm_blocks(vm: GuestVM, start: int, end: int, timeout: float,
                      all_online: bool) -> tuple[MemoryBlock, ...]:
    """The DIMM's blocks once the guest has them, each under its node, every one online
    when the kernel onlines them itself (mm/memory_hotplug.c:add_memory_resource creates
    them all offline, links them under their node, then onlines them one by one), or as
    they are at ``timeout``. One loop for all: a separate wait for the onlining cost a
    whole listing more per DIMM."""
    # The guest adds a new DIMM's blocks within a fraction of a second: look again soon,
    # then less often (a flat 0.5 s cost up to half a second per DIMM).
    deadline, pause = time.monotonic() + timeout, 0.02
    wanted = (end - start) // vm.block_size
    while True:
        blocks = vm.blocks_in(start, end)
        # A block without its node yet has no zones in the listing (the state helper
        # does not read valid_zones then: it oopses in that window).
        done = bool(blocks) and all(b.node is not None for b in blocks) and (
            not all_online or (len(blocks) == wanted and all(b.state == "online" for b in blocks)))
        if done or time.monotonic() > deadline:
            return blocks
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _dimm_range(vm: GuestVM, dimm_id: str) -> tuple[int, int] | None:
    return next((dev.range for dev in vm.memory_devices() if dev.id == dimm_id), None)


def dimm_zone_words(blocks: tuple[MemoryBlock, ...]) -> str:
    """One zone for the DIMM (``Movable``), ``offline``, or its blocks' zones joined by ``+``:
    an online block's valid_zones is its zone (drivers/base/memory.c:valid_zones_show)."""
    zones = sorted({b.valid_zones[0] if b.state == "online" and b.valid_zones else b.state
                    for b in blocks})
    return "+".join(zones) or "no blocks"


def _add_dimm(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, action: DimmAdd,
              result: ActionResult) -> None:
    # Read before the add: the guest's policy for the new blocks, which says whether to
    # wait for them to come online (a guest_setting action may have changed it).
    params = vm.hotplug_params()
    vm.dimm_add(scenario.dimm(action.dimm), layout)
    rng = _dimm_range(vm, action.dimm)
    result.dimm = _dimm_seen(action.dimm, rng)
    blocks = _wait_dimm_blocks(vm, *rng, action.timeout, params.auto_online) if rng else ()
    result.succeeded = bool(blocks)
    result.reason = (f"{len(blocks)} memory blocks appeared at {rng[0]:#x}" if rng and blocks
                     else "the guest shows no memory block for the DIMM")
    if not (rng and blocks):
        return
    result.dimm = replace(result.dimm, onlined=DimmOnlined(dimm_zone_words(blocks), params, vm.zones()))


def _dimm_seen(dimm_id: str, rng: tuple[int, int] | None) -> DimmSeen:
    return DimmSeen(dimm_id, rng[0] if rng else None, rng[1] if rng else None)


def _remove_dimm(vm: GuestVM, scenario: Scenario, dimm_id: str, timeout: float,
                 mark: int, result: ActionResult) -> None:
    rng = _dimm_range(vm, dimm_id)
    result.dimm = _dimm_seen(dimm_id, rng)
    result.unplug = vm.dimm_remove(scenario.dimm(dimm_id), timeout)
    result.succeeded = result.unplug.deleted
    result.reason = result.unplug.reason
    if not result.succeeded:
        result.blocks = _eject_refusal(vm, vm.console.since(mark))
    if result.succeeded and rng and vm.blocks_in(*rng):
        result.succeeded = False
        result.reason = "DEVICE_DELETED but the guest still lists its memory blocks"


def _remove_node_dimms(vm: GuestVM, scenario: Scenario, action: NodeRemove, mark: int,
                       result: ActionResult, node: NodeRemovalSeen) -> str | None:
    for dimm in scenario.node_dimms(action.node):
        _remove_dimm(vm, scenario, dimm.id, action.timeout, mark, result)
        node.dimms.append(NodeDimmSeen(result.dimm, result.unplug))
        if not result.succeeded:
            return f"DIMM {dimm.id} stays: {result.reason}"
    return None


def _remove_node_cpus(vm: GuestVM, scenario: Scenario, action: NodeRemove,
                      node: NodeRemovalSeen) -> str | None:
    cpus, why = node_removal.remove_cpus(vm, action.node,
                                         len(scenario.machine.nodes[action.node].cpus), action.timeout)
    node.cpus = cpus
    return why


def _remove_node(vm: GuestVM, scenario: Scenario, action: NodeRemove, mark: int,
                 result: ActionResult) -> None:
    """The node's DIMMs and CPUs (in the scenario's order), then the node's absence from
    sysfs and the guest's health; the first failure stops and is the reason."""
    node = NodeRemovalSeen(action.node, "cpus first" if action.cpus_first else "dimms first")
    result.node = node
    if action.cpus_first:
        why = (_remove_node_cpus(vm, scenario, action, node)
               or _remove_node_dimms(vm, scenario, action, mark, result, node))
    else:
        why = (_remove_node_dimms(vm, scenario, action, mark, result, node)
               or _remove_node_cpus(vm, scenario, action, node))
    if why is None:
        states = node_removal.wait_node_gone(vm, action.node, action.timeout)
        node.states = states
        if held := states.holds(action.node):
            why = f"node {action.node} is still in {', '.join(held)}"
    if why is None:
        why = node_removal.health(vm, action.timeout)
        node.healthy = why is None
    result.succeeded = why is None
    result.reason = why or (f"node {action.node} removed ({len(node.cpus)} CPUs, "
                            f"{len(node.dimms)} DIMMs); the guest still allocates")


def _cxl_region(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, action: CxlRegion,
                result: ActionResult, seen: cxl_actions.CxlOutcome) -> None:
    """Region up, kmem's blocks onlined as asked (or as the kernel's policy did), data filled."""
    index, win = cxl_actions.placement(scenario, layout, action)
    auto = vm.hotplug_params().auto_online
    began = time.monotonic()
    ok, why, seen.region = cxl_actions.create_region(vm, index, win.window, action.timeout)
    seen.seconds["region"] = round(time.monotonic() - began, 3)
    if not ok:
        result.reason = f"region not created: {why}"
        return
    end = win.start + int(seen.region["size"], 16)
    blocks = _wait_dimm_blocks(vm, win.start, end, action.timeout, auto)
    early = ""
    if action.online_type != "auto":
        offline = [b.index for b in blocks if b.state == "offline"]
        if len(offline) < len(blocks):  # the kernel's auto-online came first: its zone stands
            early = f"; {len(blocks) - len(offline)} blocks already onlined by auto_online_blocks"
        result.blocks = _set_blocks(vm, offline, action.online_type, action.timeout, vm.block_size)
        blocks = vm.blocks_in(win.start, end)
    seen.seconds["blocks"] = round(time.monotonic() - began - seen.seconds["region"], 3)
    seen.blocks, seen.zone = cxl_actions.block_words(blocks), dimm_zone_words(blocks)
    seen.guest_node = next((b.node for b in blocks), None)
    refused = [b for b in result.blocks if not b.ok]
    result.succeeded = bool(blocks) and not refused
    result.reason = (f"{seen.region['region']} bound at {win.start:#x} on node {win.node}, "
                     f"{len(blocks)} blocks: {seen.zone}{early}" if blocks else "kmem added no memory block")
    if refused:
        result.reason += "; " + "; ".join(f"memory{b.block}: {b.error}" for b in refused)
    if result.succeeded and action.fill:
        began = time.monotonic()
        md5 = cxl_actions.fill(vm, win.node, action.fill, action.timeout)
        seen.seconds["fill"] = round(time.monotonic() - began, 3)
        seen.data_md5 = (md5,) if md5 else ()
        result.succeeded = md5 is not None
        result.reason += f"; {action.fill} MiB bound to node {win.node}" + ("" if md5 else ": refused")


def _cxl_offline(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, action: CxlOffline,
                 result: ActionResult, seen: cxl_actions.CxlOutcome) -> None:
    _, win = cxl_actions.placement(scenario, layout, action)
    before = cxl_actions.data_sum(vm, win.node, action.timeout)
    online = [b.index for b in vm.blocks_in(win.start, win.end) if b.state == "online"]
    began = time.monotonic()
    result.blocks = _set_blocks(vm, online, "offline", action.timeout, vm.block_size)
    seen.seconds["offline"] = round(time.monotonic() - began, 3)
    seen.blocks = cxl_actions.block_words(vm.blocks_in(win.start, win.end))
    failed = [b for b in result.blocks if not b.ok]
    result.succeeded = bool(online) and not failed
    result.reason = ("no online block in the window" if not online else
                     "; ".join(f"memory{b.block} ({b.start:#x}): {b.error}" for b in failed)
                     or f"{len(online)} blocks offline")
    if before is not None:
        after = cxl_actions.data_sum(vm, win.node, action.timeout)
        seen.data_md5 = (before, after or "unreadable")
        if after != before:
            result.succeeded = False
            result.reason += f"; data bound to node {win.node} changed: md5 {before} -> {after}"
        else:
            result.reason += "; the node's data read back intact"


def _cxl_teardown(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, action: CxlTeardown,
                  result: ActionResult, seen: cxl_actions.CxlOutcome) -> None:
    index, win = cxl_actions.placement(scenario, layout, action)
    blocks = vm.blocks_in(win.start, win.end)
    seen.blocks = cxl_actions.block_words(blocks)
    if online := [b.index for b in blocks if b.state == "online"]:
        result.reason = (f"not torn down (memhp refuses): memory{online[0]} and {len(online) - 1} more "
                         "still online; sysfs would unbind the region anyway and the guest dies")
        return
    region = cxl_actions.region_of(vm, win.window)
    if region is None:
        result.reason = f"no region under decoder0.{win.window}"
        return
    ok, why = cxl_actions.teardown(vm, index, win.window, region, action.timeout)
    left = vm.blocks_in(win.start, win.end)
    result.succeeded = ok and not left
    result.reason = (f"{region} torn down, its {len(blocks)} blocks removed" if result.succeeded
                     else why or f"{len(left)} blocks still listed")


def _cxl_remove(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, action: CxlRemove,
                result: ActionResult, seen: cxl_actions.CxlOutcome) -> None:
    index, _ = cxl_actions.placement(scenario, layout, action)
    result.unplug, seen.present = cxl_actions.remove(vm, action.device, index, action.timeout)
    gone = not seen.present["qemu"] and not seen.present["guest"]
    result.succeeded = result.unplug.deleted or gone
    where = ", ".join(k for k, v in seen.present.items() if v) or "neither QEMU nor the guest"
    result.reason = (f"{result.unplug.reason}; still in: {where}" if result.unplug.deleted else
                     f"{result.unplug.reason} (QEMU sends none for cxl-type3): judged by presence, "
                     f"still in: {where}")


@dataclass(frozen=True)
class Step:
    """What every action's handler gets besides its action: the guest, the scenario and its
    layout, and the console mark the action began at."""

    vm: GuestVM
    scenario: Scenario
    layout: MemoryLayout
    mark: int


# One handler per action type: (step, action, result) → fills result in.
Handler = Callable[[Step, Any, ActionResult], None]
CxlHandler = Callable[[GuestVM, Scenario, MemoryLayout, Any, ActionResult, cxl_actions.CxlOutcome], None]


def _cxl(handler: CxlHandler) -> Handler:
    """A CXL action's handler, with the outcome every CXL action records (result.cxl)."""
    def run(step: Step, action: CxlAction, result: ActionResult) -> None:
        result.cxl = seen = cxl_actions.outcome(step.scenario, step.layout, action)
        handler(step.vm, step.scenario, step.layout, action, result, seen)
    return run


def _block_states(step: Step, action: OfflineNode | BlockRangeAction, result: ActionResult) -> None:
    vm = step.vm
    block_size = vm.block_size
    if isinstance(action, OfflineNode):
        blocks, state = _node_boot_blocks(vm, step.layout, action.node), "offline"
    else:
        end = action.start + action.size
        blocks = [b.index for b in vm.blocks_in(action.start, end)]
        state = "offline" if action.do == "offline_range" else action.online_type
    result.blocks = _set_blocks(vm, blocks, state, action.timeout, block_size)
    failed = [b for b in result.blocks if not b.ok]
    result.succeeded = bool(blocks) and not failed
    if not blocks:
        result.reason = "no online memory blocks in the range"
    elif failed:
        result.reason = "; ".join(f"memory{b.block} ({b.start:#x}): {b.error}" for b in failed)
    else:
        result.reason = f"{len(blocks)} blocks {state}"


def _guest_setting(step: Step, action: GuestWrite, result: ActionResult) -> None:
    reply = step.vm.call("setting", action.setting, action.value)
    result.succeeded = reply.ok
    result.reason = reply.text or f"{action.setting} = {action.value}"


def _resize(step: Step, action: VirtioMemResize, result: ActionResult) -> None:
    result.virtio_mem = virtio_mem_actions.resize(step.vm, step.layout, action)
    result.succeeded = result.virtio_mem.reached
    result.reason = virtio_mem_actions.resize_words(result.virtio_mem)


def _inject_fault(step: Step, action: InjectFault, result: ActionResult) -> None:
    reply = step.vm.inject_fault(action.fault, action.timeout)
    result.succeeded = reply.ok
    result.reason = f"the guest still answers after {action.fault}"


def _command(run: Callable[[GuestVM, Any], tuple[bool, str, CommandRecord]]) -> Handler:
    def handler(step: Step, action: RunCommand | Selftest | Unmovable, result: ActionResult) -> None:
        result.succeeded, result.reason, result.command = run(step.vm, action)
    return handler


def _slab_pin(step: Step, action: SlabPin, result: ActionResult) -> None:
    result.succeeded, result.reason = virtio_mem_actions.slab_pin(step.vm, action)


# Every action type's handler, by the device kind or guest facility it acts on: a new kind
# of memory device is its own room (its guest mechanics) plus its rows here.
HANDLERS: dict[type, Handler] = {
    # memory blocks, whatever device holds them
    OfflineNode: _block_states, BlockRangeAction: _block_states,
    # pc-dimm (ACPI memory hotplug), and a whole node's DIMMs and CPUs
    DimmAdd: lambda step, a, r: _add_dimm(step.vm, step.scenario, step.layout, a, r),
    DimmRemove: lambda step, a, r: _remove_dimm(step.vm, step.scenario, a.dimm, a.timeout, step.mark, r),
    NodeRemove: lambda step, a, r: _remove_node(step.vm, step.scenario, a, step.mark, r),
    # virtio-mem (harness.guest.virtio_mem_actions)
    VirtioMemResize: _resize, SlabPin: _slab_pin,
    # CXL type-3 (harness.guest.cxl_actions)
    CxlRegion: _cxl(_cxl_region), CxlOffline: _cxl(_cxl_offline),
    CxlTeardown: _cxl(_cxl_teardown), CxlRemove: _cxl(_cxl_remove),
    # the guest itself
    GuestWrite: _guest_setting, InjectFault: _inject_fault,
    RunCommand: _command(user_command), Selftest: _command(run_selftest), Unmovable: _command(run_unmovable),
}


def run_action(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, action: Action) -> ActionResult:
    start = time.monotonic()
    mark = vm.console.mark()
    result = ActionResult(action.id, action.do, action.expect.value, False, "")
    HANDLERS[type(action)](Step(vm, scenario, layout, mark), action, result)
    result.seconds = time.monotonic() - start
    lines = vm.console.since(mark)
    result.console_evidence = console_evidence(lines)
    result.unmovable_pfns = unmovable_pfns(lines)
    return result
