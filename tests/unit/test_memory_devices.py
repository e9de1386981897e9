"""query-memory-devices typed where it enters (harness.qemu.qmp.memory_device): the
answers of a real run (fixtures/repeat: QEMU 7.2, two pc-dimms) and each kind's fields."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import InfrastructureError
from harness.qemu.qmp import MemoryDevice, PcDimmDevice, VirtioMemDevice, memory_device

ROOT = Path(__file__).resolve().parents[2]
SAVED = json.loads((ROOT / "fixtures/repeat/two-node-dimms-6.1-saved.json").read_text())


def test_a_recorded_answer_becomes_pc_dimms_with_their_ranges_and_keeps_its_words() -> None:
    devices = [memory_device(d) for d in SAVED["query-memory-devices"]]
    assert devices and all(isinstance(d, PcDimmDevice) for d in devices)
    for dev, answer in zip(devices, SAVED["query-memory-devices"]):
        assert dev.answer == answer and dev.id == answer["data"]["id"]
        assert dev.range == (answer["data"]["addr"], answer["data"]["addr"] + answer["data"]["size"])


def test_virtio_mem_starts_at_memaddr_and_spans_its_whole_region() -> None:
    dev = memory_device({"type": "virtio-mem", "data": {
        "id": "vm0", "memaddr": 0x140000000, "size": 0, "max-size": 2 << 30, "requested-size": 0,
        "block-size": 2 << 20, "node": 1, "memdev": "/objects/vmem-vm0"}})
    assert isinstance(dev, VirtioMemDevice) and dev.range == (0x140000000, 0x1C0000000) and dev.node == 1


def test_another_kind_is_kept_without_a_range() -> None:
    dev = memory_device({"type": "sgx-epc", "data": {"memaddr": 0, "size": 1, "node": 0}})
    assert type(dev) is MemoryDevice and dev.range is None and dev.type == "sgx-epc"


@pytest.mark.parametrize("answer", [{"type": "dimm"}, {"type": "dimm", "data": {"id": "d", "addr": 0}},
                                    {"type": "virtio-mem", "data": {"memaddr": "x"}}])
def test_an_answer_missing_what_qapi_requires_is_qemu_trouble(answer: dict[str, object]) -> None:
    with pytest.raises(InfrastructureError, match="query-memory-devices: "):
        memory_device(answer)
