"""An inline SVG of a run's physical memory map, drawn from its ``model.json`` (a ModelFile).

Lanes: SRAT nodes, e820 RAM, zones, ZONE_MOVABLE, SRAT hotplug ranges, hot-added DIMMs,
reservations left in hotplug ranges (with callers) and memory blocks that failed to
offline. The address axis is piecewise: every interval between two band edges gets a
width growing with the log of its size, so 640 KiB and 8 GiB are both visible.
"""
from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from html import escape

from harness.analysis.pinning import HotplugRangeReservation, NodeHotplugFinding
from harness.logparse import AddressRange, BootLog
from harness.memblock.numa import SratMemory
from harness.run.artifacts import ActionRecord, ModelFile
from harness.scenario.schema import MEMORY_BLOCK_SIZE
from harness.units import hex_range

LABEL_W, LANE_H, GAP, AXIS_H = 170, 22, 4, 40
_NODE_FILL = ("#8ecae6", "#ffb703", "#90be6d", "#cdb4db", "#f4a261", "#a8dadc")


@dataclass(frozen=True)
class Band:
    start: int
    end: int
    label: str
    fill: str
    title: str
    alarm: bool = False  # drawn with a red outline: something the run should look at


@dataclass(frozen=True)
class Lane:
    name: str
    bands: tuple[Band, ...]


def human(addr: int) -> str:
    # Exact K only below 1M: 640K reads well, 1047268K does not.
    for unit, shift in (("G", 30), ("M", 20)) + ((("K", 10),) if addr < 1 << 20 else ()):
        if addr and addr % (1 << shift) == 0:
            return f"{addr >> shift}{unit}"
    return f"{addr:#x}"


def _span(start: int, end: int) -> str:
    return f"[{hex_range(start, end)}] ({human(end - start)})"


def _srat(model: ModelFile) -> Lane:
    # What the kernel printed, else what memhp asked QEMU for.
    rows: tuple[SratMemory, ...] = model.boot_log.srat_memory or model.layout.node_ranges
    return Lane("SRAT nodes", tuple(
        Band(r.start, r.end, f"N{r.node}" + (" hp" if r.hotplug else ""),
             _NODE_FILL[r.node % len(_NODE_FILL)],
             f"SRAT node {r.node}{' hotpluggable' if r.hotplug else ''} " + _span(r.start, r.end))
        for r in rows))


def _zones(boot: BootLog) -> list[Lane]:
    zones = tuple(Band(z.start, z.end, z.name, "#dde5b6", f"zone {z.name} " + _span(z.start, z.end))
                  for z in boot.zone_ranges if z.start is not None and z.end is not None)
    ends = {n: r.end for n, r in boot.initmem.items()}
    movable = tuple(Band(start, ends[n], f"Movable N{n}", "#52b788",
                         f"ZONE_MOVABLE of node {n} " + _span(start, ends[n]))
                    for n, start in boot.movable_zone_start.items()
                    if n in ends and start < ends[n])
    e820 = tuple(Band(e.start, e.end, "RAM", "#e9ecef", "e820 usable " + _span(e.start, e.end))
                 for e in boot.e820 if e.is_ram and e.start < 1 << 40)
    return [Lane("e820 RAM", e820), Lane("zones", zones), Lane("ZONE_MOVABLE", movable)]


def _range_status(finding: NodeHotplugFinding, rng: AddressRange) -> str:
    """The node's verdict for a range holding boot RAM; a range without is a hot-add window."""
    holds_ram = any(rng.overlaps(m.base, m.end) for m in finding.memory)
    return finding.status.value if holds_ram else "hot-add window"


def _hotplug(findings: tuple[NodeHotplugFinding, ...]) -> Lane:
    bands = []
    for f in findings:
        for r in f.hotplug_ranges:
            status = _range_status(f, r)
            bands.append(Band(r.start, r.end, f"N{f.node} {status}", "#ffd6a5",
                              f"node {f.node} hotplug range {_span(r.start, r.end)}: {status}",
                              alarm=status in ("cleared", "partial")))
    return Lane("hotplug ranges", tuple(bands))


def _dimm_ranges(model: ModelFile) -> dict[str, tuple[int, int]]:
    """Every DIMM the run saw: coldplugged ones from query-memory-devices, others from actions."""
    found: dict[str, tuple[int, int]] = {}
    for dev in model.memory_devices.before or ():
        dimm = dev.dimm_range()
        if dimm is not None:
            found[dimm[0]] = dimm[1:]
    for action in model.actions:
        if action.dimm is not None and action.dimm.start is not None and action.dimm.end is not None:
            found.setdefault(action.dimm.id, (action.dimm.start, action.dimm.end))
    return found


def _dimms(model: ModelFile) -> Lane:
    failed = {a.dimm.id for a in model.actions
              if a.do == "dimm_remove" and a.observed == "failure" and a.dimm is not None}
    bands = []
    for dimm_id, (start, end) in sorted(_dimm_ranges(model).items(), key=lambda kv: kv[1]):
        stuck = dimm_id in failed
        bands.append(Band(start, end, dimm_id + (" NOT REMOVED" if stuck else ""), "#bde0fe",
                          f"{dimm_id}: {_span(start, end)}"
                          + ("; removal failed" if stuck else ""), alarm=stuck))
    return Lane("DIMMs", tuple(bands))


def _reservations(items: tuple[HotplugRangeReservation, ...]) -> Lane:
    bands = []
    for item in items:
        region = item.reservation.region
        callers = ", ".join(item.reservation.callers)
        bands.append(Band(region.base, region.end, callers or "?", "#e63946",
                          f"reserved {_span(region.base, region.end)} in node "
                          f"{item.hotplug_node}'s hotplug range by {callers or 'unknown'}",
                          alarm=True))
    return Lane("reservations in hp", tuple(bands))


def _offline_failures(actions: tuple[ActionRecord, ...], block: int) -> Lane:
    return Lane("failed offline", tuple(
        Band(b.start, b.start + block, f"block {b.block}", "#e63946",
             f"{action.id}: memory block {b.block} {_span(b.start, b.start + block)} "
             f"did not offline: {b.error}", alarm=True)
        for action in actions for b in action.blocks if not b.ok))


def lanes(model: ModelFile) -> list[Lane]:
    block = model.boot_log.memory_block_size or MEMORY_BLOCK_SIZE
    return [_srat(model), *_zones(model.boot_log), _hotplug(model.hotplug_findings),
            _dimms(model), _reservations(model.reservations_in_hotplug_ranges),
            _offline_failures(model.actions, block)]


class PiecewiseScale:
    """Maps addresses to x so that each interval between edges is at least visible."""

    def __init__(self, edges: set[int], width: float) -> None:
        self.edges = sorted(edges)
        weights = [1 + math.log2(max(b - a, 1)) for a, b in itertools.pairwise(self.edges)]
        total = sum(weights) or 1.0
        self.xs = [0.0]
        for weight in weights:
            self.xs.append(self.xs[-1] + width * weight / total)

    def __call__(self, addr: int) -> float:
        i = bisect.bisect_right(self.edges, addr) - 1
        if i >= len(self.edges) - 1:
            return self.xs[-1]
        a, b = self.edges[i], self.edges[i + 1]
        return self.xs[i] + (self.xs[i + 1] - self.xs[i]) * (addr - a) / (b - a)


def _band_svg(band: Band, scale: PiecewiseScale, y: float) -> str:
    x0, x1 = LABEL_W + scale(band.start), LABEL_W + scale(band.end)
    w = max(x1 - x0, 2.0)
    stroke = 'stroke="#d00000" stroke-width="2"' if band.alarm else 'stroke="#555" stroke-width="0.5"'
    text = (f'<text x="{x0 + 3:.1f}" y="{y + 15}" font-size="11">{escape(band.label)}</text>'
            if w > 7 * len(band.label) else "")
    return (f'<g><title>{escape(band.title)}</title><rect x="{x0:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{LANE_H}" fill="{band.fill}" {stroke}/>{text}</g>')


def _axis(scale: PiecewiseScale, y: float) -> list[str]:
    out, free_from = [], -1e9
    for edge in scale.edges:
        x, label = LABEL_W + scale(edge), human(edge)
        half = 3.2 * len(label)  # about half the label's width at font-size 10
        if x - half < free_from:
            continue
        free_from = x + half + 4
        out.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{y + 6}" stroke="#ccc"/>'
                   f'<text x="{x:.1f}" y="{y + 20}" font-size="10" text-anchor="middle">'
                   f'{escape(label)}</text>')
    return out


def render_svg(all_lanes: list[Lane], width: int = 1200) -> str:
    edges = {e for lane in all_lanes for b in lane.bands for e in (b.start, b.end)} | {0}
    scale = PiecewiseScale(edges, width - LABEL_W - 20)
    notes = [b.title for lane in all_lanes for b in lane.bands if b.alarm]
    height = len(all_lanes) * (LANE_H + GAP) + AXIS_H + 16 * len(notes)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="memmap" width="{width}" '
             f'height="{height}" font-family="sans-serif">']
    parts += _axis(scale, len(all_lanes) * (LANE_H + GAP))
    for i, lane in enumerate(all_lanes):
        y = i * (LANE_H + GAP)
        parts.append(f'<text x="4" y="{y + 15}" font-size="12">{escape(lane.name)}</text>')
        parts += [_band_svg(band, scale, y) for band in lane.bands]
    base = len(all_lanes) * (LANE_H + GAP) + AXIS_H
    parts += [f'<text x="4" y="{base + 16 * i + 4}" font-size="12" fill="#d00000">'
              f'{escape(note)}</text>' for i, note in enumerate(notes)]
    parts.append("</svg>")
    return "\n".join(parts)


def memmap_svg(model: ModelFile) -> str:
    """The picture of one run's memory map."""
    return render_svg(lanes(model))
