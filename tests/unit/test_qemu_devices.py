"""virtio-mem-pci's QEMU arguments: one backend the device may plug from, the size asked
for at boot; the same dictionaries serve QMP and the command line."""
from __future__ import annotations

from harness.qemu.devices import command_line, virtio_mem_args


def test_virtio_mem_backend_and_device() -> None:
    backend, device = virtio_mem_args("vm0", 1, 2 << 30, 0)
    assert backend == {"qom-type": "memory-backend-ram", "id": "vmem-vm0", "size": 2 << 30}
    assert device == {"driver": "virtio-mem-pci", "id": "vm0", "memdev": "vmem-vm0", "node": 1,
                      "requested-size": 0}
    assert command_line(backend, device) == [
        "-object", "memory-backend-ram,id=vmem-vm0,size=2147483648",
        "-device", "virtio-mem-pci,id=vm0,memdev=vmem-vm0,node=1,requested-size=0"]


def test_block_size_only_when_given() -> None:
    _, device = virtio_mem_args("vm1", 0, 1 << 30, 1 << 29, block_size=4 << 20)
    assert device["block-size"] == 4 << 20
