"""The field-vs-guest table ``memhp import`` prints: every range, hole, hotplug window and
memoryless node, CPUs per node, and what the guest could not keep."""
from __future__ import annotations

from harness.scenario.field_import import DEFAULT_KERNEL_ADDRESS, MIN_PIECE, FieldImport
from harness.scenario.field_windows import moved_windows
from harness.units import format_size, hex_range


def _row(field: str, size: str, node: str, hotplug: str, guest: str, guest_size: str) -> str:
    return f"{field:<44} {size:>8} {node:>4} {hotplug:<7}  {guest:<34} {guest_size:>5}"


def format_table(imported: FieldImport) -> str:
    """What was scaled: original → scaled ranges, holes, dropped ranges, the kernel's node."""
    size = ("full size: the field's own addresses and node sizes" if imported.full_size
            else f"scaled down: {imported.scaled_because}" if imported.scaled_because else "scaled down")
    lines = [f"{imported.source}: RAM from {imported.ram_source}; {size}",
             _row("field range", "size", "node", "hotplug", "guest range", "size")]
    rows: list[tuple[int, str]] = []
    for r in imported.ranges:
        if r is imported.initrd_zone:
            rows.append((r.start, _row("(initrd landing block, kernel's node)", "", str(r.field.node),
                                       "no", f"[mem {hex_range(r.start, r.end)}]", format_size(r.size))))
            continue
        f = r.field
        rows.append((r.start, _row(f"[mem {hex_range(f.start, f.end)}]", format_size(f.size), str(f.node),
                                   "yes" if f.hotplug else "no", f"[mem {hex_range(r.start, r.end)}]",
                                   format_size(r.size))))
    for h in imported.holes:
        rows.append((h.start, _row(f"hole [mem {hex_range(h.field_start, h.field_end)}]",
                                   format_size(h.field_end - h.field_start), "", "memmap",
                                   f"[mem {hex_range(h.start, h.end)}]", format_size(h.end - h.start))))
    for w in imported.windows:
        f = w.field
        rows.append((w.start, _row(f"[mem {hex_range(f.start, f.end)}] window", format_size(f.size),
                                   str(f.node), "yes", f"[mem {hex_range(w.start, w.end)}] {w.dimm}",
                                   format_size(w.size))))
    lines += [row for _, row in sorted(rows)]
    lines += [_row("(memoryless: CPUs only)", "0", str(n), "", f"node {i}, no memory", "0")
              for i, n in enumerate(imported.nodes) if n not in {r.field.node for r in imported.ranges}]
    lines += [f"dropped (no RAM, or under {format_size(MIN_PIECE)}): [mem {hex_range(d.start, d.end)}] "
              f"node {d.node}" for d in imported.dropped]
    lines.append(_cpu_line(imported))
    srat = imported.scenario.srat
    lines.append("PXM per node (field = guest): " + ", ".join(
        f"node {i} PXM {srat.pxm_of(i)}" for i in range(len(imported.nodes))))
    lines += [f"not kept: {line}" for line in not_kept(imported)]
    lines.append(f"kernel: field {imported.kernel_address:#x} ({imported.kernel_address_source}) "
                 f"on node {imported.field_kernel_node}; guest {DEFAULT_KERNEL_ADDRESS:#x} "
                 f"on node {imported.guest_kernel_node}")
    return "\n".join(lines)


def _cpu_line(imported: FieldImport) -> str:
    guest = [len(n.cpus) for n in imported.scenario.machine.nodes]
    if not imported.field_cpus:
        return f"CPUs: the log shows no 'SRAT: PXM -> APIC' lines; guest: {imported.scenario.machine.cpus} on node 0"
    pairs = [f"node {n} {imported.field_cpus.get(n, 0)}->{g}" for n, g in zip(imported.nodes, guest, strict=True)]
    return "CPUs per node, field->guest: " + ", ".join(pairs)


def not_kept(imported: FieldImport) -> list[str]:
    """What the scaled guest differs in, beyond sizes: said, never silently dropped."""
    out = [f"hotplug window [mem {hex_range(w.field.start, w.field.end)}] lay below field RAM; "
           "the guest's is above all RAM (QEMU's device-memory area)"
           for w in moved_windows(imported.windows, [r.field for r in imported.ranges])]
    cpus = sum(imported.field_cpus.values())
    if cpus > imported.scenario.machine.cpus:
        out.append(f"CPUs: {cpus} in the field, {imported.scenario.machine.cpus} in the guest "
                   "(one per node that had any)")
    # No field log here prints the SLIT's values (only "NUMA: Initialized distance table").
    out.append("node distances: the log shows none; the guest has the kernel's defaults (10 local, 20 remote)")
    if imported.windows:
        out.append("hotplug windows: scaled, one optional 128M DIMM each; the rest of QEMU's "
                   "device-memory area stays one hotpluggable range on the last node, as QEMU writes it")
    return out
