"""A virtio-mem resize against a guest whose driver follows or stops short: the outcome says
how far QEMU's plugged size got, the zones of the device's online blocks, and which blocks
(with their slab pages) hold an unplug that stopped."""
from __future__ import annotations

from typing import Any, cast

from harness.guest.agent import AgentReply
from harness.guest.state import MemoryBlock
from harness.guest.virtio_mem_actions import ResizeOutcome, resize, resize_words
from harness.guest.vm import GuestVM
from harness.scenario.layout import MemoryLayout, VirtioMemPlacement
from harness.scenario.schema import VirtioMemResize

BLOCK = 128 << 20
START = 1 << 32
LAYOUT = MemoryLayout(0x80000000, 0, START, 3 << 30, (), virtio_mem=(VirtioMemPlacement("vm0", 1, START, START + (2 << 30)),))


class FakeQmp:
    """QEMU's side: ``qom-set`` asks, the driver moves the size through ``steps``."""

    def __init__(self, steps: list[int]) -> None:
        self.size, self.steps, self.asked = steps[0], steps[1:], None

    def command(self, name: str, **args: Any) -> Any:
        if name == "qom-set":
            self.asked = args["value"]
            return {}
        assert name == "qom-get" and args["property"] == "size"
        return self.size

    def take_events(self, wait: float = 0.0) -> list[dict[str, Any]]:
        if self.asked is None or not self.steps:  # nothing moves before the request
            return []
        self.size = self.steps.pop(0)
        return [{"event": "MEMORY_DEVICE_SIZE_CHANGE", "data": {"id": "vm0", "size": self.size}}]


class FakeGuest:
    block_size = BLOCK

    def __init__(self, steps: list[int], blocks: tuple[MemoryBlock, ...]) -> None:
        self.qmp, self.blocks = FakeQmp(steps), blocks

    def blocks_in(self, start: int, end: int) -> tuple[MemoryBlock, ...]:
        return tuple(b for b in self.blocks if start <= b.start(BLOCK) < end)

    def call(self, verb: str, *args: object, timeout: float = 30.0) -> AgentReply:
        assert verb == "pageflags" and args == (32 * 32768, 32768)
        return AgentReply(verb, 0, ("pages=32768 nopage=0 reserved=0 slab=15336 pgtable=0 buddy=100 lru=0 "
                                    "first_reserved=",))


def _block(index: int, zone: str) -> MemoryBlock:
    return MemoryBlock(index, "online", 1, (zone,))


def test_a_grow_that_reaches_its_size_reports_the_zones() -> None:
    guest = FakeGuest([0, 512 << 20, 1 << 30], tuple(_block(32 + i, "Movable") for i in range(8)))
    action = VirtioMemResize(id="plug", do="virtio_mem_resize", device="vm0", requested_size=1 << 30)
    outcome = resize(cast(GuestVM, guest), LAYOUT, action)
    assert guest.qmp.asked == 1 << 30
    assert (outcome.reached, outcome.size_before, outcome.size) == (True, 0, 1 << 30)
    assert outcome.size_changes == (512 << 20, 1 << 30)
    assert outcome.zones == {"Movable": 1 << 30} and outcome.held == ()


def test_a_shrink_that_stops_short_is_an_outcome_with_the_blocks_that_hold_it() -> None:
    # The driver got from 1G to 62M and stays there (its retry comes after 50 s).
    guest = FakeGuest([1 << 30, 512 << 20, 62 << 20], (_block(32, "Normal"), MemoryBlock(33, "offline", 1, ())))
    action = VirtioMemResize(id="unplug", do="virtio_mem_resize", device="vm0", requested_size=0, timeout=2)
    outcome = resize(cast(GuestVM, guest), LAYOUT, action)
    assert (outcome.reached, outcome.size) == (False, 62 << 20)
    assert outcome.zones == {"Normal": BLOCK}
    assert [(h.block, h.zone, h.slab) for h in outcome.held] == [(32, "Normal", 15336)]
    words = resize_words(outcome)
    assert words == ("plugged 0x40000000 -> 0x3e00000 (stopped short of 0x0); online blocks: Normal 0x8000000; "
                     "held by memory32 (Normal, 15336 slab pages)")


def test_the_outcome_round_trips_through_json() -> None:
    outcome = ResizeOutcome("vm0", 0, 1 << 30, 0, (0,), {}, ())
    assert outcome.to_json()["size_changes"] == (0,) and outcome.to_json()["held"] == ()
