"""``memblock=debug`` operation lines (mm/memblock.c); ranges printed inclusive."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from harness.logparse.common import HEX, AddressRange, JsonMixin, LineKind, Special, caller_function, hex_int

# %pS: "sym+0xoff/0xsize", maybe " [module]"; a bare address when there is no symbol.
_CALLER = r"(?P<caller>\S+(?: \[\S+\])?)"

# The reserve a successful memblock_alloc_range_nid makes for its caller's request.
ALLOC_RESULT_CALLER = "memblock_alloc_range_nid"


# Callers converted to memblock_alloc_or_panic() (6.18 on) print this wrapper instead of
# themselves: the log does not name them.
HIDDEN_CALLER = "__memblock_alloc_or_panic"


@dataclass(frozen=True)
class MemblockEvent(JsonMixin):
    """``memblock_reserve: [0x…-0x…] setup_arch+0x797/0xd4f`` and its siblings; end exclusive.

    From 6.18 every reservation prints ``__memblock_reserve: [a-b] nid=N flags=X caller``
    (mm/memblock.c __memblock_reserve): it is a ``memblock_reserve`` event with ``nid`` and
    ``flags`` (MEMBLOCK_RSRV_KERN 0x20 on every allocation) set."""

    line: int
    func: str
    base: int
    end: int
    caller: str
    caller_function: str
    nid: int | None = None
    flags: int | None = None

    @property
    def size(self) -> int:
        return self.end - self.base


MEMBLOCK_RESERVE_RE = re.compile(
    rf"(?:__)?(?P<func>memblock_reserve): \[(?P<start>{HEX})-(?P<last>{HEX})\] "
    rf"(?:nid=(?P<nid>-?\d+) flags=(?P<flags>(?:0x)?[0-9a-fA-F]+) )?{_CALLER}\s*$"
)
MEMBLOCK_EVENT_RE = re.compile(
    r"(?P<func>memblock_(?:add|remove|reserve|phys_free|free_late|free)): "
    rf"\[(?P<start>{HEX})-(?P<last>{HEX})\] {_CALLER}\s*$"
)
MEMBLOCK_ADD_NODE_RE = re.compile(
    rf"(?P<func>memblock_add_node): \[(?P<start>{HEX})-(?P<last>{HEX})\] "
    rf"nid=(?P<nid>-?\d+) flags=(?P<flags>(?:0x)?[0-9a-fA-F]+) {_CALLER}\s*$"
)


def _event(m: re.Match[str], line: int) -> MemblockEvent:
    groups = m.groupdict()
    nid = int(groups["nid"]) if groups.get("nid") is not None else None
    flags = int(groups["flags"], 16) if groups.get("flags") is not None else None
    return MemblockEvent(
        line, m["func"], hex_int(m["start"]), hex_int(m["last"]) + 1,
        m["caller"], caller_function(m["caller"]), nid, flags,
    )


@dataclass(frozen=True)
class MemblockAlloc(JsonMixin):
    """An allocation request and, if it succeeded, the range it reserved.

    ``nid`` is None for memblock_phys_alloc_range, which prints none.  min/max are the
    arguments as printed, before the kernel clamps them.
    """

    line: int
    func: str
    size: int
    align: int
    nid: int | None
    min_addr: int
    max_addr: int
    caller: str
    caller_function: str
    result: AddressRange | None = None
    result_line: int | None = None
    # For a hidden caller: who asked, as the kernel's next lines show it (see CALLER_HINTS).
    named_by_next: str | None = None

    @property
    def caller_hidden(self) -> bool:
        return self.caller_function == HIDDEN_CALLER

    @property
    def requester(self) -> str:
        """Who asked, for reports: the caller's function, or that the log does not name it
        (memblock_alloc_or_panic's wrapper is printed instead) and what the next lines show."""
        if not self.caller_hidden:
            return self.caller_function
        if self.named_by_next:
            return f"{self.named_by_next} (named by the next line; the log prints {HIDDEN_CALLER})"
        return f"{HIDDEN_CALLER} (the log does not name the caller)"


@dataclass(frozen=True)
class CallerHint:
    """A line that says who made the hidden-caller allocation just before it."""

    line: int
    caller: str


# kernel/power/snapshot.c register_nosave_region: memblock_alloc_or_panic(sizeof(struct
# nosave_region)), then pr_debug("Registered nosave memory: …") for that region.
NOSAVE_RE = re.compile(r"PM: hibernation: Registered nosave memory: \[mem (?:0x[0-9a-f]+)-(?:0x[0-9a-f]+)\]\s*$")
# mm/sparse.c memblocks_present: mem_section = memblock_alloc_or_panic(roots), then
# sparse_index_init → sparse_index_alloc for the first present section.
MEM_SECTION_ROOTS_NEXT = "sparse_index_alloc"
MEM_SECTION_ROOTS = "memblocks_present (mem_section roots)"


MEMBLOCK_PHYS_ALLOC_RE = re.compile(
    rf"(?P<func>memblock_phys_alloc_range): (?P<size>\d+) bytes align=(?P<align>{HEX}) "
    rf"from=(?P<min>{HEX}) max_addr=(?P<max>{HEX}) {_CALLER}\s*$"
)
MEMBLOCK_ALLOC_NID_RE = re.compile(
    r"(?P<func>memblock_alloc_(?:try_nid(?:_raw)?|exact_nid_raw)): (?P<size>\d+) bytes "
    rf"align=(?P<align>{HEX}) nid=(?P<nid>-?\d+) from=(?P<min>{HEX}) max_addr=(?P<max>{HEX}) "
    rf"{_CALLER}\s*$"
)


# mm/memblock.c memblock_alloc_hugetlb (7.3): align = size, anywhere accessible, the
# requested node or (unless exact_nid) any; it reserves itself, flags RSRV_KERN|RSRV_HUGETLB.
MEMBLOCK_ALLOC_HUGETLB_RE = re.compile(
    r"(?P<func>memblock_alloc_hugetlb): (?P<size>\d+) bytes, nid=(?P<nid>-?\d+), "
    rf"exact_nid=(?P<exact>[01]) {_CALLER}\s*$"
)


def _alloc_hugetlb(m: re.Match[str], line: int) -> MemblockAlloc:
    func = "memblock_alloc_hugetlb_exact" if m["exact"] == "1" else m["func"]
    return MemblockAlloc(line, func, int(m["size"]), int(m["size"]), int(m["nid"]), 0, 0,
                         m["caller"], caller_function(m["caller"]))


def _alloc(m: re.Match[str], line: int) -> MemblockAlloc:
    nid = int(m["nid"]) if "nid" in m.re.groupindex else None
    return MemblockAlloc(
        line, m["func"], int(m["size"]), hex_int(m["align"]), nid,
        hex_int(m["min"]), hex_int(m["max"]), m["caller"], caller_function(m["caller"]),
    )


@dataclass(frozen=True)
class MemblockDoubled(JsonMixin):
    """``memblock: reserved is doubled to 256 at [0x…-0x…]`` (memblock_double_array)."""

    line: int
    type_name: str
    new_max: int
    start: int
    end: int


# Printed without "\n": the next message may follow on the same line.
MEMBLOCK_DOUBLED_RE = re.compile(
    rf"memblock: (?P<type>\w+) is doubled to (?P<max>\d+) at \[(?P<start>{HEX})-(?P<last>{HEX})\]"
)


def _doubled(m: re.Match[str], line: int) -> MemblockDoubled:
    return MemblockDoubled(line, m["type"], int(m["max"]), hex_int(m["start"]), hex_int(m["last"]) + 1)


MemblockOp = Union[MemblockEvent, MemblockAlloc, MemblockDoubled]

OP = Special.MEMBLOCK_OP
KINDS: tuple[LineKind[object], ...] = (
    LineKind("memblock_doubled", " is doubled to ", MEMBLOCK_DOUBLED_RE, _doubled, OP),
    LineKind("memblock_add_node", "memblock_add_node: ", MEMBLOCK_ADD_NODE_RE, _event, OP),
    LineKind("memblock_add", "memblock_add: ", MEMBLOCK_EVENT_RE, _event, OP),
    LineKind("memblock_remove", "memblock_remove: ", MEMBLOCK_EVENT_RE, _event, OP),
    LineKind("memblock_reserve", "memblock_reserve: ", MEMBLOCK_RESERVE_RE, _event, OP),
    LineKind("memblock_phys_free", "memblock_phys_free: ", MEMBLOCK_EVENT_RE, _event, OP),
    LineKind("memblock_free_late", "memblock_free_late: ", MEMBLOCK_EVENT_RE, _event, OP),
    LineKind("memblock_free", "memblock_free: ", MEMBLOCK_EVENT_RE, _event, OP),
    LineKind("memblock_phys_alloc_range", "memblock_phys_alloc_range: ", MEMBLOCK_PHYS_ALLOC_RE, _alloc, OP),
    # Triggers end in ": " so that call-trace frames (" memblock_alloc_try_nid+0x…") do not match.
    LineKind("memblock_alloc_try_nid", "memblock_alloc_try_nid: ", MEMBLOCK_ALLOC_NID_RE, _alloc, OP),
    LineKind("memblock_alloc_try_nid_raw", "memblock_alloc_try_nid_raw: ", MEMBLOCK_ALLOC_NID_RE, _alloc, OP),
    LineKind("memblock_alloc_exact_nid_raw", "memblock_alloc_exact_nid_raw: ", MEMBLOCK_ALLOC_NID_RE, _alloc, OP),
    LineKind("memblock_alloc_hugetlb", "memblock_alloc_hugetlb: ", MEMBLOCK_ALLOC_HUGETLB_RE, _alloc_hugetlb, OP),
    LineKind("nosave_registered", "Registered nosave memory: ", NOSAVE_RE,
             lambda m, n: CallerHint(n, "register_nosave_region"), Special.CALLER_HINT),
)
