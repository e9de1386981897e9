"""ZONE_MOVABLE's cost, measured: the ``unmovable`` action and its static helper.

The helper (helpers/unmovable.c, built static on first use by static_helper.py) consumes
unmovable kernel memory, page tables or slab, until the kernel refuses: the OOM killer
ends it (page-table and slab allocations cannot use ZONE_MOVABLE, so the kernel zones
run out while Movable is still free) or a call fails. Its last ``progress``
line is the state at the refusal: how much it obtained and how much free memory was left
in ZONE_MOVABLE and in the other zones.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from harness.guest.command import CommandRecord, CommandResult
from harness.guest.initramfs_files import FileEntry
from harness.guest.static_helper import static_helper
from harness.guest.user_command import keep_output
from harness.guest.vm import GuestVM
from harness.logparse.oom import OomKill
from harness.scenario.schema import Unmovable

GUEST_HELPER = "/opt/memhp-helpers/unmovable"
_LINE = re.compile(r"^(?P<what>start|progress|end [^=]*?)(?: errno=(?P<errno>\d+))? count=(?P<count>\d+)"
                   r" page_tables_kb=(?P<pt>-?\d+) slab_kb=(?P<slab>-?\d+)"
                   r" free_movable_kb=(?P<mov>\d+) free_kernel_kb=(?P<ker>\d+)$")


def helper_files() -> tuple[FileEntry, ...]:
    return (FileEntry(GUEST_HELPER, 0o755, static_helper("unmovable")),)


@dataclass(frozen=True)
class Sample:
    """One line of the helper: ``what`` is start, progress or ``end …``."""

    what: str
    count: int
    page_tables_kb: int
    slab_kb: int
    free_movable_kb: int
    free_kernel_kb: int


def samples(stdout: str) -> list[Sample]:
    out = []
    for line in stdout.splitlines():
        if m := _LINE.match(line.strip()):
            out.append(Sample(m["what"] + (f" errno={m['errno']}" if m["errno"] else ""),
                              int(m["count"]), int(m["pt"]), int(m["slab"]), int(m["mov"]), int(m["ker"])))
    return out


def measurement(action: Unmovable, res: CommandResult,
                kills: Sequence[OomKill]) -> dict[str, str | int] | None:
    """What the helper obtained (the consumed kind's growth from its first line to its
    last) and the free memory then; None without a start and a later line. ``kills``:
    the OOM killer's lines meanwhile (its verdict on the helper says how it ended)."""
    seen = samples(res.stdout.decode(errors="replace"))
    if len(seen) < 2:
        return None
    first, last = seen[0], seen[-1]
    field = "page_tables_kb" if action.consume == "page_tables" else "slab_kb"
    oom = next((k for k in kills if k.comm == "unmovable"), None)
    ended = last.what if last.what.startswith("end") else (
        "timed out" if res.timed_out else
        f"OOM killer (its pgtables: {oom.pgtables_kb} KiB)" if oom else f"exit status {res.status}")
    return {"consume": action.consume, "obtained_kb": getattr(last, field) - getattr(first, field),
            "count": last.count, "free_movable_kb": last.free_movable_kb,
            "free_kernel_kb": last.free_kernel_kb, "start_free_movable_kb": first.free_movable_kb,
            "start_free_kernel_kb": first.free_kernel_kb, "ended": ended}


def run_unmovable(vm: GuestVM, action: Unmovable) -> tuple[bool, str, CommandRecord]:
    """(succeeded, reason, record): success is a measurement ended by the kernel's refusal."""
    mark = vm.console.mark()
    res = vm.run([GUEST_HELPER, action.consume], action.timeout)
    record = keep_output(vm, action.id, res)
    kills = [i for line in vm.console.since(mark) for i in line.items if isinstance(i, OomKill)]
    found = measurement(action, res, kills)
    record = replace(record, measurement=found)
    if found is None:
        return False, f"unmovable {action.consume}: no measurement ({res.describe()})", record
    refused = str(found["ended"]).startswith(("OOM killer", "end refused"))
    return refused, (f"unmovable {action.consume}: obtained {found['obtained_kb']} KiB until "
                     f"{found['ended']}; free then: Movable {found['free_movable_kb']} KiB, "
                     f"other zones {found['free_kernel_kb']} KiB"), record
