"""An action's console evidence: the lines logparse's failure kinds recognise among those
printed while the action ran, read from the console watcher's stream."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from harness.errors import GuestError
from harness.guest.actions import EVIDENCE_LINES, console_evidence, run_action
from harness.guest.agent import AgentReply
from harness.guest.state import MemoryBlock, PageFlagsUnread
from harness.guest.vm import GuestVM
from harness.logparse.reader import LineStream
from harness.qemu.console import ConsoleWatcher
from harness.scenario.schema import BlockRangeAction

RECORDED = Path(__file__).parents[2] / "fixtures" / "logs" / "recorded" / "memhp-6.1-three-node-no-movable-node.log"
LINES = RECORDED.read_bytes().split(b"\n")
FIRST_DUMP, SECOND_DUMP = LINES[588:593], LINES[596:601]  # lines 589-593 and 597-601
# The console before the action: the boot and an earlier refusal, which is not this action's.
BEFORE = LINES[:588] + SECOND_DUMP
FIRST_DUMP_EVIDENCE = [
    "[    2.476300] page:000000005e51f615 refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x100000",
    "[    2.476808] flags: 0x97ffffc0000200(slab|node=2|zone=2|lastcpupid=0x1fffff)",
    "[    2.477533] page dumped because: unmovable page",
]


class FakeGuest:
    """A guest whose kernel prints a page dump on the console while refusing the offline."""

    block_size = 128 << 20

    def __init__(self, console_log: Path) -> None:
        self.console_log = console_log
        self.console = ConsoleWatcher(console_log)

    def blocks_in(self, start: int, end: int) -> tuple[MemoryBlock, ...]:
        return (MemoryBlock(32, "online", 2, ("Normal",)),)

    def set_block_state(self, block: int, state: str, timeout: float) -> AgentReply:
        with open(self.console_log, "ab") as fh:
            fh.write(b"\n".join(FIRST_DUMP) + b"\n")
        return AgentReply("offline", 1, ("sh: write error: Device or resource busy",))

    def pageflags(self, block: int, block_size: int) -> Any:
        raise GuestError("no /proc/kpageflags")


@pytest.fixture
def guest(tmp_path: Path) -> Iterator[FakeGuest]:
    (tmp_path / "console.log").write_bytes(b"\n".join(BEFORE) + b"\n")
    fake = FakeGuest(tmp_path / "console.log")
    yield fake
    fake.console.close()


def test_refused_offline_collects_the_page_dump_printed_meanwhile(guest: FakeGuest) -> None:
    action = BlockRangeAction(id="offline-32", do="offline_range", start=4 << 30, size=128 << 20,
                              expect="failure", timeout=5)
    result = run_action(cast(GuestVM, guest), cast(Any, None), cast(Any, None), action)
    assert (result.succeeded, result.matched) == (False, True)
    assert result.console_evidence == FIRST_DUMP_EVIDENCE, "what was printed before the action is not its evidence"
    assert result.to_json()["console_evidence"] == FIRST_DUMP_EVIDENCE
    assert result.blocks[0].pageflags == PageFlagsUnread(error="no /proc/kpageflags")
    assert result.to_json()["blocks"][0]["pageflags"] == {"error": "no /proc/kpageflags"}


def test_evidence_is_the_failure_kinds_only_and_capped() -> None:
    text = b"\n".join(LINES) + b"\n"
    lines = tuple(line for line in LineStream().feed(text) if line.items)
    evidence = console_evidence(lines)
    assert evidence[:3] == FIRST_DUMP_EVIDENCE and len(evidence) == 6
    assert not any("raw: " in line or "memblock" in line for line in evidence)
    many = tuple(line for line in LineStream().feed((b"\n".join(FIRST_DUMP) + b"\n") * 30) if line.items)
    assert len(console_evidence(many)) == EVIDENCE_LINES


class _SlowDimm:
    """A guest whose new 1 GiB DIMM's 8 blocks show up, offline, at the ``shows_at``-th
    look, under node 1 from the ``node_at``-th (from the first by default) and are all
    online from the ``online_at``-th."""

    block_size = 128 << 20

    def __init__(self, shows_at: int | None, online_at: int | None = None, node_at: int = 0) -> None:
        self.looks, self.shows_at, self.online_at, self.node_at = 0, shows_at, online_at, node_at

    def blocks_in(self, start: int, end: int) -> tuple[MemoryBlock, ...]:
        self.looks += 1
        if self.shows_at is None or self.looks < self.shows_at:
            return ()
        state = "online" if self.online_at is not None and self.looks >= self.online_at else "offline"
        node = 1 if self.looks >= self.node_at else None
        return tuple(MemoryBlock(i, state, node, ()) for i in range(8))


def test_a_new_dimm_is_looked_for_soon_then_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.guest import actions

    pauses: list[float] = []
    monkeypatch.setattr(actions.time, "sleep", pauses.append)
    assert len(actions._wait_dimm_blocks(cast(GuestVM, _SlowDimm(4)), 0, 1 << 30, 30, False)) == 8
    assert pauses == [0.02, 0.04, 0.08]
    clock = iter(range(0, 1000, 3))  # 3 s per look: the 30 s timeout still ends the wait
    monkeypatch.setattr(actions.time, "monotonic", lambda: float(next(clock)))
    pauses.clear()
    assert actions._wait_dimm_blocks(cast(GuestVM, _SlowDimm(None)), 0, 1 << 30, 30, False) == ()
    assert max(pauses) == 0.5 and len(pauses) == 10


def test_an_auto_onlined_dimm_is_waited_for_until_every_block_is_online(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.guest import actions

    monkeypatch.setattr(actions.time, "sleep", lambda _: None)
    guest = _SlowDimm(2, online_at=5)
    blocks = actions._wait_dimm_blocks(cast(GuestVM, guest), 0, 1 << 30, 30, True)
    assert guest.looks == 5 and {b.state for b in blocks} == {"online"}
    clock = iter(range(0, 1000, 3))
    monkeypatch.setattr(actions.time, "monotonic", lambda: float(next(clock)))
    never = _SlowDimm(2)  # blocks that never come online: the timeout gives them as they are
    assert {b.state for b in actions._wait_dimm_blocks(cast(GuestVM, never), 0, 1 << 30, 30, True)} == {"offline"}


def test_a_new_dimm_is_waited_for_until_its_blocks_are_under_their_node(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """add_memory_resource lists a hot-added block before it links it under its node
    (mm/memory_hotplug.c, drivers/base/node.c); until then the state helper gives it no
    zones, so a wait that ended at its first sight would judge a zoneless DIMM."""
    from harness.guest import actions

    monkeypatch.setattr(actions.time, "sleep", lambda _: None)
    guest = _SlowDimm(2, node_at=4)
    blocks = actions._wait_dimm_blocks(cast(GuestVM, guest), 0, 1 << 30, 30, False)
    assert guest.looks == 4 and {b.node for b in blocks} == {1}
