"""One trace format for memblock operations, shared by the Python and kernel engines.

Each operation is a frozen dataclass named after the kernel function, with the
kernel's argument names. ``apply(engine, op)`` runs it; ``to_json``/``from_json``
and ``to_line``/``from_line`` (the kernel driver's stdin format) serialise it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol, Union

from harness.errors import BadInputError
from harness.memblock.model import Memblock


class Engine(Protocol):
    """A memblock implementation: the Python port or the kernel's own code."""

    def add(self, base: int, size: int) -> int: ...
    def add_node(self, base: int, size: int, nid: int, flags: int) -> int: ...
    def reserve(self, base: int, size: int) -> int: ...
    def reserve_nid(self, base: int, size: int, nid: int, flags: int) -> int: ...
    def reserve_kern(self, base: int, size: int) -> int: ...
    def remove(self, base: int, size: int) -> int: ...
    def phys_free(self, base: int, size: int) -> int: ...
    def mark_hotplug(self, base: int, size: int) -> int: ...
    def clear_hotplug(self, base: int, size: int) -> int: ...
    def mark_mirror(self, base: int, size: int) -> int: ...
    def mark_nomap(self, base: int, size: int) -> int: ...
    def mark_kho_scratch(self, base: int, size: int) -> int: ...
    def clear_kho_scratch(self, base: int, size: int) -> int: ...
    def set_node(self, base: int, size: int, type: str, nid: int) -> int: ...
    def set_bottom_up(self, enable: bool) -> None: ...
    def set_current_limit(self, limit: int) -> None: ...
    def phys_alloc_range(self, size: int, align: int, start: int, end: int) -> int | None: ...
    def alloc_range_nid(self, size: int, align: int, start: int, end: int, nid: int,
                        exact_nid: bool) -> int | None: ...
    def alloc_try_nid(self, size: int, align: int, min_addr: int, max_addr: int,
                      nid: int) -> int | None: ...
    def alloc_exact_nid_raw(self, size: int, align: int, min_addr: int, max_addr: int,
                            nid: int) -> int | None: ...
    def alloc_hugetlb(self, size: int, nid: int, exact_nid: bool) -> int | None: ...
    def find_in_range_node(self, size: int, align: int, start: int, end: int, nid: int,
                           flags: int = 0) -> int | None: ...
    def state(self) -> Memblock: ...


@dataclass(frozen=True)
class _Range:
    """The (base, size) shape most memblock calls share; each subclass is one function."""

    base: int
    size: int


class Add(_Range):
    """memblock_add"""


@dataclass(frozen=True)
class AddNode:
    base: int
    size: int
    nid: int
    flags: int


class Reserve(_Range):
    """memblock_reserve (7.3: __memblock_reserve(base, size, NUMA_NO_NODE, 0))"""


@dataclass(frozen=True)
class ReserveNid:
    """__memblock_reserve(base, size, nid, flags): 7.3's reserve with a node and flags"""

    base: int
    size: int
    nid: int
    flags: int


class ReserveKern(_Range):
    """memblock_reserve_kern: NUMA_NO_NODE, MEMBLOCK_RSRV_KERN"""


class Remove(_Range):
    """memblock_remove"""


class PhysFree(_Range):
    """memblock_phys_free"""


class MarkHotplug(_Range):
    """memblock_mark_hotplug"""


class ClearHotplug(_Range):
    """memblock_clear_hotplug"""


class MarkMirror(_Range):
    """memblock_mark_mirror"""


class MarkNomap(_Range):
    """memblock_mark_nomap"""


class MarkKhoScratch(_Range):
    """memblock_mark_kho_scratch"""


class ClearKhoScratch(_Range):
    """memblock_clear_kho_scratch"""


@dataclass(frozen=True)
class SetNode:
    base: int
    size: int
    type: str
    nid: int


@dataclass(frozen=True)
class SetBottomUp:
    enable: bool


@dataclass(frozen=True)
class SetCurrentLimit:
    limit: int


@dataclass(frozen=True)
class PhysAllocRange:
    size: int
    align: int
    start: int
    end: int


@dataclass(frozen=True)
class AllocRangeNid:
    size: int
    align: int
    start: int
    end: int
    nid: int
    exact_nid: bool


@dataclass(frozen=True)
class _NidAlloc:
    """The arguments of the memblock_alloc_*_nid family."""

    size: int
    align: int
    min_addr: int
    max_addr: int
    nid: int


class AllocTryNid(_NidAlloc):
    """memblock_alloc_try_nid[_raw] (they place identically)"""


class AllocExactNidRaw(_NidAlloc):
    """memblock_alloc_exact_nid_raw: no fallback to other nodes"""


@dataclass(frozen=True)
class AllocHugetlb:
    """memblock_alloc_hugetlb: aligned to size, reserved RSRV_KERN | RSRV_HUGETLB"""

    size: int
    nid: int
    exact_nid: bool


@dataclass(frozen=True)
class FindInRangeNode:
    size: int
    align: int
    start: int
    end: int
    nid: int
    flags: int = 0


Op = Union[Add, AddNode, Reserve, ReserveNid, ReserveKern, Remove, PhysFree, MarkHotplug,
           ClearHotplug, MarkMirror, MarkNomap, MarkKhoScratch, ClearKhoScratch, SetNode,
           SetBottomUp, SetCurrentLimit, PhysAllocRange, AllocRangeNid, AllocTryNid,
           AllocExactNidRaw, AllocHugetlb, FindInRangeNode]

# op class → (engine method, name in JSON and in the driver's line format)
_NAMES: dict[type, tuple[str, str]] = {
    Add: ("add", "add"), AddNode: ("add_node", "add_node"), Reserve: ("reserve", "reserve"),
    ReserveNid: ("reserve_nid", "reserve_nid"), ReserveKern: ("reserve_kern", "reserve_kern"),
    Remove: ("remove", "remove"), PhysFree: ("phys_free", "phys_free"),
    MarkHotplug: ("mark_hotplug", "mark_hotplug"),
    ClearHotplug: ("clear_hotplug", "clear_hotplug"),
    MarkMirror: ("mark_mirror", "mark_mirror"), MarkNomap: ("mark_nomap", "mark_nomap"),
    MarkKhoScratch: ("mark_kho_scratch", "mark_kho_scratch"),
    ClearKhoScratch: ("clear_kho_scratch", "clear_kho_scratch"),
    SetNode: ("set_node", "set_node"), SetBottomUp: ("set_bottom_up", "bottom_up"),
    SetCurrentLimit: ("set_current_limit", "current_limit"),
    PhysAllocRange: ("phys_alloc_range", "phys_alloc_range"),
    AllocRangeNid: ("alloc_range_nid", "alloc_range_nid"),
    AllocTryNid: ("alloc_try_nid", "alloc_try_nid"),
    AllocExactNidRaw: ("alloc_exact_nid_raw", "alloc_exact_nid"),
    AllocHugetlb: ("alloc_hugetlb", "alloc_hugetlb"),
    FindInRangeNode: ("find_in_range_node", "find_in_range_node"),
}
_BY_NAME: dict[str, type] = {name: cls for cls, (_, name) in _NAMES.items()}
ALLOCATING_OPS: tuple[type, ...] = (PhysAllocRange, AllocRangeNid, AllocTryNid,
                                    AllocExactNidRaw, AllocHugetlb, FindInRangeNode)


def apply(engine: Engine, op: Op) -> int | None:
    """Run ``op``: a return code, an address (None: failed) or None for setters."""
    method = getattr(engine, _NAMES[type(op)][0])
    # vars() keeps field order and, unlike astuple, does not deep-copy
    result: int | None = method(*vars(op).values())
    return result


def op_name(op: Op) -> str:
    return _NAMES[type(op)][1]


def to_json(op: Op) -> dict[str, Any]:
    return {"op": op_name(op), **dataclasses.asdict(op)}


def from_json(data: dict[str, Any], where: str = "trace") -> Op:
    """An op from its JSON form; bad input names ``where`` and the problem."""
    name = data.get("op")
    cls = _BY_NAME.get(str(name))
    if cls is None:
        raise BadInputError(f"{where}: unknown memblock op {name!r}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING:
                raise BadInputError(f"{where}: op {name!r} lacks key {f.name!r}")
            continue
        kwargs[f.name] = _coerce(data[f.name], f.type, f"{where}: {name}.{f.name}")
    op: Op = cls(**kwargs)
    return op


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    if annotation in ("bool", bool):
        if not isinstance(value, bool):
            raise BadInputError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation in ("str", str):
        if value not in ("memory", "reserved"):
            raise BadInputError(f"{where}: expected 'memory' or 'reserved', got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInputError(f"{where}: expected an integer, got {value!r}")
    return value


def to_line(op: Op) -> str:
    """The replay driver's stdin form: the name, then the arguments in order."""
    args = (str(int(v)) if not isinstance(v, str) else v for v in vars(op).values())
    return " ".join((op_name(op), *args))
