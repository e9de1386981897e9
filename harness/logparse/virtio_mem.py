"""virtio-mem's own lines: ``virtio_mem virtio0: …`` (drivers/virtio/virtio_mem.c, dev_info/
dev_warn/dev_err on the virtio device; dev_dbg lines need dynamic debug and are not printed).

virtio_mem_init prints the device's configuration once per probe (``start address``,
``region size``, ``device block size``, ``nid``), virtio_mem_init_hotplug how the driver
will (un)plug (``memory block size`` and either ``subblock size``, Sub Block Mode, or ``big
block size``, Big Block Mode); virtio_mem_refresh_config prints ``plugged size`` and
``requested size`` each time the device's config changes, i.e. once per resize request,
before the driver acts on it. Every other message (``adding memory failed: %d``, ``memory
block onlining denied``, ``unplugging all memory is required``, …) is kept as its text.
Value lines are printed without ``\\n``: their patterns stop after the number.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from harness.logparse.common import Append, JsonMixin, LineKind


class VirtioMemField(str, enum.Enum):
    """The ``struct virtio_mem`` field a configuration line prints."""

    ADDR = "addr"
    REGION_SIZE = "region_size"
    DEVICE_BLOCK_SIZE = "device_block_size"
    NID = "nid"
    MEMORY_BLOCK_SIZE = "memory_block_size"  # memory_block_size_bytes(), not a field
    SB_SIZE = "sbm.sb_size"
    BB_SIZE = "bbm.bb_size"
    PLUGGED_SIZE = "plugged_size"
    REQUESTED_SIZE = "requested_size"


_LABELS = {
    "start address": VirtioMemField.ADDR, "region size": VirtioMemField.REGION_SIZE,
    "device block size": VirtioMemField.DEVICE_BLOCK_SIZE, "nid": VirtioMemField.NID,
    "memory block size": VirtioMemField.MEMORY_BLOCK_SIZE, "subblock size": VirtioMemField.SB_SIZE,
    "big block size": VirtioMemField.BB_SIZE, "plugged size": VirtioMemField.PLUGGED_SIZE,
    "requested size": VirtioMemField.REQUESTED_SIZE,
}
_VALUE_RE = re.compile(rf"^(?P<label>{'|'.join(_LABELS)}): (?P<value>0x[0-9a-fA-F]+|-?\d+)")
VIRTIO_MEM_RE = re.compile(r"^virtio_mem (?P<device>virtio\d+): (?P<text>.*?)\s*$")


@dataclass(frozen=True)
class VirtioMemLine(JsonMixin):
    """One line of the driver: a configuration value (``field``/``value``) or a message."""

    line: int
    device: str
    text: str
    field: VirtioMemField | None = None
    value: int | None = None


def _build(match: re.Match[str], line: int) -> VirtioMemLine:
    text = match["text"]
    value = _VALUE_RE.match(text)
    if value is None:
        return VirtioMemLine(line, match["device"], text)
    return VirtioMemLine(line, match["device"], value.group(0), _LABELS[value["label"]], int(value["value"], 0))


@dataclass(frozen=True)
class VirtioMemRequest(JsonMixin):
    """One virtio_mem_refresh_config: what was plugged when the new request arrived."""

    line: int
    plugged_size: int
    requested_size: int


@dataclass(frozen=True)
class VirtioMemDevice(JsonMixin):
    """A device as its driver described it; None where its line was absent."""

    device: str
    addr: int | None
    region_size: int | None
    device_block_size: int | None
    nid: int | None
    memory_block_size: int | None
    sb_size: int | None
    bb_size: int | None
    requests: tuple[VirtioMemRequest, ...]
    messages: tuple[VirtioMemLine, ...]

    def quotes(self) -> tuple[str, ...]:
        """The driver's words for a verdict: its configuration, each request, each message."""
        config = [f"{label}: {value:#x}" if label != "nid" else f"nid: {value}"
                  for label, value in (("start address", self.addr), ("region size", self.region_size),
                                       ("device block size", self.device_block_size), ("nid", self.nid),
                                       ("subblock size", self.sb_size), ("big block size", self.bb_size))
                  if value is not None]
        out = [f"{self.device}: {', '.join(config)}"] if config else []
        out += [f"{self.device} line {r.line}: plugged size: {r.plugged_size:#x}, requested size: "
                f"{r.requested_size:#x}" for r in self.requests]
        out += [f"{self.device} line {m.line}: {m.text}" for m in self.messages]
        return tuple(out)

    @property
    def mode(self) -> str | None:
        """``SBM`` (subblocks inside Linux memory blocks) or ``BBM`` (whole big blocks)."""
        return "SBM" if self.sb_size is not None else "BBM" if self.bb_size is not None else None


def _requests(lines: list[VirtioMemLine]) -> tuple[VirtioMemRequest, ...]:
    """Pair each ``plugged size`` with the ``requested size`` printed right after it."""
    out: list[VirtioMemRequest] = []
    for first, second in zip(lines, lines[1:]):
        if first.field is VirtioMemField.PLUGGED_SIZE and second.field is VirtioMemField.REQUESTED_SIZE:
            assert first.value is not None and second.value is not None
            out.append(VirtioMemRequest(first.line, first.value, second.value))
    return tuple(out)


def virtio_mem_devices(lines: tuple[VirtioMemLine, ...]) -> tuple[VirtioMemDevice, ...]:
    """The devices of a log, in the order they first printed; a later value wins (a re-probe)."""
    by_device: dict[str, list[VirtioMemLine]] = {}
    for item in lines:
        by_device.setdefault(item.device, []).append(item)
    devices = []
    for name, items in by_device.items():
        values = {item.field: item.value for item in items if item.field is not None}
        devices.append(VirtioMemDevice(
            name, values.get(VirtioMemField.ADDR), values.get(VirtioMemField.REGION_SIZE),
            values.get(VirtioMemField.DEVICE_BLOCK_SIZE), values.get(VirtioMemField.NID),
            values.get(VirtioMemField.MEMORY_BLOCK_SIZE), values.get(VirtioMemField.SB_SIZE),
            values.get(VirtioMemField.BB_SIZE), _requests(items),
            tuple(item for item in items if item.field is None)))
    return tuple(devices)


KINDS: tuple[LineKind[object], ...] = (
    LineKind("virtio_mem", "virtio_mem virtio", VIRTIO_MEM_RE, _build, Append("virtio_mem")),
)
