"""Memory devices on QEMU's side: the objects and devices a scenario's DIMMs become.

One room for every memory device model (pc-dimm today): both the boot command line and
QMP hot-add take their arguments from here.
"""
from __future__ import annotations

from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Dimm


def dimm_backend_id(dimm: Dimm) -> str:
    return f"mem-{dimm.id}"


def dimm_args(dimm: Dimm, layout: MemoryLayout | None = None) -> tuple[dict[str, object], dict[str, object]]:
    """The QMP ``object-add`` and ``device_add`` arguments for a DIMM (also used at boot).

    A boot-RAM DIMM gets ``addr=`` from the layout: the kernel is told it is RAM there
    (``memmap=``), so QEMU must map it exactly there, not where it would choose; so does a
    DIMM placed in its node's hotplug window.
    """
    backend = {"qom-type": "memory-backend-ram", "id": dimm_backend_id(dimm), "size": dimm.size}
    device: dict[str, object] = {"driver": "pc-dimm", "id": dimm.id,
                                 "memdev": dimm_backend_id(dimm), "node": dimm.node}
    placed = next((d for d in (layout.boot_dimms + layout.window_dimms if layout else ())
                   if d.id == dimm.id), None)
    if placed is not None:
        device["addr"] = placed.start
    return backend, device
