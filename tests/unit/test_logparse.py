"""parse_boot_log on small hand-made logs: framing, pairing, dumps, sections, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import BadInputError, ParseError
from harness.logparse import AddressRange, BootLog, OfflineFailureKind, load_boot_log, parse_boot_log
from harness.memblock.model import MAX_NUMNODES, MemblockRegion

FIXTURE = Path(__file__).parents[2] / "fixtures" / "logs" / "qemu-6.1-three-node.log"

REQ = (
    "memblock_alloc_try_nid: 4096 bytes align=0x40 nid=0 from=0x0000000000000000 "
    "max_addr=0x0000000000000000 sparse_index_alloc+0x40/0x65"
)
RESULT = "memblock_reserve: [0x000000007ffd4000-0x000000007ffd4fff] memblock_alloc_range_nid+0xb0/0x13d"
NODE_DATA_RESERVE = "memblock_reserve: [0x000000007ffd5000-0x000000007fffffff] memblock_alloc_range_nid+0xb0/0x13d"


def test_serial_line_ends_and_timestamps() -> None:
    log = parse_boot_log("[    0.000000] RAMDISK: [mem 0xbfee4000-0xbffdffff]\r\r\nx86/mm: Memory block size: 128MB\r\r\n")
    assert log.ramdisk == AddressRange(0xBFEE4000, 0xBFFE0000)
    assert log.memory_block_size == 128 << 20


def test_interleaved_messages_on_one_line_both_parse() -> None:
    log = parse_boot_log("READY[    0.1] RAMDISK: [mem 0x1000-0x1fff][    0.2] memory memory3: Offline failed.\n")
    assert log.ramdisk == AddressRange(0x1000, 0x2000)
    assert [(f.line, f.block) for f in log.offline_failures] == [(1, 3)]


def test_journalctl_prefix() -> None:
    log = parse_boot_log("Mar 01 12:00:00 host kernel: x86/mm: Memory block size: 2048MB\n")
    assert log.memory_block_size == 2048 << 20


def test_alloc_request_consumes_its_result_reserve() -> None:
    log = parse_boot_log(f"{REQ}\n{RESULT}\n")
    (alloc,) = log.memblock_ops
    assert alloc.result == AddressRange(0x7FFD4000, 0x7FFD5000)  # type: ignore[union-attr]
    assert alloc.result_line == 2  # type: ignore[union-attr]


def test_node_data_reserve_without_request_stays_an_event() -> None:
    log = parse_boot_log(f"{NODE_DATA_RESERVE}\n")
    (event,) = log.memblock_events
    assert (event.func, event.caller_function, event.base) == ("memblock_reserve", "memblock_alloc_range_nid", 0x7FFD5000)


def test_failed_request_is_not_answered_by_a_different_size_reserve() -> None:
    log = parse_boot_log(f"{REQ}\n{NODE_DATA_RESERVE}\n")
    assert [type(op).__name__ for op in log.memblock_ops] == ["MemblockAlloc", "MemblockEvent"]
    assert log.memblock_allocs[0].result is None


def test_doubled_line_without_newline_keeps_the_glued_message() -> None:
    log = parse_boot_log(
        "memblock: reserved is doubled to 256 at [0x000000013fffd000-0x000000013fffe7ff]"
        "memblock_reserve: [0x000000013fffd000-0x000000013fffe7ff] memblock_double_array+0x1f0/0x2a0\n"
    )
    assert [type(op).__name__ for op in log.memblock_ops] == ["MemblockDoubled", "MemblockEvent"]


def test_dump_regions_and_truncated_dump() -> None:
    log = parse_boot_log(
        "MEMBLOCK configuration:\n"
        " memory size = 0x0000000040000000 reserved size = 0x0000000000001000\n"
        " memory.cnt  = 0x1\n"
        " memory[0x0]\t[0x0000000100000000-0x000000013fffffff], 0x0000000040000000 bytes on node 2 flags: 0x1\n"
        " reserved.cnt  = 0x2\n"
        " reserved[0x0]\t[0x0000000000000000-0x0000000000000fff], 0x0000000000001000 bytes flags: 0x0\n"
        " reserved[0x1]\t[0x00000000000"
    )
    (dump,) = log.memblock_dumps
    assert dump.memory == (MemblockRegion(0x100000000, 0x40000000, 1, 2),)
    assert dump.reserved == (MemblockRegion(0, 0x1000, 0, MAX_NUMNODES),)
    assert not dump.complete
    assert log.unparsed_suspicious == 1
    assert log.memblock_debug


def test_zone_section_ends_at_first_other_line() -> None:
    log = parse_boot_log(
        "Zone ranges:\n  DMA      [mem 0x0000000000001000-0x0000000000ffffff]\n  Device   empty\n"
        "Movable zone start for each node\n  Node 2: 0x0000000100000000\nEarly memory node ranges\n"
        "  Normal   [mem 0x0000000100000000-0x000000013fffffff]\n"
    )
    assert [z.name for z in log.zone_ranges] == ["DMA", "Device"]
    assert log.movable_zone_start == {2: 0x100000000}


def test_page_dump_carries_the_pfn_of_its_header() -> None:
    log = parse_boot_log(
        "page:00000000b6a1c6f1 refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x13dbfe\n"
        "flags: 0x17ffffc0001000(reserved|node=2|zone=3)\npage dumped because: unmovable page\n"
    )
    (failure,) = log.offline_failures
    assert (failure.kind, failure.pfn, failure.line) == (OfflineFailureKind.PAGE_DUMPED, 0x13DBFE, 3)


def test_log_without_memblock_debug() -> None:
    log = parse_boot_log("Linux version 6.12.117+deb12-amd64 (x) #1\nCommand line: console=ttyS0 quiet\n")
    assert (log.kernel_release, log.command_line, log.memblock_debug) == (
        "6.12.117+deb12-amd64", "console=ttyS0 quiet", False,
    )
    assert log.memblock_dumps == () and log.unparsed_suspicious == 0


def test_first_panic_wins() -> None:
    log = parse_boot_log("Kernel panic - not syncing: first\nKernel panic - not syncing: second\n")
    assert log.panic == "first"


def test_no_other_trigger_in_its_message_hides_a_panic() -> None:
    # ") on node " is node_data_elsewhere's trigger; its pattern fails on this message.
    log = parse_boot_log("Kernel panic - not syncing: NODE_DATA(1) on node 0 failed\n")
    assert log.panic == "NODE_DATA(1) on node 0 failed"
    assert log.unparsed_suspicious == 0


def test_binary_input_names_the_source(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ParseError, match="blob.bin: offset 0x0"):
        load_boot_log(blob)
    with pytest.raises(ParseError, match="^mem: "):
        parse_boot_log("\x00\x01\x02" * 100, "mem")


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="nope.log: cannot read"):
        load_boot_log(tmp_path / "nope.log")


def test_stray_bytes_in_a_real_log_are_tolerated(tmp_path: Path) -> None:
    noisy = tmp_path / "noisy.log"
    noisy.write_bytes(b"\xff\xfe\x00garbage\r\r\n" + FIXTURE.read_bytes())
    assert load_boot_log(noisy).kernel_release == "6.1.0-47-amd64"


def test_json_round_trip_of_a_real_log() -> None:
    log = load_boot_log(FIXTURE)
    data = json.loads(json.dumps(log.to_json()))
    assert BootLog.from_json(data) == log
    assert data["node_data"]["1"] == {"start": 0xBFEB9000, "end": 0xBFEE4000}
