"""Scenario actions (``[[actions]]``): what the harness does to a live guest, by ``do``."""
from __future__ import annotations

import enum
from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, model_validator

from harness.scenario.schema_types import Size
from harness.scenario.schema_types import Strict as _Strict


class Expect(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


class _Action(_Strict):
    # The fields that say what the action should come to, not what the guest does: two
    # scenarios whose actions differ only in these run the same boot (runner.boot_identity).
    CLAIMS: ClassVar[frozenset[str]] = frozenset({"expect"})

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")
    expect: Expect = Expect.SUCCESS
    timeout: float = Field(30.0, gt=0, le=3600)


class OfflineNode(_Action):
    do: Literal["offline_node"]
    node: int = Field(ge=0)


class BlockRangeAction(_Action):
    do: Literal["offline_range", "online_range"]
    start: Size
    size: Size
    online_type: Literal["online", "online_movable", "online_kernel"] = "online_movable"


class DimmAdd(_Action):
    do: Literal["dimm_add"]
    dimm: str


class DimmRemove(_Action):
    do: Literal["dimm_remove"]
    dimm: str


class NodeRemove(_Action):
    """Remove a whole node: its CPUs, then its DIMMs; the node must leave sysfs."""

    do: Literal["node_remove"]
    node: int = Field(ge=1)  # node 0 holds the boot CPU, which cannot be unplugged
    # QEMU 7.2 under TCG corrupts its own heap at the first memory-map change after a vCPU
    # unplug (DIMM eject or add: abort in memory_region_transaction_commit), so DIMMs go
    # first by default; cpus_first = true keeps the order that reproduces the crash.
    cpus_first: bool = False


class GuestWrite(_Action):
    """Write a value into a fixed set of sysfs knobs (never a free shell command)."""

    do: Literal["guest_setting"]
    setting: Literal["acpi_memory_hotplug_enabled", "acpi_processor_hotplug_enabled", "auto_online_blocks"]
    value: str = Field(pattern=r"^[a-z0-9_]{1,20}$")


class InjectFault(_Action):
    """Break the run on purpose, to test that the harness ends it cleanly with a verdict."""

    do: Literal["inject_fault"]
    fault: Literal["panic", "hang", "kill_qemu", "close_qmp", "stop_vcpus"]


class RunCommand(_Action):
    """Run a program in the guest (argv exec'ed as given, never through a shell); it
    succeeds when it exits with ``status`` before ``timeout``."""

    do: Literal["run"]
    argv: tuple[str, ...] = Field(min_length=1)
    status: int = Field(0, ge=0, le=255)


class Selftest(_Action):
    """The kernel's memory-hotplug selftest (mem-on-off-test.sh from Debian's
    linux-source-<source>, default: the booted kernel's version) with ``-r ratio``."""

    do: Literal["selftest"]
    test: Literal["memory-hotplug"] = "memory-hotplug"
    ratio: int = Field(2, ge=0, le=100)  # the script's -r: percent of blocks to offline
    # Any series whose linux-source Debian's archive has (kernels.source says which, in one
    # line, when it lacks it); not a fixed list that the archive outgrows.
    source: str | None = Field(None, pattern=r"^[0-9]+\.[0-9]+$")
    timeout: float = Field(600.0, gt=0, le=3600)


class Unmovable(_Action):
    """Consume unmovable kernel memory (page tables or slab) until the kernel refuses,
    and report how much was obtained and how much ZONE_MOVABLE was still free."""

    do: Literal["unmovable"]
    consume: Literal["page_tables", "slab"]
    timeout: float = Field(600.0, gt=0, le=3600)


class VirtioMemResize(_Action):
    """``qom-set`` a virtio-mem device's ``requested-size`` and wait until QEMU's plugged
    ``size`` reaches it (success) or ``timeout`` ends (failure: how far it got, what held it).
    ``zones``: bytes of the device's online memory blocks per zone afterwards."""

    do: Literal["virtio_mem_resize"]
    device: str
    requested_size: Size
    zones: dict[Literal["Normal", "Movable"], Size] | None = None


class SlabPin(_Action):
    """Unmovable kernel memory on purpose: ``files`` empty tmpfs files created by a process
    bound to ``cpu``, whose inodes and dentries (slab) the kernel takes from that CPU's node,
    its highest zone first (mm/page_alloc.c: the node's zonelist); or, with ``node``, by a
    process whose memory policy binds that node (a CXL node has no CPU to run on)."""

    do: Literal["slab_pin"]
    cpu: int | None = Field(None, ge=0)
    node: int | None = Field(None, ge=0)
    files: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _one_place(self) -> SlabPin:
        if (self.cpu is None) == (self.node is None):
            raise ValueError("slab_pin: give exactly one of cpu and node")
        return self


class CxlAction(_Action):
    """An action on one ``[[cxl]]`` device (harness/guest/cxl_actions.py)."""

    device: str


class CxlRegion(CxlAction):
    """Create, commit and bind a RAM region over the whole device through sysfs; its dax
    device comes up under kmem, whose blocks are onlined as ``online_type`` says, or left
    to the kernel's auto-online policy (``auto``). ``fill`` MiB of data then go into a
    tmpfs bound to the region's node (mpol=bind), checksummed for cxl_offline to compare.
    ``zone``: the zone every block must be in afterwards."""

    CLAIMS: ClassVar[frozenset[str]] = frozenset({"expect", "zone"})

    do: Literal["cxl_region"]
    online_type: Literal["online_movable", "online_kernel", "auto"] = "online_movable"
    fill: int = Field(0, ge=0, le=4096)
    zone: Literal["Movable", "Normal", "offline"] | None = None


class CxlOffline(CxlAction):
    """Offline the region's blocks (refusals with page flags); data a ``fill`` left must
    read back the same after the migration."""

    do: Literal["cxl_offline"]


class CxlTeardown(CxlAction):
    """Unbind kmem and the region, uncommit and delete it, free the endpoint's DPA, in
    that order; refused without touching sysfs while any block is online (sysfs would
    let it go on, and the guest dies: a finding memhp never triggers)."""

    do: Literal["cxl_teardown"]


class CxlRemove(CxlAction):
    """``device_del`` of the cxl-type3: judged by the guest and QEMU, since QEMU 10.0
    sends no DEVICE_DELETED for it (pciehp powers the slot off)."""

    do: Literal["cxl_remove"]


Action = Annotated[
    Union[OfflineNode, BlockRangeAction, DimmAdd, DimmRemove, NodeRemove, GuestWrite,
          InjectFault, RunCommand, Selftest, Unmovable, VirtioMemResize, SlabPin,
          CxlRegion, CxlOffline, CxlTeardown, CxlRemove],
    Field(discriminator="do"),
]


# The discriminator's tags: not keys a person wrote in the file.
ACTION_TAGS = frozenset({"offline_node", "offline_range", "online_range", "dimm_add",
                         "dimm_remove", "node_remove", "guest_setting", "inject_fault",
                         "run", "selftest", "unmovable", "virtio_mem_resize", "slab_pin",
                         "cxl_region", "cxl_offline", "cxl_teardown", "cxl_remove"})
