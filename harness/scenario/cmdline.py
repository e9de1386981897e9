"""The kernel command line of a scenario: what every memhp boot needs, then the scenario's own."""
from __future__ import annotations

from harness.scenario.layout import MemoryLayout, compute_layout
from harness.scenario.schema import Scenario

# Always on: the memblock trace is the record (x86 discards memblock after boot), and it
# overruns the default 128 KiB log buffer; panic=-1 with -no-reboot turns a panic into a
# QEMU exit the harness sees at once.
BASE_CMDLINE = ("console=ttyS0,115200", "memblock=debug", "log_buf_len=16M", "loglevel=8",
                "panic=-1", "rdinit=/init")


def kernel_cmdline(scenario: Scenario, layout: MemoryLayout | None = None) -> str:
    """``layout``: the scenario's, if already computed (it places the boot-RAM DIMMs)."""
    parts = list(BASE_CMDLINE)
    if scenario.kernel.nokaslr:
        parts.append("nokaslr")
    # QEMU lists no pc-dimm in its e820 map: memmap= tells the kernel a boot-RAM DIMM is RAM.
    layout = compute_layout(scenario) if layout is None and scenario.boot_ram_dimms else layout
    parts += [f"memmap={d.memmap}" for d in (layout.boot_dimms if layout else ())]
    parts.extend(scenario.kernel.cmdline.split())
    return " ".join(parts)
