"""``memhp import``: a field machine's boot log and/or SRAT → a runnable, scaled-down scenario.

RAM comes from the log's e820 ``usable`` entries, else its ``Early memory node ranges``,
else the SRAT ranges themselves (a log that shows nothing else).  SRAT ranges holding no
RAM (hot-add windows) are dropped and listed.  Field holes become ``memmap=128M$ADDR``
reservations so the guest's memblock sees a hole where the field machine had one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from acpi_tables.show import read_table_file
from acpi_tables.srat import ProcessorLocalApicAffinity, X2ApicAffinity, decode_srat
from harness.errors import BadInputError
from harness.logparse import BootLog
from harness.logparse.field_log import load_field_boot_log
from harness.memblock.numa import SratMemory
from harness.scenario.field_replica import ReplicaPlan, plan_replica
from harness.scenario.field_scale import HOLE_MIN, UNIT, ScaledHole, ScaledRange, scale
from harness.scenario.field_windows import HotplugWindow, place_windows, split_windows
from harness.scenario.layout import FOUR_GIB
from harness.scenario.schema import Scenario, parse_scenario
from harness.units import MiB, format_size
from harness.userinput import SCENARIO, write_output

# x86-64 CONFIG_PHYSICAL_START: where a nokaslr kernel (and the guest's) is loaded.
DEFAULT_KERNEL_ADDRESS = 0x1000000
# Pieces smaller than this (the 640K base memory) are firmware leftovers, not node ranges.
MIN_PIECE = 16 * MiB
_KEPT_OPTIONS = ("movable_node", "memhp_default_state=", "movablecore=", "kernelcore=")


@dataclass(frozen=True)
class FieldImport:
    """The scaled field topology and the scenario that reproduces it."""

    source: str
    ram_source: str
    ranges: tuple[ScaledRange, ...]
    holes: tuple[ScaledHole, ...]
    dropped: tuple[SratMemory, ...]
    windows: tuple[HotplugWindow, ...]
    kernel_address: int
    kernel_address_source: str
    field_kernel_node: int | None
    guest_kernel_node: int | None
    # QEMU loads the initrd at the top of RAM below 4 GiB; that block goes to the kernel's
    # node so the initrd reservation does not pin a hotpluggable field node.
    initrd_zone: ScaledRange | None
    field_cpus: dict[int, int]  # field node -> CPUs (APIC ids) from its SRAT: PXM -> APIC lines
    # Field node ids in guest order: guest node i is field node nodes[i]; nodes with CPUs
    # and no SRAT memory (memoryless) are kept too.
    nodes: tuple[int, ...]
    scenario: Scenario
    toml: str
    # A replica at the field's own addresses and sizes, or the reason it had to be scaled.
    full_size: bool = False
    scaled_because: str | None = None


def _ram(log: BootLog | None, srat: Sequence[SratMemory]) -> tuple[list[tuple[int, int]], str]:
    if log and (usable := [(e.start, e.end) for e in log.e820 if e.is_ram]):
        return usable, "e820"
    if log and log.early_node_ranges:
        return [(r.start, r.end) for r in log.early_node_ranges], "early memory node ranges"
    return [(r.start, r.end) for r in srat], "SRAT ranges (the log shows no e820)"


def _coarsen(ram: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge RAM across small firmware gaps: only holes of HOLE_MIN or more count."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ram):
        if out and start - out[-1][1] < HOLE_MIN:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _clip(srat: Sequence[SratMemory], ram: list[tuple[int, int]]) -> tuple[list[SratMemory], list[SratMemory]]:
    kept: list[SratMemory] = []
    dropped: list[SratMemory] = []
    for rng in srat:
        parts = [replace(rng, start=max(rng.start, s), end=min(rng.end, e))
                 for s, e in ram if s < rng.end and rng.start < e]
        parts = [p for p in parts if p.size >= MIN_PIECE]
        kept += parts
        if not parts:
            dropped.append(rng)
    return sorted(kept, key=lambda p: p.start), dropped


def _srat_from_table(path: Path) -> list[SratMemory]:
    table = decode_srat(read_table_file(path, "SRAT"), str(path))
    # The kernel numbers proximity domains in the order it parses them: CPUs, then memory.
    order: list[int] = []
    for sub in table.subtables:
        if isinstance(sub, (ProcessorLocalApicAffinity, X2ApicAffinity)) and sub.proximity_domain not in order:
            order.append(sub.proximity_domain)
    memory = [m for m in table.memory_affinities if m.enabled and m.length]
    for mem in memory:
        if mem.proximity_domain not in order:
            order.append(mem.proximity_domain)
    return [SratMemory(node=order.index(m.proximity_domain), pxm=m.proximity_domain, start=m.base_address,
                       end=m.end, hotplug=m.hot_pluggable, non_volatile=m.non_volatile) for m in memory]


def _kernel_address(log: BootLog | None) -> tuple[int, str]:
    dump = log.last_dump if log else None
    if dump:
        image = [r for r in dump.reserved if r.base >= 1 * MiB]
        if image:
            return image[0].base, f"first reserved region of the MEMBLOCK dump at line {dump.line}"
    return DEFAULT_KERNEL_ADDRESS, "assumed: x86-64 default load address"


def _node_at(address: int, ranges: Sequence[SratMemory | ScaledRange]) -> int | None:
    for rng in ranges:
        if rng.start <= address < rng.end:
            return rng.field.node if isinstance(rng, ScaledRange) else rng.node
    return None


def _cmdline(log: BootLog | None, ranges: Sequence[ScaledRange], holes: Sequence[ScaledHole]) -> str:
    if log and log.command_line is not None:
        words = [w for w in log.command_line.split() if w.startswith(_KEPT_OPTIONS)]
    else:
        words = ["movable_node"] if any(r.field.hotplug for r in ranges) else []
    words += [f"memmap={format_size(h.end - h.start)}${h.start:#x}" for h in holes]
    return " ".join(words)


def _initrd_zone(ranges: tuple[ScaledRange, ...], kernel_node: int | None
                 ) -> tuple[tuple[ScaledRange, ...], ScaledRange | None]:
    """Give the top block below 4 GiB to the kernel's node when a hotplug range holds it."""
    low = [r for r in ranges if r.end <= FOUR_GIB]
    if not low or kernel_node is None:
        return ranges, None
    top = max(low, key=lambda r: r.end)
    # The kernel image pins its own node anyway; only another, hotpluggable node needs it.
    if not top.field.hotplug or top.field.node == kernel_node or top.size <= UNIT:
        return ranges, None
    # The field range's PXM is not the kernel node's.
    zone = ScaledRange(replace(top.field, node=kernel_node, pxm=None, hotplug=False), top.end - UNIT, top.end)
    cut = ScaledRange(top.field, top.start, top.end - UNIT)
    return tuple(cut if r is top else r for r in ranges) + (zone,), zone


def _guest_address(address: int, ranges: Sequence[ScaledRange]) -> int | None:
    """A field address in the guest: same offset share of its scaled range, block-aligned."""
    for r in ranges:
        if r.field.start <= address < r.field.end:
            offset = (address - r.field.start) * r.size // r.field.size
            return r.start + offset // UNIT * UNIT
    return None


def _zone_expectations(log: BootLog | None, ranges: Sequence[ScaledRange], nodes: Sequence[int]
                       ) -> dict[str, Any]:
    """The field's ZONE_MOVABLE starts, moved into the guest: what the boot must reproduce."""
    if log is None or not log.srat_memory:
        return {}
    movable = []
    for node, start in sorted(log.movable_zone_start.items()):
        guest = _guest_address(start, ranges)
        if guest is not None and node in nodes:
            movable.append({"node": nodes.index(node), "start": f"{guest:#x}"})
    moving = {m["node"] for m in movable}
    return {"movable": movable, "not_movable": [i for i in range(len(nodes)) if i not in moving]}


def _field_cpus(log: BootLog | None) -> dict[int, int]:
    """CPUs per field node: distinct APIC ids of ``SRAT: PXM p -> APIC a -> Node n``."""
    apics: dict[int, set[int]] = {}
    for entry in log.pxm_apic if log else ():
        apics.setdefault(entry.node, set()).add(entry.apic_id)
    return {node: len(ids) for node, ids in sorted(apics.items())}


def _guest_nodes(ranges: Sequence[ScaledRange], windows: Sequence[HotplugWindow],
                 field_cpus: dict[int, int]) -> tuple[int, ...]:
    """Every field node with RAM, CPUs or a hotplug window, in node order: a node without
    RAM stays memoryless.
    The kernel numbers nodes in the order it meets their PXMs, CPU entries first
    (arch/x86/mm/srat.c acpi_numa_processor_affinity_init -> acpi_map_pxm_to_node), and
    the override lists guest CPU i on guest node i, so guest numbering follows this order."""
    return tuple(sorted({r.field.node for r in ranges} | {w.field.node for w in windows} | set(field_cpus)))


def _field_pxms(log: BootLog | None, srat: Sequence[SratMemory], nodes: Sequence[int]) -> tuple[int, ...]:
    """The field's proximity domain of each guest node, when it is not simply the node index
    (R820: PXM 1-4 for nodes 0-3); the override SRAT then writes these."""
    seen: dict[int, set[int]] = {}
    for rng in srat:
        if rng.pxm is not None:
            seen.setdefault(rng.node, set()).add(rng.pxm)
    for entry in log.pxm_apic if log else ():
        seen.setdefault(entry.node, set()).add(entry.pxm)
    pxms = tuple(min(seen.get(n, {n})) for n in nodes)
    return () if pxms == tuple(range(len(nodes))) or len(set(pxms)) != len(pxms) else pxms


def _machine(nodes: Sequence[int], memory: dict[int, int], field_cpus: dict[int, int]) -> dict[str, Any]:
    """One guest CPU on every node that had CPUs in the field (all on the first node when the
    log shows no CPU affinity), so the guest's SRAT has a CPU entry where the field's had."""
    with_cpus = [n for n in nodes if field_cpus.get(n)] or [nodes[0]]
    return {"cpus": len(with_cpus), "nodes": [
        {"memory": format_size(memory[n]) if memory[n] else 0,
         **({"cpus": [with_cpus.index(n)]} if n in with_cpus else {})}
        for n in nodes]}


def _windows_data(nodes: Sequence[int], windows: Sequence[HotplugWindow], ram: int) -> dict[str, Any]:
    """A slot and an optional DIMM (not plugged at boot) per hotplug window."""
    if not windows:
        return {}
    return {"slots": len(windows), "maxmem": format_size(ram + len(windows) * UNIT),
            "dimms": [{"id": w.dimm, "size": format_size(UNIT), "node": nodes.index(w.field.node)}
                      for w in windows]}


def _scenario_data(name: str, nodes: Sequence[int], ranges: Sequence[ScaledRange], holes: Sequence[ScaledHole],
                   windows: Sequence[HotplugWindow], pxms: tuple[int, ...], cmdline: str,
                   description: str, zones: dict[str, Any], field_cpus: dict[int, int]) -> dict[str, Any]:
    memory = {n: sum(r.size for r in ranges if r.field.node == n) for n in nodes}
    # Hole blocks are RAM QEMU must still provide; the lowest range's node carries them.
    memory[ranges[0].field.node] += sum(h.end - h.start for h in holes)
    extra = _windows_data(nodes, windows, sum(memory.values()))
    placed: list[ScaledRange | HotplugWindow] = [*ranges, *windows]
    srat = [{"start": f"{r.start:#x}", "size": format_size(r.size), "node": nodes.index(r.field.node),
             "hotplug": r.field.hotplug} for r in placed]
    return {
        "name": name, "description": description,
        "machine": {**_machine(nodes, memory, field_cpus),
                    **{k: v for k, v in extra.items() if k != "dimms"}},
        **({"dimms": extra["dimms"]} if extra else {}),
        "srat": {"source": "override", "ranges": srat, **({"pxm": list(pxms)} if pxms else {})},
        "kernel": {"cmdline": cmdline},
        "expect": {"table_upgrade": True, **zones},
    }


def _scenario_name(path: Path) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in path.stem.lower()).strip("-")
    return ("field-" + cleaned)[:60].rstrip("-")


def _read(dmesg: Path | None, srat: Path | None, boot: int | None
          ) -> tuple[str, BootLog | None, list[SratMemory]]:
    if dmesg is None and srat is None:
        raise BadInputError("import: give a boot log (--dmesg), an SRAT (--srat) or both")
    where = str(dmesg or srat)
    # Any form a field log is pasted in; one boot of a file holding several.
    log = load_field_boot_log(dmesg, boot)[1] if dmesg else None
    if srat is not None:
        srat_ranges = _srat_from_table(srat)
    else:
        assert log is not None
        srat_ranges = list(log.srat_memory)
    if not srat_ranges:
        raise BadInputError(f"{where}: no 'ACPI: SRAT: Node N PXM N [mem ...]' lines: nothing to import")
    return where, log, srat_ranges


def import_field(dmesg: Path | None, srat: Path | None = None, budget: int | None = None,
                 boot: int | None = None) -> FieldImport:
    """Read a field log and/or SRAT binary (the binary wins for ranges) into a scenario:
    with a ``budget`` (bytes of guest RAM) a full-size replica when it fits, else scaled."""
    where, log, srat_ranges = _read(dmesg, srat, boot)
    ram, ram_source = _ram(log, srat_ranges)
    pieces, dropped = _clip(srat_ranges, _coarsen(ram))
    if not pieces:
        raise BadInputError(f"{where}: no SRAT memory range holds RAM (RAM from {ram_source})")
    hot_windows, dropped = split_windows(dropped)
    plan = plan_replica(log, srat_ranges, len(hot_windows), budget) if budget is not None else None
    if plan is not None and plan.reason is None:
        return _replica(where, log, ram_source, srat_ranges, pieces, dropped, plan)
    ranges, holes = scale(pieces, where)
    ranges, initrd_zone = _initrd_zone(ranges, _node_at(DEFAULT_KERNEL_ADDRESS, ranges))
    ranges = tuple(sorted(ranges, key=lambda r: r.start))
    windows = place_windows(hot_windows, max([r.end for r in ranges] + [h.end for h in holes]))
    address, address_source = _kernel_address(log)
    description = (f"Imported by memhp import from {where}: the field node map scaled down "
                   "(order, interleaving, holes, hotplug marks and hotplug windows kept).")
    field_cpus = _field_cpus(log)
    nodes = _guest_nodes(ranges, windows, field_cpus)
    data = _scenario_data(_scenario_name(Path(where)), nodes, ranges, holes, windows,
                          _field_pxms(log, srat_ranges, nodes), _cmdline(log, ranges, holes), description,
                          _zone_expectations(log, ranges, nodes), field_cpus)
    return FieldImport(
        where, ram_source, ranges, holes, tuple(dropped), windows, address, address_source,
        _node_at(address, pieces), _node_at(DEFAULT_KERNEL_ADDRESS, ranges), initrd_zone, field_cpus,
        nodes, parse_scenario(data, where), tomli_w.dumps(data), False, plan.reason if plan else None,
    )


def _replica(where: str, log: BootLog | None, ram_source: str, srat: Sequence[SratMemory],
             pieces: Sequence[SratMemory], dropped: Sequence[SratMemory], plan: ReplicaPlan) -> FieldImport:
    """The field's SRAT ranges, RAM addresses and node sizes as they are."""
    ranges = tuple(ScaledRange(p, p.start, p.end) for p in pieces)
    gaps = tuple(ScaledHole(s, e, s, e) for s, e in plan.gaps)
    field_cpus = _field_cpus(log)
    nodes = _guest_nodes(ranges, (), field_cpus)
    machine = _machine(nodes, {n: plan.node_memory.get(n, 0) for n in nodes}, field_cpus)
    words = [w for w in (log.command_line or "").split() if w.startswith(_KEPT_OPTIONS)] if log else []
    words += [f"memmap={e - s:#x}${s:#x}" for s, e in plan.gaps]
    pxms = _field_pxms(log, srat, nodes)
    field_movable = log.movable_zone_start if log else {}
    movable = [{"node": nodes.index(n), "start": f"{a:#x}"} for n, a in sorted(field_movable.items())]
    data = {
        "name": _scenario_name(Path(where))[:55].rstrip("-") + "-full",
        "description": f"Full-size replica by memhp import of {where}: the field's SRAT ranges, "
                       "RAM addresses and node sizes.",
        "machine": {**machine, "reserve": False},
        "srat": {"source": "override", "ranges": [
            {"start": f"{r.start:#x}", "size": f"{r.size:#x}", "node": nodes.index(r.node),
             "hotplug": r.hotplug} for r in srat], **({"pxm": list(pxms)} if pxms else {})},
        "kernel": {"cmdline": " ".join(words)},
        "expect": {"table_upgrade": True, "movable": movable,
                   "not_movable": [i for i, n in enumerate(nodes) if n not in field_movable]},
    }
    address, address_source = _kernel_address(log)
    kernel_node = _node_at(DEFAULT_KERNEL_ADDRESS, ranges)
    return FieldImport(
        where, ram_source, ranges, gaps, tuple(dropped), (), address, address_source,
        _node_at(address, pieces), kernel_node, None, field_cpus, nodes,
        parse_scenario(data, where), tomli_w.dumps(data), True, None,
    )


def import_to_file(dmesg: Path | None, srat: Path | None, out: Path, budget: int | None = None,
                   boot: int | None = None) -> FieldImport:
    """``memhp import``: write the scenario to ``out`` and return what was scaled."""
    imported = import_field(dmesg, srat, budget, boot)
    write_output(out, imported.toml.encode(), SCENARIO)
    return imported
