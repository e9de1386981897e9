"""``crashkernel=``: what the kernel reserves for kdump, and where, on the simulated memblock.

The reservation runs after NUMA init and before sparse_init (6.1 arch/x86/kernel/setup.c
setup_arch: initmem_init, ..., reserve_crashkernel, ..., x86_init.paging.pagetable_init;
6.12 the same with arch_reserve_crashkernel), so it sees the hotplug marks that survived:
under movable_node memblock skips hotpluggable memory (mm/memblock.c:should_skip_region),
without it a searched reservation lands where top-down finds room, hotpluggable or not.

Parsing follows kernel/crash_core.c (6.1) and kernel/crash_reserve.c (6.12): the last
``crashkernel=`` without a ``,high``/``,low`` suffix counts (get_last_crashkernel); its
value is ``SIZE[@BASE]`` or ranges ``START-[END]:SIZE[,...][@BASE]`` chosen by the
system RAM (memblock_phys_mem_size); without one, ``crashkernel=SIZE,high``.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.logparse.setup_arch import Crashkernel
from harness.memblock.sim import MemblockSim
from harness.units import memparse, option_values, strtoull
from kernels.profile import CrashkernelParse, CrashkernelRules

MiB = 1 << 20
CRASH_ALIGN = 16 * MiB  # arch/x86 (6.1 setup.c, 6.12 asm/crash_reserve.h)
CRASH_ADDR_LOW_MAX = 1 << 32  # SZ_4G on x86_64
CRASH_ADDR_HIGH_MAX = 1 << 46  # SZ_64T on x86_64
IO_TLB_SHIFT, IO_TLB_SEGSIZE = 11, 128  # include/linux/swiotlb.h
IO_TLB_DEFAULT_SIZE = 64 * MiB
SUFFIXES = (",high", ",low")
CALLER, CALLER_LOW = "crashkernel", "crashkernel (low)"
CRASH_CALLERS = (CALLER, CALLER_LOW)


def logged_caller(crash: Crashkernel) -> str:
    """The caller name of a logged reservation, as the simulator names its own."""
    return CALLER_LOW if crash.low else CALLER


@dataclass(frozen=True)
class CrashRequest:
    size: int
    base: int  # 0: the kernel searches
    high: bool  # crashkernel=SIZE,high
    low_size: int | None  # crashkernel=SIZE,low; None when not given


def _last(cmdline: str, suffix: str | None) -> str | None:
    values = option_values(cmdline, "crashkernel")
    if suffix is None:
        values = [v for v in values if not v.endswith(SUFFIXES)]
    else:
        values = [v for v in values if v.endswith(suffix)]
    return values[-1] if values else None


def _ranges(text: str, system_ram: int) -> tuple[int, int] | None:
    """parse_crashkernel_mem: the size of the range holding ``system_ram``, then @BASE."""
    size, rest = 0, text
    while True:
        start, after = memparse(rest)
        if after == rest or not after.startswith("-"):
            return None
        rest, end = after[1:], 1 << 64
        if not rest.startswith(":"):
            end, after = memparse(rest)
            if after == rest or end <= start:
                return None
            rest = after
        if not rest.startswith(":"):
            return None
        value, after = memparse(rest[1:])
        if after == rest[1:] or value >= system_ram:
            return None
        rest = after
        if start <= system_ram < end:
            size = value
            break
        if not rest.startswith(","):
            break
        rest = rest[1:]
    if not size:
        return 0, 0  # "crashkernel size resulted in zero bytes"
    if "@" not in rest:
        return size, 0
    at = rest.split("@", 1)[1]
    base, after = memparse(at)
    return (size, base) if after != at else None


def _simple(text: str) -> tuple[int, int] | None:
    """parse_crashkernel_simple: ``SIZE[@BASE]``, anything else after SIZE is refused."""
    size, rest = memparse(text)
    if rest == text:
        return None
    if rest.startswith("@"):
        return size, memparse(rest[1:])[0]
    return (size, 0) if not rest else None


def _suffixed(text: str, suffix: str) -> int | None:
    size, rest = memparse(text)
    return size if rest != text and rest == suffix else None


def _plain(text: str, system_ram: int) -> tuple[int, int] | None:
    """__parse_crashkernel without suffix: ranges when a ':' comes first, else simple."""
    return _ranges(text, system_ram) if ":" in text else _simple(text)


def crash_request(cmdline: str, system_ram: int, rules: CrashkernelRules) -> CrashRequest | None:
    """What the kernel asks memblock for, or None when it reserves nothing (the kernel
    warns about a value it cannot parse)."""
    low = _last(cmdline, ",low")
    low_size = None if low is None else _suffixed(low, ",low")
    plain = _last(cmdline, None)
    parsed = None if plain is None else _plain(plain, system_ram)
    if rules.parse is CrashkernelParse.ARCH_X86:
        # reserve_crashkernel: a plain value that fails or reads 0 gives way to ,high
        if parsed is not None and parsed[0]:
            return CrashRequest(parsed[0], parsed[1], False, low_size)
    elif plain is not None:
        # parse_crashkernel tries ,high only without any plain value (-ENOENT)
        if parsed is None or not parsed[0] or parsed[0] >= system_ram:
            return None
        return CrashRequest(parsed[0], parsed[1], False, None)  # ,low counts with ,high only
    high = _last(cmdline, ",high")
    size = None if high is None else _suffixed(high, ",high")
    if not size:
        return None
    if rules.parse is CrashkernelParse.GENERIC and (size >= system_ram or (low is not None and low_size is None)):
        return None  # a ,low given but unreadable fails the whole parse in 6.12
    return CrashRequest(size, 0, True, low_size)


def _swiotlb_bytes(cmdline: str) -> int:
    """kernel/dma/swiotlb.c:setup_io_tlb_npages: ``swiotlb=N`` slabs of 2 KiB, rounded up to
    a segment of 128; the last occurrence counts."""
    values = [v for v in option_values(cmdline, "swiotlb") if v[:1].isdigit()]
    if values:
        slabs = -(-strtoull(values[-1])[0] // IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE
        return slabs << IO_TLB_SHIFT
    return IO_TLB_DEFAULT_SIZE


def _low_size(req: CrashRequest, cmdline: str) -> int:
    """crashkernel=Y,low (0: none), else max(swiotlb_size_or_default() + 8M, 256M): 6.1
    reserve_crashkernel_low, 6.12 parse_crashkernel and crash_low_size_default."""
    if req.low_size is not None:
        return req.low_size
    return max(_swiotlb_bytes(cmdline) + 8 * MiB, 256 * MiB)


def _with_low(sim: MemblockSim, base: int, size: int, low_size: int) -> list[tuple[int, int, str]]:
    """The crash kernel at ``base`` and, when it lies above 4 GiB, reserve_crashkernel_low's
    ``low_size`` below; if that fails the kernel frees the crash kernel too."""
    out = [(base, base + size, CALLER)]
    if base < CRASH_ADDR_LOW_MAX or not low_size:
        return out
    low = sim.phys_alloc_range(low_size, CRASH_ALIGN, 0, CRASH_ADDR_LOW_MAX)
    if low is None:
        sim.phys_free(base, size)
        return []
    return out + [(low, low + low_size, CALLER_LOW)]


def reserve_crashkernel(sim: MemblockSim, cmdline: str, rules: CrashkernelRules) -> list[tuple[int, int, str]]:
    """Reserve on ``sim`` what a kernel with ``rules`` would; the (start, end, caller) reserved."""
    system_ram = sum(r.size for r in sim.memblock.memory.regions)  # memblock_phys_mem_size
    request = crash_request(cmdline, system_ram, rules)
    if request is None:
        return []
    if rules.parse is CrashkernelParse.ARCH_X86:
        return _reserve_61(sim, request, cmdline)
    return _reserve_612(sim, request, cmdline)


def _reserve_61(sim: MemblockSim, req: CrashRequest, cmdline: str) -> list[tuple[int, int, str]]:
    """6.1 arch/x86/kernel/setup.c:reserve_crashkernel."""
    if not req.base:
        base = None if req.high else sim.phys_alloc_range(req.size, CRASH_ALIGN, CRASH_ALIGN,
                                                          CRASH_ADDR_LOW_MAX)
        if base is None:
            base = sim.phys_alloc_range(req.size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_HIGH_MAX)
        if base is None:
            return []  # "crashkernel reservation failed - No suitable area found."
    else:
        base = sim.phys_alloc_range(req.size, MiB, req.base, req.base + req.size)
        if base is None:  # the range is exactly the request: base or nothing
            return []  # "crashkernel reservation failed - memory is in use."
    # reserve_crashkernel_low parses crashkernel=,low only when it is needed (above 4 GiB)
    return _with_low(sim, base, req.size, _low_size(req, cmdline))


def _reserve_612(sim: MemblockSim, req: CrashRequest, cmdline: str) -> list[tuple[int, int, str]]:
    """6.12 kernel/crash_reserve.c:reserve_crashkernel_generic (x86 arch_reserve_crashkernel).
    A fixed base is searched with CRASH_ALIGN too, so a base not 16 MiB aligned fails."""
    low_size = _low_size(req, cmdline) if req.high else 0  # parse_crashkernel sets it for ,high
    if req.base:
        search = (req.base, req.base + req.size)
    elif req.high:
        search = (CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX)
    else:
        search = (0, CRASH_ADDR_LOW_MAX)
    base = sim.phys_alloc_range(req.size, CRASH_ALIGN, *search)
    if base is None and not req.base:
        if not req.high:  # low first, then high with the default low part
            search, low_size = (CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX), _low_size(req, cmdline)
        else:  # high first, then low
            search = (0, CRASH_ADDR_LOW_MAX)
        base = sim.phys_alloc_range(req.size, CRASH_ALIGN, *search)
    if base is None:
        return []  # "crashkernel reservation failed" / "cannot allocate crashkernel"
    return _with_low(sim, base, req.size, low_size)
