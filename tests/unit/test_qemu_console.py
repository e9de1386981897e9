"""ConsoleWatcher on a file written the way QEMU's file chardev writes it: in pieces, while
the watcher reads. It must flag a panic within a few polls and hand out the recognised
lines after a mark, without ever touching the file."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.logparse.failures import OfflineFailure, PageFlags, PageHeader
from harness.qemu.console import POLL_SECONDS, ConsoleWatcher

RECORDED = Path(__file__).parents[2] / "fixtures" / "logs" / "recorded" / "memhp-6.1-three-node-no-movable-node.log"
PANIC = b"[   12.345678] Kernel panic - not syncing: sysrq triggered crash\r\r\n"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[Path, ConsoleWatcher]]:
    path = tmp_path / "console.log"  # not there yet: QEMU creates it
    watcher = ConsoleWatcher(path)
    yield path, watcher
    watcher.close()


def _write(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_panic_is_flagged_within_a_few_polls(console: tuple[Path, ConsoleWatcher]) -> None:
    path, watcher = console
    _write(path, b"[    0.000000] Linux version 6.1.0-47-amd64 (x) #1\r\r\n")
    _write(path, PANIC[:30])
    time.sleep(4 * POLL_SECONDS)
    assert not watcher.panic.is_set(), "half a line is not a panic yet"
    _write(path, PANIC[30:])
    # The watcher reads the file every POLL_SECONDS: its own interval is the bound waited
    # for (40 polls), not a measured duration.
    assert watcher.panic.wait(40 * POLL_SECONDS)
    assert watcher.panic_line == "Kernel panic - not syncing: sysrq triggered crash"


def test_kernel_banner_is_seen_only_once_its_line_is_complete(console: tuple[Path, ConsoleWatcher]) -> None:
    path, watcher = console
    _write(path, b"SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\r\n[    0.000000] Linux vers")
    watcher.catch_up()
    assert watcher.kernel_release is None, "firmware output and half a banner are not the kernel"
    _write(path, b"ion 6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP\r\r\n")
    watcher.catch_up()
    assert watcher.kernel_release == "6.1.0-57-amd64"


def test_catch_up_sees_what_was_written_just_before(console: tuple[Path, ConsoleWatcher]) -> None:
    path, watcher = console
    watcher.catch_up()
    _write(path, PANIC)
    watcher.catch_up()  # what why_gone() does when QEMU went away: no waiting for a poll
    assert watcher.panic.is_set()


def test_since_mark_is_the_recognised_lines_printed_after_it(console: tuple[Path, ConsoleWatcher]) -> None:
    path, watcher = console
    lines = RECORDED.read_bytes().split(b"\n")
    cut = 588  # the first page dump starts on line 589
    _write(path, b"\n".join(lines[:cut]) + b"\n")
    mark = watcher.mark()
    assert mark == cut
    _write(path, b"\n".join(lines[cut:]))
    after = watcher.since(mark)
    assert all(line.number > cut for line in after)
    kinds = [type(item) for line in after for item in line.items]
    assert kinds == [PageHeader, PageFlags, OfflineFailure] * 2
    assert after[1].text == "[    2.476808] flags: 0x97ffffc0000200(slab|node=2|zone=2|lastcpupid=0x1fffff)"
    assert watcher.since(watcher.mark()) == ()
    assert path.read_bytes() == RECORDED.read_bytes(), "the artifact is QEMU's alone"
