"""Kernel profiles: per behaviour memhp reads or models, which releases have it.

One table, lowest release first. A caller asks ``profile_for(release)`` and reads the
behaviour it needs (``profile.memblock.dummy_entry``, ``profile.logs.reserve_line``, …);
nothing else in memhp compares kernel versions. A release newer than every row gets the
newest row and a ``note`` saying so, which every report shows.

Rows name the first Debian series memhp has checked each behaviour on (from the source of
that series and recorded boots in ``fixtures/``); releases between two rows take the lower
row, which is what the note of an untested release says.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

Version = tuple[int, int]


class ReserveLine(enum.Enum):
    """The ``memblock=debug`` line every reservation prints (mm/memblock.c)."""

    PLAIN = "memblock_reserve: [a-b] caller"
    NID_FLAGS = "__memblock_reserve: [a-b] nid=N flags=X caller"


class E820Format(enum.Enum):
    """How arch/x86/kernel/e820.c prints its tables (BIOS-e820, modified, user)."""

    CLASSIC = "[mem a-b] usable / reserved"
    NAMED_WITH_GAPS = "[mem a-b]  System RAM / device reserved, [gap …] lines"


@dataclass(frozen=True)
class MemblockRules:
    """mm/memblock.c differences the Python port follows."""

    # 6.1: each static array starts with one empty entry (cnt = 1) and keeps it when emptied.
    dummy_entry: bool
    # should_skip_region()/memblock_alloc_range_nid(): numa_valid_node(nid) (6.12) or nid != NUMA_NO_NODE (6.1).
    numa_valid_node: bool
    # __memblock_reserve(base, size, nid, flags): allocations reserve MEMBLOCK_RSRV_KERN with their nid,
    # plain memblock_reserve() stores NUMA_NO_NODE instead of MAX_NUMNODES.
    reserve_nid_flags: bool
    # memblock_add_range() skips its counting pass when cnt * 2 + 1 <= max (6.12), < max (6.1).
    add_range_room_inclusive: bool
    # MEMBLOCK_KHO_SCRATCH: memblock_mark/clear_kho_scratch() and should_skip_region()'s scratch test.
    kho_scratch: bool
    # memblock_alloc_hugetlb(size, nid, exact_nid): reserves MEMBLOCK_RSRV_KERN | MEMBLOCK_RSRV_HUGETLB.
    alloc_hugetlb: bool
    # mm/numa_memblks.c (6.12): numa init resets nids to NUMA_NO_NODE (6.1: MAX_NUMNODES) and trims
    # SRAT blocks to [start, end) of DRAM (6.1: [0, end)).
    numa_memblks: bool
    # mm/mm_init.c find_zone_movable_pfns_for_nodes(): movable_node takes PFN_UP of a hotplug
    # region's base (6.1: PFN_DOWN); kernelcore=mirror without mirrored memory is ignored (6.1: used).
    movable_pfn_up: bool
    mirror_needs_mirror: bool


@dataclass(frozen=True)
class LogFormats:
    """Line formats of the boot log that moved between releases."""

    reserve_line: ReserveLine
    e820: E820Format


@dataclass(frozen=True)
class KernelProfile:
    """What the releases from ``since`` on do, until the next row."""

    series: str
    memblock: MemblockRules
    logs: LogFormats

    @property
    def since(self) -> Version:
        return parse_series(self.series)


PROFILES: tuple[KernelProfile, ...] = (
    KernelProfile("6.1", MemblockRules(dummy_entry=True, numa_valid_node=False, reserve_nid_flags=False,
                                        add_range_room_inclusive=False, kho_scratch=False,
                                        alloc_hugetlb=False, numa_memblks=False, movable_pfn_up=False,
                                        mirror_needs_mirror=False),
                  LogFormats(ReserveLine.PLAIN, E820Format.CLASSIC)),
    KernelProfile("6.12", MemblockRules(dummy_entry=False, numa_valid_node=True, reserve_nid_flags=False,
                                         add_range_room_inclusive=True, kho_scratch=False,
                                         alloc_hugetlb=False, numa_memblks=True, movable_pfn_up=True,
                                         mirror_needs_mirror=True),
                  LogFormats(ReserveLine.PLAIN, E820Format.CLASSIC)),
    KernelProfile("6.18", MemblockRules(dummy_entry=False, numa_valid_node=True, reserve_nid_flags=True,
                                        add_range_room_inclusive=True, kho_scratch=True,
                                        alloc_hugetlb=False, numa_memblks=True, movable_pfn_up=True,
                                        mirror_needs_mirror=True),
                  LogFormats(ReserveLine.NID_FLAGS, E820Format.CLASSIC)),
    KernelProfile("7.2", MemblockRules(dummy_entry=False, numa_valid_node=True, reserve_nid_flags=True,
                                       add_range_room_inclusive=True, kho_scratch=True,
                                       alloc_hugetlb=False, numa_memblks=True, movable_pfn_up=True,
                                       mirror_needs_mirror=True),
                  LogFormats(ReserveLine.NID_FLAGS, E820Format.NAMED_WITH_GAPS)),
    # memblock_alloc_hugetlb() first appears here (absent from 7.2.12's mm/memblock.c).
    KernelProfile("7.3", MemblockRules(dummy_entry=False, numa_valid_node=True, reserve_nid_flags=True,
                                       add_range_room_inclusive=True, kho_scratch=True,
                                       alloc_hugetlb=True, numa_memblks=True, movable_pfn_up=True,
                                       mirror_needs_mirror=True),
                  LogFormats(ReserveLine.NID_FLAGS, E820Format.NAMED_WITH_GAPS)),
)

_SERIES = re.compile(r"(\d+)\.(\d+)")


def parse_series(release: str) -> Version:
    """``6.12``, ``6.12.118+deb12-amd64``, ``7.3.4+deb13-amd64`` → (major, minor)."""
    m = _SERIES.match(release.strip())
    if not m:
        raise ValueError(f"{release!r} is not a kernel release (expected MAJOR.MINOR…)")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class ProfileChoice:
    """The row a release uses, and what a report must say about that choice (or '')."""

    release: str
    profile: KernelProfile
    note: str


def profile_for(release: str) -> ProfileChoice:
    """The profile of ``release``; one older than every row is refused (ValueError)."""
    version = parse_series(release)
    rows = [p for p in PROFILES if p.since <= version]
    if not rows:
        raise ValueError(f"kernel {release} is older than every profile (oldest: {PROFILES[0].series})")
    row = rows[-1]
    note = ""
    if row is PROFILES[-1] and version != row.since:
        note = f"kernel {release} is newer than every profile: modelled as {row.series}"
    elif version != row.since:
        note = f"kernel {release} has no profile of its own: modelled as {row.series}"
    return ProfileChoice(release, row, note)
