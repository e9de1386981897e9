"""Memory devices on QEMU's side: the objects and devices a scenario's DIMMs become.

One room for every memory device model (pc-dimm, virtio-mem-pci): both the boot command
line and QMP hot-add take their arguments from here.
"""
from __future__ import annotations

from collections.abc import Mapping

from harness.qemu.facts import Need
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Cxl, Dimm, Scenario, VirtioMem

# The guest side of virtio-mem-pci (drivers/virtio/virtio_mem.c) on Debian kernels: a
# module on 6.1 and 6.12, needing virtio_pci, which 6.1 also builds as a module.
VIRTIO_MEM_MODULES = ("virtio_pci", "virtio_mem")
# The guest side of CXL memory on Debian's 6.12 (cxl_core and cxl_port built in): the
# ACPI root (CEDT), the PCI endpoint, the memdev, and dax with kmem, which adds a region's
# memory as System RAM (drivers/dax/kmem.c). dax_hmem, device_dax: dax_cxl's dependencies.
CXL_MODULES = ("cxl_acpi", "cxl_pci", "cxl_mem", "device_dax", "kmem", "dax_cxl", "dax_hmem")
# drivers/cxl/core/region.c cxl_region_invalidate_memregion: without
# CONFIG_CXL_REGION_INVALIDATION_TEST (Debian's kernels lack it) commit fails ("Failed to
# synchronize CPU cache state") when cpu_cache_has_invalidate_memregion() is false, which
# arch/x86 says whenever the CPU reports X86_FEATURE_HYPERVISOR: the vCPU must hide it.
CXL_CPU_FLAGS = ",-hypervisor"
# QEMU's docs/system/devices/cxl.rst example numbers the first pxb-cxl's bus 12; each
# further host bridge leaves room for its root port's bus.
CXL_FIRST_BUS, CXL_BUS_STEP = 12, 10


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


def virtio_mem_args(device_id: str, node: int, size: int, requested_size: int,
                    block_size: int | None = None,
                    memaddr: int | None = None) -> tuple[dict[str, object], dict[str, object]]:
    """The backend and device of a virtio-mem-pci: ``size`` is the most it can plug,
    ``requested_size`` what the guest is asked to plug at boot (``qom-set`` changes it),
    ``memaddr`` where its region starts (QEMU picks the first free gap without it)."""
    backend: dict[str, object] = {"qom-type": "memory-backend-ram", "id": f"vmem-{device_id}", "size": size}
    device: dict[str, object] = {"driver": "virtio-mem-pci", "id": device_id, "memdev": f"vmem-{device_id}",
                                 "node": node, "requested-size": requested_size}
    if block_size is not None:
        device["block-size"] = block_size
    if memaddr is not None:
        device["memaddr"] = memaddr
    return backend, device


def scenario_virtio_mem_args(device: VirtioMem, layout: MemoryLayout) -> tuple[dict[str, object], dict[str, object]]:
    """A scenario's virtio-mem device, at the address the layout gave it."""
    placed = layout.virtio_mem_region(device.id)
    return virtio_mem_args(device.id, device.node, device.size, device.requested_size,
                           device.block_size, placed.start)


def command_line(backend: Mapping[str, object], device: Mapping[str, object]) -> list[str]:
    """``-object``/``-device`` arguments from the QMP dictionaries (ids and drivers are
    validated names; numbers are bytes, which QEMU's size parser takes as they are)."""
    obj = ",".join([str(backend["qom-type"])] + [f"{k}={v}" for k, v in backend.items() if k != "qom-type"])
    dev = ",".join([str(device["driver"])] + [f"{k}={v}" for k, v in device.items() if k != "driver"])
    return ["-object", obj, "-device", dev]


# device_add's own arguments, no device property (device-list-properties does not list them).
_QDEV_OWN = ("driver", "id")


def qemu_needs(scenario: Scenario, layout: MemoryLayout) -> tuple[Need, ...]:
    """What the scenario asks of QEMU, from the very arguments its devices get (boot and
    hot-add alike): the machine type, each device type and each property it sets."""
    needs = [Need("machine", scenario.machine.type)]
    backends: list[dict[str, object]] = []
    for dimm in scenario.dimms:
        backend, device = dimm_args(dimm, layout)
        backends.append(backend)
        needs += [Need("pc-dimm")] + [Need("pc-dimm", k) for k in device if k not in _QDEV_OWN]
    for vmem in scenario.virtio_mem:
        backend, device = scenario_virtio_mem_args(vmem, layout)
        backends.append(backend)
        needs += [Need("virtio-mem-pci")] + [Need("virtio-mem-pci", k) for k in device if k not in _QDEV_OWN]
    if scenario.cxl:  # cxl_args: the type-3 device with a volatile backend (QEMU 8.0 on)
        needs += [Need("cxl-type3"), Need("cxl-type3", "volatile-memdev"), Need("memory-backend-ram", "share")]
    if not scenario.machine.reserve:  # -object memory-backend-ram,…,reserve=off (harness.qemu.cmdline)
        needs.append(Need("memory-backend-ram", "reserve"))
    needs += [Need("memory-backend-ram", k) for b in backends for k in b if k not in ("qom-type", "id")]
    return tuple(needs)


def cxl_args(device: Cxl, index: int) -> list[str]:
    """One CXL device's backend, host bridge, root port and type-3 device, and its fixed
    memory window (hw/cxl/cxl-host.c: ``-M cxl-fmw.N.targets.0=`` the host bridge)."""
    bridge, port = f"cxl-hb{index}", f"cxl-rp{index}"
    window = f"cxl-fmw.{index}"
    return [
        "-object", f"memory-backend-ram,id=cxl-mem-{device.id},share=on,size={device.size}",
        "-device", f"pxb-cxl,bus_nr={CXL_FIRST_BUS + CXL_BUS_STEP * index},bus=pcie.0,id={bridge}",
        "-device", f"cxl-rp,port=0,bus={bridge},id={port},chassis=0,slot={2 + index}",
        "-device", f"cxl-type3,bus={port},volatile-memdev=cxl-mem-{device.id},id={device.id}",
        "-M", f"{window}.targets.0={bridge},{window}.size={device.window},"
              f"{window}.interleave-granularity={device.interleave_granularity}",
    ]
