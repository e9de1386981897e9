"""Memory-init time per node, as ratios: absolute times under TCG are noise, the ratio
between nodes of one boot (and between kernels measured in the same run) is the signal.

The time is the pgdatinit thread's (harness.logparse.meminit): only the struct pages whose
init was deferred (mm/mm_init.c:deferred_init_memmap on 6.12, mm/page_alloc.c on 6.1), so
per GiB it is the node's memory as the early node ranges give it, a rough normaliser.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.logparse import BootLog
from harness.logparse.common import JsonMixin

GIB = 1 << 30


@dataclass(frozen=True)
class NodeInitTime(JsonMixin):
    node: int
    ms: int
    memory: int | None  # bytes in the node's early node ranges
    ms_per_gib: float | None
    vs_fastest: float | None  # ms_per_gib over the lowest ms_per_gib of the boot


def node_init_times(log: BootLog) -> tuple[NodeInitTime, ...]:
    memory: dict[int, int] = {}
    for rng in log.early_node_ranges:
        memory[rng.node] = memory.get(rng.node, 0) + rng.end - rng.start
    per_gib = {n: ms / (memory[n] / GIB) for n, ms in log.deferred_init_ms.items() if memory.get(n)}
    fastest = min((v for v in per_gib.values() if v > 0), default=None)
    return tuple(NodeInitTime(n, ms, memory.get(n), _round(per_gib.get(n)),
                              _round(per_gib[n] / fastest) if fastest and n in per_gib else None)
                 for n, ms in sorted(log.deferred_init_ms.items()))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def describe_init_times(times: tuple[NodeInitTime, ...]) -> list[str]:
    if not times:
        return ["  memory init: no 'deferred pages initialised' lines (no deferred struct pages)"]
    out = []
    for t in times:
        rate = "" if t.ms_per_gib is None else f", {t.ms_per_gib:g} ms/GiB"
        ratio = "" if t.vs_fastest is None else f", x{t.vs_fastest:g} of the fastest node"
        out.append(f"    node {t.node}: deferred pages initialised in {t.ms} ms{rate}{ratio}")
    return ["  memory init per node (pgdatinit threads, in parallel; informational):", *out]


def compare_init_times(a: BootLog, b: BootLog) -> list[dict[str, object]]:
    """Per node: A's and B's ms and B/A (``memhp compare``; informational, never a verdict)."""
    ta, tb = a.deferred_init_ms, b.deferred_init_ms
    return [{"node": n, "a_ms": ta.get(n), "b_ms": tb.get(n),
             "b_over_a": round(tb[n] / ta[n], 2) if ta.get(n) and n in tb else None}
            for n in sorted(ta.keys() | tb.keys())]
