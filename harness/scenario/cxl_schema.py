"""``[[cxl]]``: a CXL type-3 memory device with its own host bridge, root port and fixed
memory window, named by QEMU's properties (docs/system/devices/cxl.rst):
``pxb-cxl`` → ``cxl-rp`` → ``cxl-type3,volatile-memdev=`` and ``-M cxl-fmw.N.…``.

``size`` is the volatile backend (the device's capacity, all of it one region),
``window`` the fixed memory window the firmware's CEDT announces (CFMWS), whose one
target is the device's host bridge, ``interleave_granularity`` the window's (bytes).

``srat_hotplug``: unset, the SRAT says nothing of the window (QEMU's own never does) and
the kernel makes its node from CEDT; set, the override SRAT describes the window as a
memory affinity of the device's node, hotpluggable or not, as firmware that configured the
device writes it, and the kernel takes the node from there.
"""
from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, model_validator

from harness.scenario.action_schema import Action, CxlAction, SlabPin
from harness.scenario.schema_types import BlockSize, Size
from harness.scenario.schema_types import Strict as _Strict

# hw/cxl/cxl-host.c cxl_fixed_memory_window_config: the window is a multiple of 256 MiB;
# the granularity a power of two from 256 bytes to 16 KiB (cxl_interleave_granularity_enc).
WINDOW_ALIGN = 256 << 20
GRANULARITIES = tuple(256 << i for i in range(7))


class Cxl(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    size: BlockSize
    window: Size = 4 << 30
    interleave_granularity: int = 256
    srat_hotplug: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Cxl:
        if self.size % WINDOW_ALIGN:
            raise ValueError(f"size {self.size:#x} is not a multiple of 256 MiB (a CXL region's "
                             "size is, drivers/cxl/core/region.c alloc_hpa)")
        if self.window % WINDOW_ALIGN or self.window < self.size:
            raise ValueError(f"window {self.window:#x} is not a multiple of 256 MiB of at least "
                             f"size {self.size:#x}")
        if self.interleave_granularity not in GRANULARITIES:
            raise ValueError(f"interleave_granularity {self.interleave_granularity}: one of "
                             f"{', '.join(map(str, GRANULARITIES))}")
        return self


def check_cxl(devices: tuple[Cxl, ...], machine_type: str, nodes: int, dimm_ids: Sequence[str],
              actions: Sequence[Action], srat_override: bool) -> None:
    """CXL needs q35 (QEMU's pxb-cxl sits on PCIe); ids unique, also against other devices;
    every CXL action names a device; a node-bound slab pin names a node the guest will
    have (each window gets the node after the SRAT's: :func:`guest_node`); a window in the
    SRAT needs the override (QEMU's SRAT has no entry for CXL windows)."""
    if devices and machine_type != "q35":
        raise ValueError(f"cxl devices need machine.type = \"q35\", not {machine_type!r}")
    for device in devices:
        if device.srat_hotplug is not None and not srat_override:
            raise ValueError(f"cxl {device.id}: srat_hotplug needs srat.source = \"override\" "
                             "(QEMU's own SRAT says nothing of CXL windows)")
    ids = [d.id for d in devices]
    if len(set(ids)) != len(ids) or set(ids) & set(dimm_ids):
        raise ValueError("cxl: ids must be unique, also against the dimms' and virtio_mem's")
    known = set(ids)
    for action in actions:
        if isinstance(action, CxlAction) and action.device not in known:
            raise ValueError(f"action {action.id}: no cxl device {action.device!r}")
        if isinstance(action, SlabPin) and action.node is not None and action.node >= nodes + len(devices):
            raise ValueError(f"action {action.id}: node {action.node}: the guest has nodes "
                             f"0-{nodes + len(devices) - 1} ({len(devices)} of them CXL windows)")


def guest_node(nodes: int, index: int) -> int:
    """The node the guest gives window ``index``: drivers/acpi/numa/srat.c acpi_parse_cfmws
    maps each CFMWS the SRAT does not describe to a fake proximity domain above the SRAT's
    highest, so it is numbered after every SRAT node (``Initmem setup node N as
    memoryless``). A window the override SRAT describes (``srat_hotplug``) has the next
    proximity domain after the machine's (:meth:`Srat.pxm_of`), and acpi_map_pxm_to_node
    numbers domains as the SRAT's entries first name them: the same node."""
    return nodes + index
