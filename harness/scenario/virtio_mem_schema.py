"""``[[virtio_mem]]``: a virtio-mem-pci device (QEMU's hw/virtio/virtio-mem.c, the guest's
drivers/virtio/virtio_mem.c), named by QEMU's own properties.

``size`` is the backend's size (the most the device can ever plug), ``requested_size`` what
the guest is asked to plug at boot, ``block_size`` the device block (QEMU's default on x86 is
the THP size, 2 MiB). The guest plugs and unplugs in device blocks inside memory blocks.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from collections.abc import Sequence

from harness.qemu.facts import VIRTIO_MEM_DEFAULT_BLOCK_SIZE as DEFAULT_BLOCK_SIZE
from harness.qemu.facts import VIRTIO_MEM_MIN_BLOCK_SIZE as MIN_BLOCK_SIZE
from harness.scenario.action_schema import Action, SlabPin, VirtioMemResize
from harness.scenario.schema_types import BlockSize, Size
from harness.scenario.schema_types import Strict as _Strict


class VirtioMem(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    node: int = Field(ge=0)
    size: BlockSize  # whole memory blocks: the driver only uses memory-block aligned parts
    requested_size: Size = 0
    block_size: Size | None = None

    @property
    def device_block_size(self) -> int:
        return self.block_size or DEFAULT_BLOCK_SIZE

    @model_validator(mode="after")
    def _check(self) -> VirtioMem:
        block = self.device_block_size
        # virtio_mem_set_block_size / virtio_mem_device_realize refuse these.
        if block < MIN_BLOCK_SIZE or block & (block - 1):
            raise ValueError(f"block_size {block:#x} is not a power of two of at least 1 MiB")
        if self.size % block:
            raise ValueError(f"size {self.size:#x} is not a multiple of block_size {block:#x}")
        if self.requested_size % block:
            raise ValueError(f"requested_size {self.requested_size:#x} is not a multiple of "
                             f"block_size {block:#x}")
        if self.requested_size > self.size:
            raise ValueError(f"requested_size {self.requested_size:#x} is above size {self.size:#x}")
        return self


def check_virtio_mem(devices: tuple[VirtioMem, ...], nodes: int, dimm_ids: list[str],
                     maxmem: int | None, used: int) -> None:
    """The scenario-wide rules: unique ids (also against DIMMs), existing nodes, and room
    in ``maxmem`` beside the boot RAM and DIMMs (``used``), as QEMU's memory_device_pre_plug
    demands."""
    ids = [d.id for d in devices]
    if len(set(ids)) != len(ids) or set(ids) & set(dimm_ids):
        raise ValueError("virtio_mem: ids must be unique, also against the dimms'")
    for device in devices:
        if device.node >= nodes:
            raise ValueError(f"virtio_mem {device.id}: node {device.node} does not exist")
    if devices and maxmem is None:
        raise ValueError("machine.maxmem is required when there are virtio_mem devices")
    if maxmem is not None and used + sum(d.size for d in devices) > maxmem:
        raise ValueError(f"nodes, dimms and virtio_mem need "
                         f"{used + sum(d.size for d in devices):#x} bytes, above machine.maxmem")


def check_virtio_mem_actions(actions: Sequence[Action], devices: tuple[VirtioMem, ...], cpus: int) -> None:
    """Resizes name a device and stay within its size and blocks; pins name a CPU."""
    known = {d.id: d for d in devices}
    for action in actions:
        if isinstance(action, VirtioMemResize):
            device = known.get(action.device)
            if device is None:
                raise ValueError(f"action {action.id}: no virtio_mem {action.device!r}")
            if action.requested_size > device.size or action.requested_size % device.device_block_size:
                raise ValueError(f"action {action.id}: requested_size {action.requested_size:#x} is "
                                 f"not a multiple of {device.device_block_size:#x} up to {device.size:#x}")
        if isinstance(action, SlabPin) and action.cpu is not None and action.cpu >= cpus:
            raise ValueError(f"action {action.id}: cpu {action.cpu} is not below machine.cpus = {cpus}")
