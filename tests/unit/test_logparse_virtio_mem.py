"""virtio-mem's own lines, from the recorded plug/unplug cycles on Debian 6.1 and 6.12
(scripts/virtio-mem-cycle): the device as the driver configured it and each resize request."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.logparse import BootLog, VirtioMemField, load_boot_log, parse_boot_log
from harness.logparse.reader import LineReader

RECORDED = Path(__file__).parents[2] / "fixtures" / "logs" / "recorded"


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_recorded_cycle_device_and_requests(kernel: str) -> None:
    log = load_boot_log(RECORDED / f"memhp-{kernel}-virtio-mem-cycle.log")
    (device,) = log.virtio_mem_devices
    # -device virtio-mem-pci,node=1 in a 2G guest with maxmem=6G: the device-memory window at 4G
    assert (device.device, device.addr, device.region_size, device.nid) == ("virtio0", 4 << 30, 2 << 30, 1)
    assert (device.device_block_size, device.memory_block_size) == (2 << 20, 128 << 20)
    assert device.mode == "SBM" and device.sb_size == 2 << 20 and device.bb_size is None
    # probe (nothing asked), the 1G request, then the request back to 0 with 1G plugged
    assert [(r.plugged_size, r.requested_size) for r in device.requests] == [(0, 0), (0, 1 << 30), (1 << 30, 0)]
    assert device.messages == () and log.unparsed_suspicious == 0


def test_lines_keep_their_number_and_text() -> None:
    log = load_boot_log(RECORDED / "memhp-6.1-virtio-mem-cycle.log")
    first = log.virtio_mem[0]
    raw = (RECORDED / "memhp-6.1-virtio-mem-cycle.log").read_text().split("\n")[first.line - 1]
    assert first.text == "start address: 0x100000000" and first.text in raw
    assert first.field is VirtioMemField.ADDR and first.value == 4 << 30


def test_messages_are_kept_per_device_and_values_stop_at_the_number() -> None:
    # Formats of drivers/virtio/virtio_mem.c (virtio_mem_add_memory, virtio_mem_run_wq,
    # virtio_mem_init_hotplug); value lines have no "\n", so text may follow the number.
    text = "\n".join([
        "[    1.0] virtio_mem virtio0: start address: 0x140000000",
        "[    1.1] virtio_mem virtio0: big block size: 0x8000000",
        "[    1.2] virtio_mem virtio1: nid: 0",
        "[    2.0] virtio_mem virtio0: adding memory failed: -12",
        "[    3.0] virtio_mem virtio1: unknown error, marking device broken: -5",
        "[    4.0] virtio_mem virtio0: plugged size: 0x8000000 ",
        "[    4.1] virtio_mem virtio0: requested size: 0x0",
    ]) + "\n"  # a last line without its newline may be cut, so it states nothing
    log = parse_boot_log(text)
    zero, one = log.virtio_mem_devices
    assert (zero.addr, zero.mode, zero.bb_size, one.nid, one.addr) == (5 << 30, "BBM", 128 << 20, 0, None)
    assert [m.text for m in zero.messages] == ["adding memory failed: -12"]
    assert [m.line for m in one.messages] == [5]
    assert [(r.line, r.plugged_size, r.requested_size) for r in zero.requests] == [(6, 128 << 20, 0)]
    assert log.unparsed_suspicious == 0


def test_a_garbled_line_is_suspicious_not_an_error() -> None:
    reader = LineReader()
    assert reader.read(1, "[    1.0] virtio_mem virtio") == []
    assert reader.suspicious == 1


def test_round_trips_through_json() -> None:
    log = load_boot_log(RECORDED / "memhp-6.12-virtio-mem-cycle.log")
    assert BootLog.from_json(log.to_json()).virtio_mem_devices == log.virtio_mem_devices


def test_quotes_for_the_verdict() -> None:
    (device,) = load_boot_log(RECORDED / "memhp-6.12-virtio-mem-cycle.log").virtio_mem_devices
    assert device.quotes() == (
        "virtio0: start address: 0x100000000, region size: 0x80000000, device block size: 0x200000, "
        "nid: 1, subblock size: 0x200000",
        "virtio0 line 553: plugged size: 0x0, requested size: 0x0",
        "virtio0 line 556: plugged size: 0x0, requested size: 0x40000000",
        "virtio0 line 562: plugged size: 0x40000000, requested size: 0x0",
    )
    broken = parse_boot_log("[    2.0] virtio_mem virtio0: adding memory failed: -12\n").virtio_mem_devices[0]
    assert broken.quotes() == ("virtio0 line 1: adding memory failed: -12",)


def test_the_run_summary_quotes_the_driver() -> None:
    from dataclasses import replace

    from harness.run.artifacts import NO_INFO, ResultFile
    from harness.run.verdict import RunResult

    result = RunResult("s", "debian:6.12", "6.12.117+deb12-amd64")
    result.info = replace(NO_INFO, virtio_mem=("virtio0 line 1: adding memory failed: -12",))
    assert "\n  virtio-mem: virtio0 line 1: adding memory failed: -12" in result.summary()
    assert ResultFile.from_json(result.artifact().to_json()).info.virtio_mem == result.info.virtio_mem
