"""ConsoleWatcher on a file written the way QEMU's file chardev writes it: in pieces, while
the watcher reads. It must flag a panic within a few polls and hand out the recognised
lines after a mark, without ever touching the file."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.logparse.failures import OfflineFailure, PageFlags, PageHeader
from harness.logparse import load_boot_log
from harness.logparse.reader import MAX_LINE_BYTES
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


def test_the_closed_watcher_hands_out_the_boot_log_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    watcher = ConsoleWatcher(path)
    data = RECORDED.read_bytes()
    _write(path, data[:len(data) // 2])
    assert watcher.mark() > 0
    assert watcher.boot_log(str(path)) is None, "QEMU may still write: not before close"
    _write(path, data[len(data) // 2:])
    watcher.close()
    assert watcher.boot_log(str(path)) == load_boot_log(path)


def test_a_console_the_watcher_cannot_vouch_for_is_read_from_the_file(tmp_path: Path) -> None:
    cut, changed = tmp_path / "cut.log", tmp_path / "changed.log"
    watchers = [ConsoleWatcher(cut), ConsoleWatcher(changed)]
    _write(cut, b"x" * (MAX_LINE_BYTES + 1))  # read unfinished: the stream keeps only its end
    watchers[0].mark()
    _write(cut, b"\n")
    _write(changed, RECORDED.read_bytes())
    for watcher in watchers:
        watcher.close()
    _write(changed, b"written after QEMU was gone\n")
    assert [w.boot_log(str(p)) for w, p in zip(watchers, (cut, changed), strict=True)] == [None, None]
