"""Memory-init time per node: the ``pgdatinit`` threads' own report.

``node %d deferred pages initialised in %ums`` (6.12 mm/mm_init.c, 6.1 mm/page_alloc.c:
deferred_init_memmap) is printed once per node whose struct pages were deferred, from one
kernel thread per node running in parallel, so the lines come in any order and may be
glued to other output. The time is the thread's own jiffies difference, in ms.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import ByKey, LineKind


@dataclass(frozen=True)
class DeferredInit:
    node: int
    ms: int

DEFERRED_INIT_RE = re.compile(r"node (?P<node>\d+) deferred pages initialised in (?P<ms>\d+)ms")

KINDS: tuple[LineKind[object], ...] = (
    LineKind(
        "deferred_init", "deferred pages initialised", DEFERRED_INIT_RE,
        lambda m, n: DeferredInit(int(m["node"]), int(m["ms"])),
        ByKey("deferred_init_ms", "node", "ms"),
    ),
)
