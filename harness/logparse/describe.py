"""Short human-readable summaries of parsed boot logs (``memhp parse`` without ``--json``)."""
from __future__ import annotations

from harness.logparse import BootLog
from harness.units import format_size, hex_range
from kernels.profile import profile_for


def profile_line(log: BootLog) -> str | None:
    """What ``parse`` says about the kernel profile the log is read with, if anything."""
    if not log.kernel_release:
        return None
    try:
        choice = profile_for(log.kernel_release)
    except ValueError as err:
        return f"profile: none ({err})"
    return f"profile: {choice.note}" if choice.note else None


def suspicious_lines(log: BootLog) -> list[str]:
    """Lines a known trigger claimed but no pattern read: a format the parser does not know."""
    if not log.unparsed_suspicious:
        return []
    head = (f"{log.unparsed_suspicious} line(s) look like known lines but were not read "
            f"(a changed format?); first: ")
    return [head + "; ".join(log.suspicious_examples)]


def describe_boot_log(log: BootLog) -> str:
    lines = [f"{log.source}: kernel {log.kernel_release or 'unknown'}"]
    if (profile := profile_line(log)) is not None:
        lines.append(f"  {profile}")
    lines += [f"  {text}" for text in suspicious_lines(log)]
    if log.command_line:
        lines.append(f"  command line: {log.command_line}")
    for srat in log.srat_memory:
        mark = " hotplug" if srat.hotplug else ""
        lines.append(f"  SRAT node {srat.node} (PXM {srat.pxm}): {hex_range(srat.start, srat.end)}{mark}")
    for upgrade in log.table_upgrades:
        lines.append(f"  ACPI table upgrade: {upgrade.action} {upgrade.signature}")
    lines.append(f"  memblock=debug: {'yes' if log.memblock_debug else 'no'}; "
                 f"{len(log.memblock_ops)} memblock operations, {len(log.memblock_dumps)} dumps")
    last = log.last_dump
    if last is not None:
        for region in last.memory:
            lines.append(f"  memory {hex_range(region.base, region.end)} node {region.nid} "
                         f"flags {region.flags:#x} ({format_size(region.size)})")
    for node, start in sorted(log.movable_zone_start.items()):
        lines.append(f"  ZONE_MOVABLE on node {node} from {start:#x}")
    if not log.movable_zone_start:
        lines.append("  no ZONE_MOVABLE")
    if log.panic:
        lines.append(f"  PANIC: {log.panic}")
    return "\n".join(lines)
