"""The OOM killer's verdict line (mm/oom_kill.c:__oom_kill_process, message "Out of memory"):
``%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB,
shmem-rss:%lukB, UID:%u pgtables:%lukB oom_score_adj:%hd``."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import Append, LineKind


@dataclass(frozen=True)
class OomKill:
    line: int
    pid: int
    comm: str
    pgtables_kb: int | None  # absent from kernels before 5.x's pgtables field


OOM_KILL_RE = re.compile(r"Out of memory: Killed process (?P<pid>\d+) \((?P<comm>[^)]*)\)"
                         r"(?:.*? pgtables:(?P<pgtables>\d+)kB)?")

KINDS: tuple[LineKind[object], ...] = (
    LineKind(
        "oom_kill", "Out of memory: Killed process", OOM_KILL_RE,
        lambda m, n: OomKill(n, int(m["pid"]), m["comm"],
                             int(m["pgtables"]) if m["pgtables"] else None),
        Append("oom_kills"),
    ),
)
