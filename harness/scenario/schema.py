"""Scenario files (TOML): the machine, the SRAT to give the kernel, actions and expectations.

A scenario is validated against the pydantic schema below; any mistake becomes one
``BadInputError`` line naming the file and the key, e.g.
``fixtures/scenarios/x.toml: machine.nodes[1].memory: not a size: '1Q'``.
"""
from __future__ import annotations

import enum
import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field, model_validator

from harness.errors import BadInputError
from harness.userinput import SCENARIO, load_toml
from harness.scenario.action_schema import (  # re-exported: scenario users import them from here
    ACTION_TAGS as ACTION_TAGS,
    Action as Action,
    BlockRangeAction as BlockRangeAction,
    DimmAdd as DimmAdd,
    DimmRemove as DimmRemove,
    Expect as Expect,
    GuestWrite as GuestWrite,
    InjectFault as InjectFault,
    NodeRemove as NodeRemove,
    OfflineNode as OfflineNode,
    RunCommand as RunCommand,
    Selftest as Selftest,
    Unmovable as Unmovable,
)
from harness.scenario.action_schema import (
    SlabPin as SlabPin,
)
from harness.scenario.action_schema import (
    VirtioMemResize as VirtioMemResize,
)
from harness.scenario.action_schema import (  # re-exported, as above
    CxlAction as CxlAction,
    CxlOffline as CxlOffline,
    CxlRegion as CxlRegion,
    CxlRemove as CxlRemove,
    CxlTeardown as CxlTeardown,
)
from harness.scenario.cxl_schema import Cxl as Cxl
from harness.scenario.cxl_schema import check_cxl
from harness.scenario.schema_types import MEMORY_BLOCK_SIZE as MEMORY_BLOCK_SIZE
from harness.scenario.schema_types import BlockSize, NodeSize, Size
from harness.scenario.schema_types import Strict as _Strict
from harness.scenario.guest_files import GuestFile, resolve_sources
from harness.scenario.virtio_mem_schema import VirtioMem as VirtioMem
from harness.scenario.virtio_mem_schema import check_virtio_mem, check_virtio_mem_actions


class Node(_Strict):
    """One NUMA node's boot RAM (a ``memory-backend-ram`` + ``-numa node``, none when 0)
    and its CPUs."""

    memory: NodeSize
    cpus: tuple[int, ...] = ()


class Machine(_Strict):
    type: str = "pc"
    cpus: int = Field(1, ge=1, le=64)
    slots: int = Field(4, ge=0, le=256)
    maxmem: Size | None = None
    nodes: tuple[Node, ...] = Field(min_length=1)
    # One CPU per socket, placed with ``-numa cpu``: each can be unplugged by its QOM path.
    cpu_sockets: bool = False
    # QEMU's memory-backend-ram ``reserve``: false maps guest RAM without reserving swap for
    # it, so a full-size field replica larger than the host can boot (only touched pages
    # become resident).
    reserve: bool = True
    # The QEMU this scenario runs on, any ``--qemu`` spec ("debian:10.0"); a ``--qemu`` other
    # than the default wins (harness.qemu.choice).
    qemu: str | None = Field(None, min_length=1)

    @property
    def ram_size(self) -> int:
        return sum(node.memory for node in self.nodes)

    @model_validator(mode="after")
    def _check(self) -> Machine:
        seen: set[int] = set()
        for node in self.nodes:
            for cpu in node.cpus:
                if cpu >= self.cpus:
                    raise ValueError(f"cpu {cpu} is not below machine.cpus = {self.cpus}")
                if cpu in seen:
                    raise ValueError(f"cpu {cpu} is in two nodes")
                seen.add(cpu)
        if self.ram_size == 0:
            raise ValueError("the nodes have no boot RAM at all")
        if self.maxmem is not None and self.maxmem < self.ram_size:
            raise ValueError(f"maxmem {self.maxmem:#x} is below the nodes' RAM {self.ram_size:#x}")
        return self


class Dimm(_Strict):
    """A pc-dimm. ``boot_ram``: coldplugged at an address the layout chooses and announced
    to the kernel as boot RAM (``memmap=SIZE@ADDR``), as firmware reports hotpluggable boot
    memory; ``hotplug`` is its range's mark in an override SRAT."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    size: BlockSize
    node: int = Field(ge=0)
    at_boot: bool = False
    boot_ram: bool = False
    hotplug: bool = True

    @property
    def coldplugged(self) -> bool:
        return self.at_boot or self.boot_ram

    @model_validator(mode="after")
    def _check(self) -> Dimm:
        if not self.hotplug and not self.boot_ram:
            raise ValueError("hotplug = false applies to boot_ram DIMMs only (the SRAT "
                             "marks a hot-added DIMM's window hotpluggable)")
        return self


class SratSource(str, enum.Enum):
    QEMU = "qemu"
    OVERRIDE = "override"


class SratRange(_Strict):
    """An explicit memory affinity entry; with these the override lists exactly these ranges."""

    start: Size
    size: Size
    node: int = Field(ge=0)
    hotplug: bool = False


class Srat(_Strict):
    source: SratSource = SratSource.OVERRIDE
    hotplug_nodes: tuple[int, ...] = ()
    ranges: tuple[SratRange, ...] = ()
    oem_revision: int | None = None
    # The override's proximity domain of each node (a field machine's, e.g. PXM 1-4 for
    # nodes 0-3); empty: the node index, as QEMU writes it.
    pxm: tuple[Annotated[int, Field(ge=0, lt=1 << 32)], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Srat:
        spans = sorted((r.start, r.start + r.size, i) for i, r in enumerate(self.ranges))
        for (_, end, i), (start, _, j) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(f"ranges[{i}] and ranges[{j}] overlap at {start:#x}")
        for i, rng in enumerate(self.ranges):
            if rng.size == 0:
                raise ValueError(f"ranges[{i}]: size must not be 0")
        if len(set(self.pxm)) != len(self.pxm):
            raise ValueError("pxm: two nodes share a proximity domain")
        return self

    def pxm_of(self, node: int) -> int:
        """A node past the listed ones (a CXL window's) takes the domains after the highest."""
        if not self.pxm:
            return node
        if node < len(self.pxm):
            return self.pxm[node]
        return max(self.pxm) + 1 + node - len(self.pxm)


LOCAL_DISTANCE = 10


class Slit(_Strict):
    """Node distances: QEMU's own SLIT (``-numa dist``) or an override in the initrd."""

    source: SratSource = SratSource.QEMU
    distances: tuple[tuple[int, ...], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Slit:
        count = len(self.distances)
        for i, row in enumerate(self.distances):
            if len(row) != count:
                raise ValueError(f"distances[{i}] has {len(row)} entries, not {count}")
            for j, value in enumerate(row):
                # The kernel's slit_valid() (drivers/acpi/numa/srat.c) refuses anything else.
                good = value == LOCAL_DISTANCE if i == j else LOCAL_DISTANCE < value < 255
                if not good:
                    raise ValueError(f"distances[{i}][{j}] = {value}: the kernel wants 10 on the "
                                     "diagonal and 11..254 elsewhere")
        return self


class KernelOptions(_Strict):
    cmdline: str = ""
    # KASLR reads the firmware SRAT, never the override: zone layouts need it off.
    nokaslr: bool = True


class MovableExpectation(_Strict):
    node: int
    start: Size


class HotplugExpectation(_Strict):
    node: int
    honoured: bool


class DimmZoneExpectation(_Strict):
    """The zone a dimm_add's blocks are onlined to, as the guest's valid_zones names it."""

    dimm: str
    zone: Literal["Movable", "Normal", "DMA32", "offline"]


class Expectations(_Strict):
    table_upgrade: bool | None = None
    movable: tuple[MovableExpectation, ...] = ()
    not_movable: tuple[int, ...] = ()
    hotplug: tuple[HotplugExpectation, ...] = ()
    distances: tuple[tuple[int, ...], ...] | None = None
    dimm_zones: tuple[DimmZoneExpectation, ...] = ()


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    description: str = ""
    machine: Machine
    dimms: tuple[Dimm, ...] = ()
    virtio_mem: tuple[VirtioMem, ...] = ()
    cxl: tuple[Cxl, ...] = ()
    srat: Srat = Srat()
    slit: Slit | None = None
    kernel: KernelOptions = KernelOptions()
    actions: tuple[Action, ...] = ()
    files: tuple[GuestFile, ...] = ()
    expect: Expectations = Expectations()
    # A must-fail sibling names the checks its false claims make fail: a run of it must
    # fail exactly these, so a sibling failing for another reason is caught too.
    false_claims: tuple[Annotated[str, Field(min_length=1)], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        nodes = len(self.machine.nodes)
        if self.slit is not None and len(self.slit.distances) != nodes:
            raise ValueError(f"slit.distances is {len(self.slit.distances)}x"
                             f"{len(self.slit.distances)}, the machine has {nodes} nodes")
        ids = [d.id for d in self.dimms]
        if len(set(ids)) != len(ids):
            raise ValueError("dimms: ids must be unique")
        for dimm in self.dimms:
            if dimm.node >= nodes:
                raise ValueError(f"dimm {dimm.id}: node {dimm.node} does not exist")
            self._check_boot_dimm(dimm, nodes)
        if self.dimms and self.machine.maxmem is None:
            raise ValueError("machine.maxmem is required when there are dimms")
        if len(self.dimms) > self.machine.slots:
            raise ValueError(f"{len(self.dimms)} dimms but machine.slots = {self.machine.slots}")
        if self.machine.maxmem is not None:
            total = self.machine.ram_size + sum(d.size for d in self.dimms)
            if total > self.machine.maxmem:
                raise ValueError(f"nodes and dimms need {total:#x} bytes, above machine.maxmem")
        check_virtio_mem(self.virtio_mem, nodes, ids, self.machine.maxmem,
                         self.machine.ram_size + sum(d.size for d in self.dimms))
        if self.srat.pxm:
            self._check_pxm(nodes)
        for node in self.srat.hotplug_nodes:
            if node >= nodes:
                raise ValueError(f"srat.hotplug_nodes: node {node} does not exist")
        for i, rng in enumerate(self.srat.ranges):
            if rng.node >= nodes:
                raise ValueError(f"srat.ranges[{i}]: node {rng.node} does not exist")
        check_virtio_mem_actions(self.actions, self.virtio_mem, self.machine.cpus)
        check_cxl(self.cxl, self.machine.type, nodes, ids + [v.id for v in self.virtio_mem], self.actions,
                  self.srat.source is SratSource.OVERRIDE)
        action_ids = [a.id for a in self.actions]
        if len(set(action_ids)) != len(action_ids):
            raise ValueError("actions: ids must be unique")
        added = {a.dimm for a in self.actions if isinstance(a, DimmAdd)}
        for i, exp in enumerate(self.expect.dimm_zones):
            if exp.dimm not in added:
                raise ValueError(f"expect.dimm_zones[{i}]: no dimm_add action adds {exp.dimm!r}")
        for action in self.actions:
            if isinstance(action, (DimmAdd, DimmRemove)) and action.dimm not in ids:
                raise ValueError(f"action {action.id}: no dimm {action.dimm!r}")
            if isinstance(action, (OfflineNode, NodeRemove)) and action.node >= nodes:
                raise ValueError(f"action {action.id}: node {action.node} does not exist")
            if isinstance(action, NodeRemove):
                self._check_node_remove(action)
        self._check_expect(nodes)
        return self

    def _check_expect(self, nodes: int) -> None:
        """A claim about a node that does not exist, or two claims that cannot both hold,
        could only FAIL after a boot: refused now, naming the key."""
        exp = self.expect
        claims = [(f"expect.movable[{i}].node", m.node) for i, m in enumerate(exp.movable)]
        claims += [(f"expect.not_movable[{i}]", n) for i, n in enumerate(exp.not_movable)]
        claims += [(f"expect.hotplug[{i}].node", h.node) for i, h in enumerate(exp.hotplug)]
        for key, node in claims:
            if not 0 <= node < nodes:
                raise ValueError(f"{key}: node {node} does not exist (the machine has nodes 0..{nodes - 1})")
        _unique("expect.movable", [m.node for m in exp.movable], "node")
        _unique("expect.not_movable", list(exp.not_movable), "node")
        _unique("expect.hotplug", [h.node for h in exp.hotplug], "node")
        _unique("expect.dimm_zones", [d.dimm for d in exp.dimm_zones], "dimm")
        for i, node in enumerate(exp.not_movable):
            if node in {m.node for m in exp.movable}:
                raise ValueError(f"expect.not_movable[{i}]: node {node} is also in expect.movable")
        if exp.distances is not None and (len(exp.distances) != nodes
                                          or any(len(row) != nodes for row in exp.distances)):
            raise ValueError(f"expect.distances: not {nodes}x{nodes}, the machine has {nodes} nodes")

    def _check_pxm(self, nodes: int) -> None:
        if len(self.srat.pxm) != nodes:
            raise ValueError(f"srat.pxm has {len(self.srat.pxm)} entries, the machine has {nodes} nodes")
        if self.srat.source is not SratSource.OVERRIDE:
            raise ValueError("srat.pxm needs srat.source = \"override\" (QEMU writes the node index)")
        # The SLIT is indexed by proximity domain (drivers/acpi/numa/srat.c acpi_numa_slit_init),
        # the scenario's distances by node: only the identity keeps the two the same.
        if self.slit is not None and self.srat.pxm != tuple(range(nodes)):
            raise ValueError("srat.pxm other than 0..N-1 cannot be combined with a slit")

    def _check_boot_dimm(self, dimm: Dimm, nodes: int) -> None:
        if not dimm.boot_ram or self.srat.source is SratSource.OVERRIDE:
            return
        # QEMU's build_srat (hw/i386/acpi-build.c) gives the whole device-memory window to
        # the last node, hotpluggable: that is the node the kernel would put this RAM on.
        if dimm.node != nodes - 1:
            raise ValueError(f"dimm {dimm.id}: a boot_ram DIMM under QEMU's SRAT is on the "
                             f"last node ({nodes - 1}); use srat.source = \"override\" for "
                             f"node {dimm.node}")
        if not dimm.hotplug:
            raise ValueError(f"dimm {dimm.id}: QEMU's SRAT marks it hotpluggable; use "
                             "srat.source = \"override\" to unmark it")

    def _check_node_remove(self, action: NodeRemove) -> None:
        node = self.machine.nodes[action.node]
        if 0 in node.cpus:
            raise ValueError(f"action {action.id}: node {action.node} holds the boot CPU 0")
        if node.cpus and not self.machine.cpu_sockets:
            raise ValueError(f"action {action.id}: unplugging CPUs needs machine.cpu_sockets")
        if node.memory:
            raise ValueError(f"action {action.id}: node {action.node} has boot RAM outside "
                             "DIMMs, which QEMU cannot eject; give it memory = 0")

    def node_dimms(self, node: int) -> tuple[Dimm, ...]:
        return tuple(d for d in self.dimms if d.node == node)

    @property
    def boot_ram_dimms(self) -> tuple[Dimm, ...]:
        return tuple(d for d in self.dimms if d.boot_ram)

    def dimm(self, dimm_id: str) -> Dimm:
        return next(d for d in self.dimms if d.id == dimm_id)

    def virtio_mem_device(self, device_id: str) -> VirtioMem:
        return next(d for d in self.virtio_mem if d.id == device_id)

    def cxl_device(self, device_id: str) -> Cxl:
        return next(d for d in self.cxl if d.id == device_id)


def _unique(key: str, values: list[object], what: str) -> None:
    """One claim per node (or dimm): a second one contradicts or repeats the first."""
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"{key}[{i}]: {what} {value!r} is claimed twice")


def _key_path(loc: tuple[int | str, ...], data: Any) -> str:
    """pydantic's location → the TOML key a person wrote (``machine.nodes[1].memory``)."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ACTION_TAGS or item == "[key]":
            continue  # the discriminator's tag, or pydantic's mark of a bad table key
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def _one_line(err: pydantic.ValidationError, where: str) -> str:
    first = err.errors()[0]
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    if not first["loc"]:  # a whole-scenario check: its message names the keys itself
        return f"{where}: {msg}"
    return f"{where}: {_key_path(tuple(first['loc']), None)}: {msg}"


def parse_scenario(data: dict[str, Any], where: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as err:
        raise BadInputError(_one_line(err, where)) from err


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else (arrays included) is replaced whole."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    data = load_toml(path, SCENARIO)  # first: a path that cannot be resolved (a loop) is refused here
    if path.resolve() in chain:
        raise BadInputError(f"{path}: extends: circular ({' -> '.join(map(str, chain))})")
    resolve_sources(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise BadInputError(f"{path}: extends: expected a relative path to a scenario file")
    return _merge(_read_toml(path.parent / parent, chain + (path.resolve(),)), data)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; every mistake is one ``BadInputError`` line.

    ``extends = "other.toml"`` starts from another scenario (a must-fail sibling states
    only what it claims differently).
    """
    return parse_scenario(_read_toml(path), str(path))
