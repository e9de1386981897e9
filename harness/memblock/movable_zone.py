"""ZONE_MOVABLE start per node: 6.1 mm/page_alloc.c:find_zone_movable_pfns_for_nodes
(6.12 mm/mm_init.c), for movable_node, kernelcore= and movablecore=."""
from __future__ import annotations

from harness.memblock.model import Memblock, RegionFlags
from harness.units import has_flag, memparse, option_values, parse_percent

MiB = 1 << 20
FOUR_GIB = 1 << 32
MOVABLE_ALIGN = 4 * MiB  # roundup to MAX_ORDER_NR_PAGES (1024 pages)


def _required(cmdline: str, name: str, total: int) -> int:
    """``kernelcore=``/``movablecore=`` in bytes.  cmdline_parse_core runs once per
    occurrence: a size replaces the size and clears the percentage, a percentage
    replaces only the percentage; a percentage left set wins (of ``total``)."""
    size = percent = 0
    for value in option_values(cmdline, name):
        share = parse_percent(value)
        if share is None:
            size, percent = memparse(value)[0], 0
        else:
            percent = share
    return total * percent // 100 if percent else size


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


def node_ranges(state: Memblock) -> dict[int, list[tuple[int, int]]]:
    ranges: dict[int, list[tuple[int, int]]] = {}
    for r in state.memory.regions:
        if r.size:
            ranges.setdefault(r.nid, []).append((r.base, r.end))
    return ranges


def _movable_node_starts(state: Memblock) -> dict[int, int]:
    starts: dict[int, int] = {}
    for r in state.memory.regions:
        if r.size and r.flags & RegionFlags.HOTPLUG:
            starts[r.nid] = min(starts.get(r.nid, r.base), r.base)
    return starts


def _kernelcore_starts(state: Memblock, kernelcore: int) -> dict[int, int]:
    """Spread kernelcore evenly over the nodes, from the bottom of the highest zone."""
    ranges = node_ranges(state)
    end = max((e for rs in ranges.values() for _, e in rs), default=0)
    lowest = FOUR_GIB if end > FOUR_GIB else 16 * MiB  # ZONE_NORMAL, else ZONE_DMA32
    per_node = kernelcore // max(len(ranges), 1)
    starts: dict[int, int] = {}
    for nid, node in sorted(ranges.items()):
        remaining = per_node
        for start, stop in node:
            if start < lowest:
                remaining -= min(min(stop, lowest) - start, remaining)
                if stop <= lowest:
                    continue
                start = lowest
            take = min(stop - start, remaining)
            starts[nid] = start + take
            remaining -= take
            if not remaining:
                break
    return starts


def movable_starts(state: Memblock, cmdline: str) -> dict[int, int]:
    """Node → ZONE_MOVABLE start (nodes without one are absent)."""
    if has_flag(cmdline, "movable_node"):
        raw = _movable_node_starts(state)
    else:
        total = sum(r.size for r in state.memory.regions)
        kernelcore = _required(cmdline, "kernelcore", total)
        movablecore = _round_up(_required(cmdline, "movablecore", total), MOVABLE_ALIGN)
        if movablecore:
            kernelcore = max(kernelcore, total - movablecore)
        raw = _kernelcore_starts(state, kernelcore) if kernelcore or movablecore else {}
    ends = {nid: max(e for _, e in rs) for nid, rs in node_ranges(state).items()}
    out = {}
    for nid, start in raw.items():
        start = _round_up(start, MOVABLE_ALIGN)
        if start < ends.get(nid, 0):
            out[nid] = start
    return out
